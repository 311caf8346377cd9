/**
 * Upload sources: bytes, Blobs/Files (browser), file paths and streams (Node). A source is read by
 * offset, a chunk at a time, so a file of any size never sits in memory whole.
 */
import { Sha256 } from '../shared/sha256';
import type { UploadSource } from './io';
import { fileSource, streamSource } from './node_io';

export type { UploadSource } from './io';

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
