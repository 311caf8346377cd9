/**
 * Upload sources: bytes, Blobs/Files (browser), file paths and streams (Node). A source is read by
 * offset, a chunk at a time, so a file of any size never sits in memory whole.
 */
import { Sha256 } from '../shared/sha256';

/** Something to upload, read a piece at a time. */
export interface UploadSource {
    /** Total size in bytes. */
    readonly size: number;
    /** Reads exactly `length` bytes at `offset` (fewer only at the end). */
    read(offset: number, length: number): Promise<Uint8Array>;
    /** Releases what the source holds (open files, spooled copies). */
    close(): Promise<void>;
    /** A name to record when none is given (a file's base name). */
    readonly name?: string;
}

/** What `upload` and `resume` accept: bytes, a Blob or File, a file path, or a stream of bytes. */
export type SourceInput = Uint8Array | Blob | string | AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

export function bytesSource(input: Uint8Array): UploadSource {
    // A plain view of the caller's bytes (no copy): a Buffer's or a subclass's methods never come into play.
    const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    return {
        size: bytes.length,
        read: async (offset, length) => bytes.subarray(offset, offset + length),
        close: async () => {}
    };
}

export function blobSource(blob: Blob): UploadSource {
    return {
        size: blob.size,
        name: (blob as { name?: string }).name,
        read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
        close: async () => {}
    };
}

export async function fileSource(path: string): Promise<UploadSource> {
    const { open } = await import('node:fs/promises');
    const { basename } = await import('node:path');
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
    const { mkdtemp, rm, open } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
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

export async function toSource(input: SourceInput): Promise<UploadSource> {
    if (input instanceof Uint8Array) return bytesSource(input);
    if (typeof input === 'string') return fileSource(input);
    if (typeof Blob !== 'undefined' && input instanceof Blob) return blobSource(input);
    return streamSource(input as AsyncIterable<Uint8Array>);
}

/**
 * Reads the source once, in chunk order, for its SHA-256 and the chaining value after each full chunk.
 * `onChunk` sees each chunk's index and the bytes hashed so far. Hashing a large in-memory source is
 * synchronous work: the event loop gets a turn every {@link YIELD_EVERY_MS}, so timers and abort signals
 * keep working.
 */
export async function hashSource(source: UploadSource, chunkSize: number, signal?: AbortSignal, onChunk?: (index: number, bytesDone: number) => void): Promise<{ sha256: Uint8Array; checkpoints: Uint8Array[] }> {
    const hasher = new Sha256();
    const checkpoints: Uint8Array[] = [];
    let turn = Date.now();
    for (let offset = 0, index = 0; offset < source.size; offset += chunkSize, index++) {
        signal?.throwIfAborted();
        const chunk = await source.read(offset, chunkSize);
        for (let at = 0; at < chunk.length; at += HASH_STEP_BYTES) {
            if (Date.now() - turn >= YIELD_EVERY_MS) {
                await nextTurn();
                turn = Date.now();
                signal?.throwIfAborted();
            }
            hasher.update(chunk.subarray(at, at + HASH_STEP_BYTES));
        }
        if (chunk.length === chunkSize) checkpoints.push(hasher.checkpoint());
        onChunk?.(index, offset + chunk.length);
    }
    return { sha256: hasher.digest(), checkpoints };
}

/** Bytes hashed between checks of the clock (a few ms of work). */
const HASH_STEP_BYTES = 64 * 1024;

/** Longest stretch of synchronous work between turns of the event loop. */
export const YIELD_EVERY_MS = 50;

/** Resolves on a later turn of the event loop (after timers and I/O), in Node and in browsers. */
export function nextTurn(): Promise<void> {
    return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}
