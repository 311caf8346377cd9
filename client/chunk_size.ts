/**
 * The one chunk-size rule of the library and the `silo` command, checked before any content is read: a
 * multiple of 64 bytes (SHA-256 blocks, so the chaining state can be checkpointed after each chunk), from
 * 64 to {@link MAX_CHUNK_SIZE}, and at least the index's `min_chunk_size` unless the upload is a single
 * chunk. The index enforces the same rule in `begin_upload`.
 */
import { MAX_CHUNK_SIZE } from '../shared/constants';

/** The rule in words, for messages and help. */
export const CHUNK_SIZE_RULE = `a multiple of 64 from 64 to ${MAX_CHUNK_SIZE} bytes`;

/**
 * What is wrong with `chunkSize`, or null. `size` (the upload's bytes, when known) and `minChunkSize`
 * (the index's `min_chunk_size`, when known) add the minimum; an upload of at most one chunk is exempt.
 */
export function chunkSizeProblem(chunkSize: number, options: { size?: number; minChunkSize?: number } = {}): string | null {
    if (!Number.isInteger(chunkSize) || chunkSize < 64 || chunkSize > MAX_CHUNK_SIZE || chunkSize % 64 !== 0) {
        return `chunk size must be ${CHUNK_SIZE_RULE}, got ${chunkSize}`;
    }
    const { size, minChunkSize } = options;
    if (minChunkSize !== undefined && chunkSize < minChunkSize && (size === undefined || size > chunkSize)) {
        const which = size === undefined ? 'an upload of unknown size' : `an upload of ${size} bytes (more than one chunk)`;
        return `chunk size must be at least ${minChunkSize} bytes (the index's min_chunk_size) for ${which}, got ${chunkSize}`;
    }
    return null;
}
