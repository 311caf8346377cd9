/**
 * What the client does with Node's file system: uploads from file paths and Node streams, downloads to a
 * file. Browser bundles get `node_io.browser.ts` instead (package.json "browser" field), so no Node
 * built-in reaches a web page.
 */
import { mkdtemp, open, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

import type { DownloadSink, UploadSource } from './io';

export async function fileSource(path: string): Promise<UploadSource> {
    const handle = await open(path, 'r');
    const { size } = await handle.stat();
    return {
        size,
        name: basename(path),
        async read(offset, length) {
            const buffer = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
            let done = 0;
            while (done < buffer.length) {
                const { bytesRead } = await handle.read(buffer, done, buffer.length - done, offset + done);
                if (bytesRead === 0) throw new Error(`${path} shrank while it was being uploaded`);
                done += bytesRead;
            }
            return buffer;
        },
        close: () => handle.close()
    };
}

/**
 * A stream can be read only once, but the upload reads the content twice (hash, then send): it is spooled
 * to a temporary file first, so memory stays bounded whatever its length.
 */
export async function streamSource(stream: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): Promise<UploadSource> {
    const dir = await mkdtemp(join(tmpdir(), 'silo-spool-'));
    const path = join(dir, 'stream');
    const out = await open(path, 'w');
    try {
        const iterable = Symbol.asyncIterator in stream ? (stream as AsyncIterable<Uint8Array>) : readableToIterable(stream as ReadableStream<Uint8Array>);
        for await (const piece of iterable) await out.write(piece);
    } finally {
        await out.close();
    }
    const file = await fileSource(path);
    return {
        size: file.size,
        read: file.read,
        close: async () => {
            await file.close();
            await rm(dir, { recursive: true, force: true });
        }
    };
}

async function* readableToIterable(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
    const reader = stream.getReader();
    try {
        for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            yield value;
        }
    } finally {
        reader.releaseLock();
    }
}

/** Writes a file in order to a temporary name beside `path`, renamed into place only when verified. */
export async function fileSink(path: string): Promise<DownloadSink & { finish(ok: boolean): Promise<void> }> {
    const partial = join(dirname(path), `.${basename(path)}.${process.pid}.partial`);
    const handle = await open(partial, 'wx');
    return {
        write: async (bytes) => {
            for (let done = 0; done < bytes.length; ) done += (await handle.write(bytes, done, bytes.length - done)).bytesWritten;
        },
        finish: async (ok) => {
            await handle.close();
            if (ok) await rename(partial, path);
            else await rm(partial, { force: true });
        }
    };
}

/** `@dfinity/response-verification`'s checker (Node build, its Wasm loaded synchronously on first use). */
export type VerifyResponse = (typeof import('@dfinity/response-verification'))['verifyRequestResponsePair'];

export async function responseVerifier(): Promise<VerifyResponse | undefined> {
    const { createRequire } = await import('node:module');
    return (createRequire(import.meta.url)('@dfinity/response-verification') as typeof import('@dfinity/response-verification')).verifyRequestResponsePair;
}
