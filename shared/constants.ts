/** Numbers the canisters and the client agree on. */
import { SHA256_BLOCK_BYTES } from './sha256';

/** SHA-256 works on 64-byte blocks; chunk boundaries fall on block boundaries so checkpoints exist. */
export { SHA256_BLOCK_BYTES };

/**
 * Largest chunk: 1.9 MiB rounded down to a whole number of SHA-256 blocks. It leaves room for the
 * Candid envelope of `put_chunk` under the IC's 2 MiB ingress limit.
 */
export const MAX_CHUNK_SIZE = Math.floor((1.9 * 1024 * 1024) / SHA256_BLOCK_BYTES) * SHA256_BLOCK_BYTES;

/**
 * Bytes of a chunk the bucket reads back and hashes per message during finish_upload (0 = whole chunks).
 * Measured with the replica's IC metering (`npm run bench`): `shared/sha256.ts` costs ~8,600 Wasm
 * instructions per byte in a canister, so a whole 1.9 MiB chunk would take ~17 B instructions in one
 * message. 1 MiB slices take ~9.1 B, under the 10 B per message Silo allows itself (a quarter of the IC's
 * 40 B limit, with room for slower hashing), in two messages per chunk.
 */
export const DEFAULT_HASH_SLICE_BYTES = 1024 * 1024;

/** Largest piece of a bucket module `admin_put_bucket_wasm` takes: the module arrives in pieces this size. */
export const WASM_PIECE_BYTES = 1024 * 1024;

/** Chunks in an upload of `size` bytes cut into `chunkSize`-byte chunks. */
export function chunkCount(size: bigint, chunkSize: number): number {
    return Number((size + BigInt(chunkSize) - 1n) / BigInt(chunkSize));
}

/** Length of chunk `index` of an upload: `chunk_size`, or what is left for the last one. */
export function expectedChunkLength(upload: { size: bigint; chunk_size: number; chunk_count: number }, index: number): number {
    if (index < upload.chunk_count - 1) return upload.chunk_size;
    return Number(upload.size - BigInt(upload.chunk_size) * BigInt(upload.chunk_count - 1));
}

/**
 * Smallest chunk (64 KiB) an upload of more than one chunk may use by default (config `min_chunk_size`):
 * each chunk costs the index a readback call during finish_upload and the bucket a presence bit, so tiny
 * chunks would multiply both for the same bytes.
 */
export const DEFAULT_MIN_CHUNK_SIZE = 64 * 1024;

/**
 * Most chunks one upload may have (2^20): 1 TiB in chunks of the client's default size is ~552,000.
 * Bounds the bucket's presence pages, upload_status and the readback calls of one session.
 */
export const MAX_CHUNK_COUNT = 1 << 20;

/** Chunk size the client uses unless told otherwise. */
export const DEFAULT_CHUNK_SIZE = MAX_CHUNK_SIZE;

/** The longest name and content type an asset may have, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 1024;
export const MAX_CONTENT_TYPE_BYTES = 256;

/** The largest asset Silo accepts (1 TiB); chunk counts stay well inside a nat32. */
export const MAX_ASSET_SIZE = 1n << 40n;

export const NANOS_PER_SECOND = 1_000_000_000n;

/** Sessions with no progress for this long expire (24 h). */
export const DEFAULT_SESSION_TTL_NS = 24n * 3600n * NANOS_PER_SECOND;

/** Bytes one owner may hold, committed plus reserved (1 TiB by default). */
export const DEFAULT_QUOTA_BYTES = 1n << 40n;

/** Bytes a bucket created by the index may hold. Stable memory allows 500 GiB; keep a wide margin. */
export const DEFAULT_BUCKET_CAPACITY_BYTES = 300n * (1n << 30n);

/** A bucket is marked full once committed plus reserved bytes pass this share of its capacity. */
export const DEFAULT_FULL_THRESHOLD_PERCENT = 95;

/** Cycles the index gives a bucket it creates. */
export const DEFAULT_BUCKET_CYCLES = 3_000_000_000_000n;

/** How often the index sweeps expired sessions and retries queued bucket work. */
export const DEFAULT_SWEEP_INTERVAL_SECONDS = 60;

/**
 * Largest page `list_assets` returns. Reading and encoding an asset record costs a query ~13-16 M
 * instructions (bench `scaling`), so 100 of them stay well inside the IC's 5 B query limit.
 */
export const MAX_LIST_LIMIT = 100;

/** Chunks a bucket deletes per message when an asset or session is removed. */
export const DELETE_BATCH_CHUNKS = 64;

/** Versions of the stable memory layouts; a canister refuses to start on a layout it does not know. */
export const INDEX_LAYOUT_VERSION = 2;
export const BUCKET_LAYOUT_VERSION = 4;
