/**
 * The browser's stand-in for `node_io.ts` (chosen by package.json's "browser" field): a web page has no
 * file paths or Node streams, so these say what to pass instead.
 */
import { InvalidArgumentError } from './errors';
import type { UploadSource } from './io';

const browserOnly = (what: string): InvalidArgumentError =>
    new InvalidArgumentError(`${what} needs Node.js; in a browser, upload a File, Blob or Uint8Array and download to memory.`);

export async function fileSource(_path: string): Promise<UploadSource> {
    throw browserOnly('Uploading from a file path');
}

export async function streamSource(_stream: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): Promise<UploadSource> {
    throw browserOnly('Uploading from a stream');
}

export async function fileSink(_path: string): Promise<never> {
    throw browserOnly('Downloading to a file path');
}

/**
 * No verifier in browser bundles yet: the package's web build needs its Wasm fetched and initialised
 * first. Downloads in a page fall back to the whole-file SHA-256 check.
 */
export async function responseVerifier(): Promise<undefined> {
    return undefined;
}
