/**
 * Response certification of committed assets (HTTP gateway protocol v2, response-only), free of Azle.
 *
 * An asset's responses — the 206 of each chunk (and the 200 of a one-chunk file), its 304, 416, 403s,
 * 404, 405 and 204 — are certified once it commits: each chunk's response hash is computed from the
 * chunk's SHA-256 as it was read back from stable memory during the upload's verification (`digests`),
 * and added to the asset's Merkle map; when all are in, the asset is published under `/a/<id>` in one
 * path of the ids' map. Until then `/a/<id>` answers the certified 503 of `/a/<*>`. A commit certifies
 * what a bounded step allows at once (small files are served from the commit on) and leaves the rest to
 * a timer (`step`), a bounded batch per message; so does the backfill of assets committed before this
 * module (a scan of the metadata map, a page per message). Deleting an asset unpublishes it in the
 * message that starts the deletion; its map's nodes go in batches with its chunks.
 *
 * A chunk whose digest is missing (assets verified before digests were kept, or by the in-canister
 * fallback) is read back and hashed here, within a byte budget per message.
 */
import { type Target, HttpCertification, responseHash } from '../../shared/certification/http';
import { expectedChunkLength } from '../../shared/constants';
import { readU32, writeU32 } from '../../shared/stable';
import { absorbBlocks, decodeState, encodeState, finalize, initialState, SHA256_BLOCK_BYTES, sha256 } from '../../shared/sha256';
import { visitChunk } from './logic';
import { assetExtras, chunkVariants, globalResponses, type Response, type ServedAssetInfo, wildcardResponses } from './responses';
import type { BucketState } from './state';

/** What one message may spend on certification: chunks certified, and bytes hashed in the canister. */
export interface Budget {
    chunks: number;
    bytes: number;
}

/** At commit: a file of up to 16 chunks (and 256 KiB hashed here, if digests are missing) is served at once. */
export const COMMIT_BUDGET: Budget = { chunks: 16, bytes: 256 * 1024 };
/**
 * A timer message: ~130 chunks a second at ~20 M instructions each; 512 KiB hashed here is ~4.5 B
 * instructions, so a message that hashes stays under the index's own hash slices (1 MiB).
 */
export const STEP_BUDGET: Budget = { chunks: 128, bytes: 512 * 1024 };
/** Assets the backfill scan examines per message. */
export const SCAN_PAGE = 200;
/** The certJobs key holding the backfill scan's position (u32) — no asset id reaches it. */
const SCAN_KEY = (1n << 64n) - 1n;

export const certification = (state: BucketState): HttpCertification => new HttpCertification(state.certNodes);

const hashOf = (r: Response, bodyHash: Uint8Array): Uint8Array => responseHash(r.status, r.headers, bodyHash);

/** Certifies the fixed response sets; at install and after every upgrade. Returns the certified data. */
export function setUpCertification(state: BucketState): Uint8Array {
    const cert = certification(state);
    cert.setFixed(
        globalResponses().map((r) => hashOf(r, sha256(r.body))),
        wildcardResponses().map((r) => hashOf(r, sha256(r.body)))
    );
    return cert.rootHash();
}

/** Starts the backfill of assets committed before certification existed (first upgrade to this module). */
export function startBackfill(state: BucketState): void {
    if (!state.certJobs.containsKey(SCAN_KEY) && state.assets.len() !== 0 && certification(state).assets.size() <= 1) {
        state.certJobs.insert(SCAN_KEY, u32(0));
    }
}

function u32(value: number): Uint8Array {
    const out = new Uint8Array(4);
    writeU32(out, 0, value);
    return out;
}

export function assetInfo(state: BucketState, id: bigint): ServedAssetInfo | null {
    const session = state.sessions.get(id);
    if (session === undefined || !('committed' in session.state)) return null;
    const meta = state.assets.get(id);
    if (meta === undefined) return null;
    return { id, session, meta, size: Number(session.size), public: 'public' in session.visibility };
}

/** A chunk hashed here in part: bytes [0, offset) absorbed into `state` (whole SHA-256 blocks). */
interface PartialDigest {
    offset: number;
    state: Uint8Array;
}

/**
 * SHA-256 of chunk `index` as stored: the digest kept from its verification, else read back and hashed
 * here within the budget's bytes — a large chunk over several messages (a 1.9 MiB chunk at ~8,600
 * instructions a byte would be ~17 B instructions in one), its partial state kept with the job.
 */
function chunkDigest(state: BucketState, id: bigint, index: number, length: number, budget: Budget, partial: PartialDigest | undefined): Uint8Array | PartialDigest {
    const kept = state.digests.get([id, index]);
    if (kept !== undefined) return kept;
    let hashState = partial === undefined ? initialState() : decodeState(partial.state);
    let offset = partial?.offset ?? 0;
    // Whole blocks only until the chunk's end; at least one block, so every message makes progress.
    const allowed = Math.max(SHA256_BLOCK_BYTES, budget.bytes - (budget.bytes % SHA256_BLOCK_BYTES));
    const end = Math.min(length, offset + allowed);
    let tail = new Uint8Array(0);
    visitChunk(state, id, index, offset, end, (bytes) => {
        const blocks = end < length ? bytes.length : bytes.length - (bytes.length % SHA256_BLOCK_BYTES);
        hashState = absorbBlocks(hashState, bytes.subarray(0, blocks));
        if (blocks < bytes.length) tail = bytes.slice(blocks);
    });
    budget.bytes -= end - offset;
    offset = end;
    if (offset < length) return { offset, state: encodeState(hashState) };
    const digest = finalize(hashState, tail);
    state.digests.insert([id, index], digest);
    return digest;
}

/** A job: the next chunk to certify, and that chunk's partial digest when it is being hashed here. */
function readJob(job: Uint8Array | undefined): { next: number; partial?: PartialDigest } {
    if (job === undefined) return { next: 0 };
    if (job.length === 4) return { next: readU32(job, 0) };
    return { next: readU32(job, 0), partial: { offset: readU32(job, 4), state: job.slice(8) } };
}

function writeJob(next: number, partial?: PartialDigest): Uint8Array {
    if (partial === undefined) return u32(next);
    const out = new Uint8Array(8 + partial.state.length);
    writeU32(out, 0, next);
    writeU32(out, 4, partial.offset);
    out.set(partial.state, 8);
    return out;
}

/**
 * Certifies as much of an asset as the budget allows, publishing it when done. 'gone' when the asset is
 * not (or no longer) committed with metadata: nothing to certify.
 */
export function certifyAsset(state: BucketState, id: bigint, budget: Budget): 'done' | 'pending' | 'gone' {
    const cert = certification(state);
    const asset = assetInfo(state, id);
    if (asset === null) {
        state.certJobs.remove(id);
        return 'gone';
    }
    if (cert.isPublished(id)) {
        state.certJobs.remove(id);
        return 'done';
    }
    let { next, partial } = readJob(state.certJobs.get(id));
    while (next < asset.session.chunk_count && budget.chunks > 0 && budget.bytes > 0) {
        const digest = chunkDigest(state, id, next, expectedChunkLength(asset.session, next), budget, partial);
        if (!(digest instanceof Uint8Array)) {
            partial = digest;
            break;
        }
        partial = undefined;
        for (const r of chunkVariants(asset, next)) cert.addResponse(id, hashOf(r, digest));
        next++;
        budget.chunks--;
    }
    if (next < asset.session.chunk_count) {
        state.certJobs.insert(id, writeJob(next, partial));
        return 'pending';
    }
    for (const r of assetExtras(asset)) cert.addResponse(id, hashOf(r, sha256(r.body)));
    cert.publish(id);
    state.certJobs.remove(id);
    return 'done';
}

/** After a commit or the arrival of an asset's metadata: certify what fits now, queue the rest. */
export function certifyNow(state: BucketState, id: bigint, budget: Budget = { ...COMMIT_BUDGET }): 'done' | 'pending' | 'gone' {
    return certifyAsset(state, id, budget);
}

/** One timer message's work: the backfill scan's next page, then queued assets. True while work is left. */
export function step(state: BucketState, budget: Budget = { ...STEP_BUDGET }): boolean {
    const scan = state.certJobs.get(SCAN_KEY);
    if (scan !== undefined) {
        const from = readU32(scan, 0);
        const page = state.assets.keys(from, SCAN_PAGE);
        const cert = certification(state);
        for (const id of page) if (!cert.isPublished(id) && !state.certJobs.containsKey(id)) state.certJobs.insert(id, u32(0));
        if (page.length < SCAN_PAGE) state.certJobs.remove(SCAN_KEY);
        else state.certJobs.insert(SCAN_KEY, u32(from + page.length));
    }
    for (const id of state.certJobs.keys(0, 16)) {
        if (id === SCAN_KEY) continue;
        if (budget.chunks <= 0 || budget.bytes <= 0) break;
        certifyAsset(state, id, budget);
    }
    return pending(state);
}

export function pending(state: BucketState): boolean {
    return Number(state.certJobs.len()) > 0;
}

/** The asset's deletion starts: it leaves the certified tree now (one path). */
export function unpublish(state: BucketState, id: bigint): void {
    certification(state).unpublish(id);
    state.certJobs.remove(id);
}

/** Removes up to `budget` nodes of a deleted asset's response map; returns how many are left. */
export function destroyResponses(state: BucketState, id: bigint, budget: number): number {
    return certification(state).destroy(id, budget);
}

export function isPublished(state: BucketState, id: bigint): boolean {
    return certification(state).isPublished(id);
}

export type { Target };
