/**
 * The bucket's logic, free of Azle: every function takes the state and the caller's environment and
 * returns a `Result`. The decorated methods in main.ts only check who calls and delegate here.
 */
import { Principal } from '@dfinity/principal';

import { BUCKET_LAYOUT_VERSION, DELETE_BATCH_CHUNKS, expectedChunkLength, MAX_CHUNK_COUNT, SHA256_BLOCK_BYTES } from '../../shared/constants';
import { absorbBlocks, decodeState, encodeState, type Sha256State } from '../../shared/sha256';
import { checkLayoutVersion, readU64, writeLayoutVersion, writeU64 } from '../../shared/stable';
import type {
    BucketStats,
    CommitSessionArgs,
    DeleteProgress,
    HashChunkArgs,
    HashChunkResult,
    OpenSessionArgs,
    Result,
    SessionActivity,
    SiloError,
    UploadStatus
} from '../../shared/types';
import { hasChunk, missingChunks, receivedChunks, scanChunks, setChunk } from './presence';
import { type BucketSession, type BucketState, type Env, MetaKey } from './state';

const ok = <T>(value: T): Result<T> => ({ Ok: value });
const err = <T>(error: SiloError): Result<T> => ({ Err: error });

export function stateName(session: BucketSession): string {
    return Object.keys(session.state)[0];
}

// ------------------------------------------------------------------ set-up and layout

/** Records the layout version and the index on first install. */
export function initialize(state: BucketState, index: Principal): void {
    writeLayoutVersion(state.meta, MetaKey.layoutVersion, BUCKET_LAYOUT_VERSION);
    state.meta.insert(MetaKey.index, index.toUint8Array());
}

/**
 * After an upgrade: a reason to refuse to start on an unknown stable memory layout, or null. Older
 * layouts are taken over as they are: v1 chunks (whole values) stay readable where they are, v2 sessions
 * keep their bitmap in the record (presence.ts reads it). Both lacked the running totals, which are
 * counted here once, over the sessions.
 */
export function checkLayout(state: BucketState): string | null {
    if (checkLayoutVersion(state.meta, MetaKey.layoutVersion, 3, 'bucket') === null) writeLayoutVersion(state.meta, MetaKey.layoutVersion, BUCKET_LAYOUT_VERSION);
    for (const old of [1, 2]) {
        if (checkLayoutVersion(state.meta, MetaKey.layoutVersion, old, 'bucket') !== null) continue;
        let bytes = 0n;
        let chunks = 0n;
        for (const [, session] of state.sessions.items()) {
            bytes += session.received_bytes;
            chunks += BigInt(session.received_count);
        }
        setCounter(state, MetaKey.storedBytes, bytes);
        setCounter(state, MetaKey.storedChunks, chunks);
        writeLayoutVersion(state.meta, MetaKey.layoutVersion, BUCKET_LAYOUT_VERSION);
    }
    return checkLayoutVersion(state.meta, MetaKey.layoutVersion, BUCKET_LAYOUT_VERSION, 'bucket');
}

function counter(state: BucketState, key: number): bigint {
    const bytes = state.meta.get(key);
    return bytes === undefined ? 0n : readU64(bytes, 0);
}

function setCounter(state: BucketState, key: number, value: bigint): void {
    const bytes = new Uint8Array(8);
    writeU64(bytes, 0, value);
    state.meta.insert(key, bytes);
}

/** Adds a chunk of `length` bytes to the totals (or takes one off, with `sign` -1). */
function count(state: BucketState, length: number, sign: 1n | -1n): void {
    setCounter(state, MetaKey.storedBytes, counter(state, MetaKey.storedBytes) + sign * BigInt(length));
    setCounter(state, MetaKey.storedChunks, counter(state, MetaKey.storedChunks) + sign);
}

/** An upgrade must name the bucket's own index: a bucket never changes hands. */
export function checkIndex(state: BucketState, index: Principal): string | null {
    const current = indexPrincipal(state).toText();
    return current === index.toText() ? null : `this bucket belongs to index ${current}, not ${index.toText()}; refusing to change it in an upgrade`;
}

export function indexPrincipal(state: BucketState): Principal {
    const bytes = state.meta.get(MetaKey.index);
    if (bytes === undefined) throw new Error('bucket has no index recorded: it was not initialized');
    return Principal.fromUint8Array(bytes);
}

// ------------------------------------------------------------------ chunk storage

/**
 * Chunks are stored in pieces of this many bytes (the last one may be shorter). Inserting into a
 * StableBTreeMap rewrites the whole node it lands in, values included, so with one value per chunk every
 * put copied up to eleven 1.9 MB chunks through the heap (and grew it to ~50 MiB); with pieces a put
 * copies at most eleven pieces at a time. A multiple of the SHA-256 block, so hashing can go piece by piece.
 */
export const PIECE_BYTES = 64 * 1024;

/** Stores a chunk, replacing one of the same length stored before under the same key. */
export function writeChunk(state: BucketState, id: bigint, index: number, bytes: Uint8Array, pieceBytes = PIECE_BYTES): void {
    for (let piece = 0, at = 0; at < bytes.length; piece++, at += pieceBytes) {
        state.pieces.insert([id, index, piece], bytes.subarray(at, at + pieceBytes));
    }
    // A v1 copy of the chunk (possible only in a session open across the layout upgrade) is superseded,
    // and so is the digest of the bytes this replaces.
    state.chunks.remove([id, index]);
    state.digests.remove([id, index]);
}

/**
 * Calls `visit` with the bytes [from, to) of a stored chunk, in order, a piece or less at a time. A
 * missing piece breaks an invariant (the session's bitmap says the chunk is there) and traps.
 */
export function visitChunk(state: BucketState, id: bigint, index: number, from: number, to: number, visit: (bytes: Uint8Array) => void, pieceBytes = PIECE_BYTES): void {
    const whole = state.chunks.get([id, index]);
    if (whole !== undefined) {
        visit(whole.subarray(from, to));
        return;
    }
    for (let piece = Math.floor(from / pieceBytes), at = piece * pieceBytes; at < to; piece++, at += pieceBytes) {
        const bytes = state.pieces.get([id, index, piece]);
        if (bytes === undefined) throw new Error(`invariant broken: chunk ${index} of ${id} has no piece ${piece}`);
        visit(bytes.subarray(Math.max(from - at, 0), Math.min(to - at, bytes.length)));
    }
}

/** The bytes [from, to) of a stored chunk, as one array. */
export function readChunk(state: BucketState, id: bigint, index: number, from: number, to: number, pieceBytes = PIECE_BYTES): Uint8Array {
    const out = new Uint8Array(to - from);
    let at = 0;
    visitChunk(state, id, index, from, to, (bytes) => {
        out.set(bytes, at);
        at += bytes.length;
    }, pieceBytes);
    return out;
}

/** Deletes a stored chunk of `length` bytes. */
export function removeChunk(state: BucketState, id: bigint, index: number, length: number, pieceBytes = PIECE_BYTES): void {
    for (let piece = 0; piece * pieceBytes < length; piece++) state.pieces.remove([id, index, piece]);
    state.chunks.remove([id, index]);
}

// ------------------------------------------------------------------ chunk presence

/** Deletes a chunk the session holds and takes it off the session's count (the caller saves the session). */
export function dropChunkOf(state: BucketState, session: BucketSession, index: number): void {
    const length = expectedChunkLength(session, index);
    removeChunk(state, session.session_id, index, length);
    state.digests.remove([session.session_id, index]);
    setChunk(state, session, index, false);
    session.received_count -= 1;
    session.received_bytes -= BigInt(length);
    count(state, length, -1n);
}

// ------------------------------------------------------------------ index-only (c2c) operations

export function openSession(state: BucketState, env: Env, args: OpenSessionArgs): Result<null> {
    const existing = state.sessions.get(args.session_id);
    if (existing !== undefined) {
        // Registering the same session twice (a retried call) is harmless; a different one is not.
        const same = existing.owner.toText() === args.owner.toText() && existing.size === args.size && existing.chunk_size === args.chunk_size;
        return same ? ok(null) : err({ InvalidArgument: `session ${args.session_id} is already registered with other parameters` });
    }
    if (args.chunk_count === 0 && args.size !== 0n) return err({ InvalidArgument: 'a non-empty upload needs at least one chunk' });
    if (args.chunk_count > MAX_CHUNK_COUNT) return err({ LimitExceeded: { what: 'chunks per upload', limit: BigInt(MAX_CHUNK_COUNT), requested: BigInt(args.chunk_count) } });
    state.sessions.insert(args.session_id, {
        session_id: args.session_id,
        owner: args.owner,
        size: args.size,
        chunk_size: args.chunk_size,
        chunk_count: args.chunk_count,
        visibility: args.visibility,
        state: { open: null },
        received: new Uint8Array(0),
        received_count: 0,
        received_bytes: 0n,
        frozen_below: 0,
        last_activity: env.now,
        delete_from: []
    });
    return ok(null);
}

/**
 * Closes the session to writes once every chunk is present. Sealing a sealed session is a no-op, unless
 * verification dropped a chunk from it (the verifier's path drops a bad chunk while sealed) and the
 * index's re-open never arrived, the bucket having been stopped: then the session is re-opened here, as
 * that call would have, and the missing chunks named, so the client can send them again.
 */
export function sealSession(state: BucketState, sessionId: bigint): Result<null> {
    const session = state.sessions.get(sessionId);
    if (session === undefined) return err({ SessionNotFound: sessionId });
    if ('committed' in session.state) return ok(null);
    if ('sealed' in session.state) {
        if (session.received_count === session.chunk_count) return ok(null);
        session.state = { open: null };
        state.sessions.insert(sessionId, session);
        return err({ MissingChunks: missingChunks(state, session) });
    }
    if (!('open' in session.state)) return err({ SessionClosed: { session_id: sessionId, state: stateName(session) } });
    if (session.received_count !== session.chunk_count) return err({ MissingChunks: missingChunks(state, session) });
    session.state = { sealed: null };
    state.sessions.insert(sessionId, session);
    return ok(null);
}

/**
 * Re-opens a sealed session after verification failed at chunk `from`: chunks before it are verified and
 * stay frozen; chunk `from` is dropped so it must be sent again (when `dropChunk`), the rest may be
 * replaced.
 */
export function reopenSession(state: BucketState, sessionId: bigint, from: number, dropChunk: boolean): Result<null> {
    const session = state.sessions.get(sessionId);
    if (session === undefined) return err({ SessionNotFound: sessionId });
    if (!('sealed' in session.state) && !('open' in session.state)) return err({ SessionClosed: { session_id: sessionId, state: stateName(session) } });
    if (from > session.chunk_count) return err({ ChunkOutOfRange: { index: from, chunk_count: session.chunk_count } });
    session.state = { open: null };
    session.frozen_below = from;
    if (dropChunk && from < session.chunk_count && hasChunk(state, session, from)) dropChunkOf(state, session, from);
    state.sessions.insert(sessionId, session);
    return ok(null);
}

/**
 * Reads a part of a sealed chunk back from stable memory and advances the SHA-256 state the index
 * passed in. Only the final part of the final chunk may leave a partial block, returned as `tail`.
 */
export function hashChunk(state: BucketState, args: HashChunkArgs): Result<HashChunkResult> {
    const session = state.sessions.get(args.session_id);
    if (session === undefined) return err({ SessionNotFound: args.session_id });
    if (!('sealed' in session.state)) return err({ SessionClosed: { session_id: args.session_id, state: stateName(session) } });
    if (args.index >= session.chunk_count) return err({ ChunkOutOfRange: { index: args.index, chunk_count: session.chunk_count } });
    if (!hasChunk(state, session, args.index)) return err({ MissingChunks: missingChunks(state, session) });
    const length = expectedChunkLength(session, args.index);
    const end = args.length === 0 ? length : args.offset + args.length;
    if (args.offset % SHA256_BLOCK_BYTES !== 0 || end > length || args.offset > end) {
        return err({ InvalidArgument: `cannot hash bytes ${args.offset}..${end} of chunk ${args.index} (length ${length})` });
    }
    const isFinalPart = args.index === session.chunk_count - 1 && end === length;
    if ((end - args.offset) % SHA256_BLOCK_BYTES !== 0 && !isFinalPart) return err({ InvalidArgument: 'only the final part of the final chunk may end inside a SHA-256 block' });
    let hashState: Sha256State;
    try {
        hashState = decodeState(args.state);
    } catch (error) {
        return err({ InvalidArgument: `bad hash state: ${(error as Error).message}` });
    }
    // Parts start at whole SHA-256 blocks (pieces are whole blocks), so only the last one can leave a tail.
    let tail = new Uint8Array(0);
    visitChunk(state, args.session_id, args.index, args.offset, end, (bytes) => {
        const blocks = bytes.length - (bytes.length % SHA256_BLOCK_BYTES);
        hashState = absorbBlocks(hashState, bytes.subarray(0, blocks));
        if (blocks < bytes.length) tail = bytes.slice(blocks);
    });
    return ok({ state: encodeState(hashState), tail });
}

/** The index committed the asset: chunks now belong to it and are readable as its visibility allows. */
export function commitSession(state: BucketState, args: CommitSessionArgs): Result<null> {
    const session = state.sessions.get(args.session_id);
    if (session === undefined) return err({ SessionNotFound: args.session_id });
    if ('committed' in session.state) return ok(null);
    if (!('sealed' in session.state)) return err({ SessionClosed: { session_id: args.session_id, state: stateName(session) } });
    session.state = { committed: null };
    session.owner = args.owner;
    session.visibility = args.visibility;
    state.sessions.insert(args.session_id, session);
    return ok(null);
}

/** Presence pages `deleteChunks` reads per call at most (each covers 8,192 chunks). */
export const DELETE_SCAN_PAGES = 16;

/**
 * Deletes a session's or asset's chunks, a batch per call so no message grows with the asset: at most
 * `batch` chunks and `DELETE_SCAN_PAGES` presence pages, continuing where the previous call stopped. The
 * index calls again while `remaining` is not zero. Unknown ids are already deleted.
 */
export function deleteChunks(state: BucketState, id: bigint, batch = DELETE_BATCH_CHUNKS): Result<DeleteProgress> {
    const session = state.sessions.get(id);
    if (session === undefined) return ok({ remaining: 0 });
    // From the first call on, the chunks are unreadable and unwritable.
    session.state = { deleting: null };
    let removed = 0;
    const from = session.delete_from[0] ?? 0;
    const next = scanChunks(state, session, from, DELETE_SCAN_PAGES, (index) => {
        dropChunkOf(state, session, index);
        return ++removed < batch;
    });
    if (session.received_count === 0) {
        state.sessions.remove(id);
        return ok({ remaining: 0 });
    }
    if (next >= session.chunk_count) throw new Error(`invariant broken: session ${id} counts ${session.received_count} chunks its pages do not hold`);
    session.delete_from = [next];
    state.sessions.insert(id, session);
    return ok({ remaining: session.received_count });
}

/** Candid gives `ids` as a BigUint64Array, whose map() would build another typed array: Array.from. */
export function sessionActivity(state: BucketState, ids: ArrayLike<bigint>): SessionActivity[] {
    return Array.from(ids, (id) => {
        const session = state.sessions.get(id);
        return { session_id: id, last_activity: session === undefined ? [] : [session.last_activity] };
    });
}

// ------------------------------------------------------------------ client operations

export function putChunk(state: BucketState, env: Env, sessionId: bigint, index: number, bytes: Uint8Array): Result<null> {
    const session = state.sessions.get(sessionId);
    if (session === undefined) return err({ SessionNotFound: sessionId });
    if (session.owner.toText() !== env.caller.toText()) return err({ Unauthorized: `only the owner of session ${sessionId} may upload its chunks` });
    if (!('open' in session.state)) return err({ SessionClosed: { session_id: sessionId, state: stateName(session) } });
    if (index >= session.chunk_count) return err({ ChunkOutOfRange: { index, chunk_count: session.chunk_count } });
    if (index < session.frozen_below) {
        return err({ SessionClosed: { session_id: sessionId, state: `chunk ${index} is verified and can no longer change` } });
    }
    const expected = expectedChunkLength(session, index);
    if (bytes.length !== expected) return err({ WrongChunkLength: { index, expected, actual: bytes.length } });
    const replaced = hasChunk(state, session, index);
    writeChunk(state, sessionId, index, bytes);
    if (!replaced) {
        setChunk(state, session, index, true);
        session.received_count += 1;
        session.received_bytes += BigInt(bytes.length);
        count(state, bytes.length, 1n);
    }
    session.last_activity = env.now;
    state.sessions.insert(sessionId, session);
    return ok(null);
}

export function uploadStatus(state: BucketState, env: Env, sessionId: bigint, index: Principal): Result<UploadStatus> {
    const session = state.sessions.get(sessionId);
    if (session === undefined) return err({ SessionNotFound: sessionId });
    const caller = env.caller.toText();
    if (caller !== session.owner.toText() && caller !== index.toText()) return err({ Unauthorized: `only the owner of session ${sessionId} may read its status` });
    return ok({ session_id: sessionId, state: session.state, chunk_count: session.chunk_count, received: receivedChunks(state, session), bytes_received: session.received_bytes });
}

export function getChunk(state: BucketState, env: Env, assetId: bigint, index: number): Result<Uint8Array> {
    const session = state.sessions.get(assetId);
    if (session === undefined || !('committed' in session.state)) return err({ AssetNotFound: assetId });
    if ('private' in session.visibility && session.owner.toText() !== env.caller.toText()) {
        return err({ Unauthorized: `asset ${assetId} is private to its owner` });
    }
    if (index >= session.chunk_count) return err({ ChunkOutOfRange: { index, chunk_count: session.chunk_count } });
    if (!hasChunk(state, session, index)) throw new Error(`invariant broken: committed asset ${assetId} has no chunk ${index}`);
    return ok(readChunk(state, assetId, index, 0, expectedChunkLength(session, index)));
}

/** Reads running totals: the cost does not grow with the sessions held. */
export function stats(state: BucketState): BucketStats {
    return {
        index: indexPrincipal(state),
        sessions: BigInt(state.sessions.len()),
        chunks: counter(state, MetaKey.storedChunks),
        stored_bytes: counter(state, MetaKey.storedBytes),
        layout_version: BUCKET_LAYOUT_VERSION
    };
}
