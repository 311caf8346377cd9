/**
 * The browser's stand-in for `node_io.ts` (chosen by package.json's "browser" field): a web page has no
 * file paths or Node streams, so these say what to pass instead.
 */
import { InvalidArgumentError } from './errors';
import type { UploadSource } from './io';
import type { VerifyResponse } from './node_io';

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
 * The verifier of `@dfinity/response-verification`'s web build, once its Wasm (`web_bg.wasm`, fetched
 * next to the script that bundles this module: a bundler that understands `new URL(…, import.meta.url)`
 * emits it; the web app's build copies it into web/dist) is compiled and initialised. The page needs
 * `'wasm-unsafe-eval'` in its CSP's script-src and the file served as `application/wasm`. When the Wasm
 * cannot be loaded, undefined: downloads fall back to the whole-file SHA-256 check.
 */
export function responseVerifier(): Promise<VerifyResponse | undefined> {
    verifier ??= import('@dfinity/response-verification')
        .then(async (module) => {
            await module.default();
            return module.verifyRequestResponsePair;
        })
        .catch(() => undefined);
    return verifier;
}

let verifier: Promise<VerifyResponse | undefined> | undefined;
