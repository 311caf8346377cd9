/**
 * Per-chunk verification through the verifier canister (issue 14), free of Azle like logic.ts.
 *
 * When the index gives a session a plan (the verifier, the declared digest, the client's checkpoints), each
 * chunk is verified on its own soon after it is stored: in a later message (a timer) the bucket reads the
 * chunk back from its stable memory and sends it to the verifier with the state at the chunk's start
 * (checkpoint i−1, or the initial state); the state that comes back must equal checkpoint i, or for the
 * last chunk the digest must equal the declared one. Link by link this proves the SHA-256 of the whole
 * upload, so `finish_upload` only has to collect the result (`c2c_verify_session`).
 *
 * A verified chunk is frozen (put_chunk refuses it). A chunk rewritten while its verification is in flight
 * is verified again: the result of a read older than the last write is discarded. A chunk that does not
 * match is dropped and reported once, so the client sends it again. Heap state (queue, in-flight calls,
 * write generations) is only a cache: after an upgrade `c2c_verify_session` finds what the stable plan
 * says is still unverified and starts it again.
 */
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import { leb128 } from '../../shared/bytes';
import { decodeCandid, prepareCandid } from '../../shared/candid_codec';
import { expectedChunkLength } from '../../shared/constants';
import { encodeState, initialState, SHA256_DIGEST_BYTES, SHA256_STATE_BYTES } from '../../shared/sha256';
import type { KvMap } from '../../shared/stable';
import { writeU64 } from '../../shared/stable';
import { type Result, type VerificationPlan, type VerifyProgress, VerifyResult } from '../../shared/types';
import { dropChunkOf, stateName, visitChunk } from './logic';
import { hasChunk } from './presence';
import type { BucketSession, BucketState } from './state';

/** The verifier's reply type, as a long-lived list for the codec. */
const VERIFY_RESULT = [VerifyResult];
prepareCandid(VERIFY_RESULT);

/** A session's plan as stored: the verifier, the digest, and which chunks matched. */
export const PlanRecord = IDL.Record({
    verifier: IDL.Principal,
    sha256: IDL.Vec(IDL.Nat8),
    /** One bit per chunk: set once the chunk matched its checkpoint (the last chunk: the digest). */
    verified: IDL.Vec(IDL.Nat8),
    verified_count: IDL.Nat32,
    /** A chunk that did not match and was dropped, until `c2c_verify_session` reports it. */
    mismatch: IDL.Opt(IDL.Nat32)
});
export interface PlanRecord {
    verifier: Principal;
    sha256: Uint8Array;
    verified: Uint8Array;
    verified_count: number;
    mismatch: [] | [number];
}

export interface VerifyState {
    plans: KvMap<bigint, PlanRecord>;
    /** (session, piece) → up to CHECKPOINTS_PER_PIECE checkpoints of 32 bytes, in chunk order. */
    checkpoints: KvMap<[bigint, number], Uint8Array>;
}

/** The calls out: a raw call to the verifier, and a timer. */
export interface VerifyPorts {
    call(verifier: Principal, method: 'absorb_chunk' | 'digest_chunk', arg: Uint8Array): Promise<Uint8Array>;
    schedule(seconds: number, run: () => Promise<void>): void;
}

/** 2,048 checkpoints (64 KiB) per stored value: a 1 TiB upload of 1.9 MiB chunks has 32 such pieces. */
const CHECKPOINTS_PER_PIECE = 2048;
/** Chunks one message starts verifying (each ~1.9 MiB read back and sent): bounds a message's work. */
export const VERIFY_BATCH = 4;
/** Verifications in flight at once, across sessions: bounds the bucket's outstanding calls and memory. */
const MAX_IN_FLIGHT = 8;
/** After a failed call to the verifier, the timer tries again this much later (seconds). */
const RETRY_SECONDS = 5;

type Outcome = 'verified' | 'mismatch' | 'stale' | { error: string };

/** Heap caches; see the file comment. */
const heap = {
    /** Write generation of each chunk (bumped by put_chunk), keyed `${session}:${index}`. */
    writes: new Map<string, number>(),
    inFlight: new Map<string, Promise<Outcome>>(),
    /** Chunks stored and not yet verified nor in flight, per session, oldest first. */
    queue: new Map<bigint, Set<number>>(),
    scheduled: false
};

const key = (id: bigint, index: number): string => `${id}:${index}`;
const ok = <T>(value: T): Result<T> => ({ Ok: value });

export function isVerified(plan: PlanRecord, index: number): boolean {
    return (plan.verified[index >> 3] & (1 << (index & 7))) !== 0;
}

// ------------------------------------------------------------------ plan

/** Stores a session's plan (from the index, right after opening it). Idempotent. */
export function planVerification(state: BucketState, v: VerifyState, sessionId: bigint, plan: VerificationPlan): Result<null> {
    const session = state.sessions.get(sessionId);
    if (session === undefined) return { Err: { SessionNotFound: sessionId } };
    if (v.plans.containsKey(sessionId)) return ok(null);
    if (!('open' in session.state)) return { Err: { SessionClosed: { session_id: sessionId, state: stateName(session) } } };
    const fullChunks = Number(session.size / BigInt(session.chunk_size));
    if (plan.checkpoints.length !== fullChunks) return { Err: { InvalidArgument: `expected ${fullChunks} checkpoints, got ${plan.checkpoints.length}` } };
    if (plan.sha256.length !== SHA256_DIGEST_BYTES || plan.checkpoints.some((c) => c.length !== SHA256_DIGEST_BYTES)) {
        return { Err: { InvalidArgument: 'the digest and every checkpoint must be 32 bytes' } };
    }
    for (let piece = 0; piece * CHECKPOINTS_PER_PIECE < plan.checkpoints.length; piece++) {
        const part = plan.checkpoints.slice(piece * CHECKPOINTS_PER_PIECE, (piece + 1) * CHECKPOINTS_PER_PIECE);
        const bytes = new Uint8Array(part.length * SHA256_DIGEST_BYTES);
        part.forEach((c, i) => bytes.set(c, i * SHA256_DIGEST_BYTES));
        v.checkpoints.insert([sessionId, piece], bytes);
    }
    v.plans.insert(sessionId, { verifier: plan.verifier, sha256: plan.sha256, verified: new Uint8Array(Math.ceil(session.chunk_count / 8)), verified_count: 0, mismatch: [] });
    return ok(null);
}

function checkpoint(v: VerifyState, sessionId: bigint, index: number): Uint8Array {
    const piece = v.checkpoints.get([sessionId, Math.floor(index / CHECKPOINTS_PER_PIECE)]);
    const at = (index % CHECKPOINTS_PER_PIECE) * SHA256_DIGEST_BYTES;
    if (piece === undefined || piece.length < at + SHA256_DIGEST_BYTES) throw new Error(`invariant broken: session ${sessionId} has no checkpoint ${index}`);
    return piece.subarray(at, at + SHA256_DIGEST_BYTES);
}

/** Drops a session's plan and checkpoints (committed or deleted): at most a few dozen values. */
export function forget(v: VerifyState, sessionId: bigint): void {
    if (v.plans.remove(sessionId) === undefined) return;
    for (let piece = 0; v.checkpoints.remove([sessionId, piece]) !== undefined; piece++);
    heap.queue.delete(sessionId);
    for (const k of [...heap.writes.keys()]) if (k.startsWith(`${sessionId}:`)) heap.writes.delete(k);
}

/**
 * The index re-opened the session and dropped chunk `index` (its sequential check found it wrong, after a
 * verifier it no longer trusts had passed it): the chunk is no longer verified and may be sent again.
 */
export function unverify(v: VerifyState, sessionId: bigint, index: number): void {
    const plan = v.plans.get(sessionId);
    if (plan === undefined || index >= plan.verified.length * 8 || !isVerified(plan, index)) return;
    plan.verified[index >> 3] &= ~(1 << (index & 7));
    plan.verified_count -= 1;
    v.plans.insert(sessionId, plan);
}

// ------------------------------------------------------------------ put_chunk hooks

/** put_chunk refuses to replace a verified chunk: its bytes are part of the proof. */
export function refusePut(v: VerifyState, sessionId: bigint, index: number): Result<null> | null {
    const plan = v.plans.get(sessionId);
    if (plan === undefined || index >= plan.verified.length * 8 || !isVerified(plan, index)) return null;
    return { Err: { SessionClosed: { session_id: sessionId, state: `chunk ${index} is verified and can no longer change` } } };
}

/** After put_chunk stored a chunk: queue its verification for a later message. */
export function afterPut(state: BucketState, v: VerifyState, ports: VerifyPorts, sessionId: bigint, index: number): void {
    if (!v.plans.containsKey(sessionId)) return;
    const k = key(sessionId, index);
    heap.writes.set(k, (heap.writes.get(k) ?? 0) + 1);
    enqueue(sessionId, index);
    schedule(state, v, ports, 0);
}

function enqueue(sessionId: bigint, index: number): void {
    const queued = heap.queue.get(sessionId) ?? new Set<number>();
    queued.add(index);
    heap.queue.set(sessionId, queued);
}

function schedule(state: BucketState, v: VerifyState, ports: VerifyPorts, seconds: number): void {
    if (heap.scheduled) return;
    heap.scheduled = true;
    ports.schedule(seconds, async () => {
        heap.scheduled = false;
        await pump(state, v, ports);
    });
}

/** The timer: starts up to VERIFY_BATCH queued verifications (MAX_IN_FLIGHT in all), re-arms while work is left. */
async function pump(state: BucketState, v: VerifyState, ports: VerifyPorts): Promise<void> {
    const started: Promise<Outcome>[] = [];
    for (const [sessionId, queued] of heap.queue) {
        for (const index of queued) {
            if (started.length >= VERIFY_BATCH || heap.inFlight.size >= MAX_IN_FLIGHT) break;
            queued.delete(index);
            started.push(start(state, v, ports, sessionId, index));
        }
        if (queued.size === 0) heap.queue.delete(sessionId);
    }
    const outcomes = await Promise.all(started);
    const failed = outcomes.some((o) => typeof o === 'object');
    if (heap.queue.size > 0) schedule(state, v, ports, failed ? RETRY_SECONDS : 0);
}

// ------------------------------------------------------------------ one chunk

/** Verifies a chunk unless it is already in flight (then joins that call). Failed attempts are re-queued. */
function start(state: BucketState, v: VerifyState, ports: VerifyPorts, sessionId: bigint, index: number): Promise<Outcome> {
    const k = key(sessionId, index);
    const running = heap.inFlight.get(k);
    if (running !== undefined) return running;
    const promise = verifyChunk(state, v, ports, sessionId, index).then(
        (outcome) => outcome,
        (error: unknown): Outcome => ({ error: describe(error) })
    );
    heap.inFlight.set(k, promise);
    return promise.then((outcome) => {
        heap.inFlight.delete(k);
        if (outcome === 'stale' || typeof outcome === 'object') requeueIfUnverified(state, v, sessionId, index);
        return outcome;
    });
}

function requeueIfUnverified(state: BucketState, v: VerifyState, sessionId: bigint, index: number): void {
    const session = state.sessions.get(sessionId);
    const plan = v.plans.get(sessionId);
    if (session !== undefined && plan !== undefined && hasChunk(state, session, index) && !isVerified(plan, index)) enqueue(sessionId, index);
}

/** Candid `(blob, blob)` header: one type (vec nat8), two arguments of it. */
const ARG_HEADER = Uint8Array.of(0x44, 0x49, 0x44, 0x4c, 0x01, 0x6d, 0x7b, 0x02, 0x00, 0x00);

/** The verifier's argument `(state, bytes of the chunk)`, the chunk read straight from the pieces into it. */
function verifierArg(state: BucketState, session: BucketSession, index: number, hashState: Uint8Array): Uint8Array {
    const length = expectedChunkLength(session, index);
    const head = [...ARG_HEADER, ...leb128(hashState.length), ...hashState, ...leb128(length)];
    const arg = new Uint8Array(head.length + length);
    arg.set(head, 0);
    let at = head.length;
    visitChunk(state, session.session_id, index, 0, length, (bytes) => {
        arg.set(bytes, at);
        at += bytes.length;
    });
    return arg;
}

/** The encoded state at the start of chunk `index`: the previous checkpoint and the bytes before it. */
function stateAt(v: VerifyState, session: BucketSession, index: number): Uint8Array {
    if (index === 0) return encodeState(initialState());
    const out = new Uint8Array(SHA256_STATE_BYTES);
    out.set(checkpoint(v, session.session_id, index - 1), 0);
    writeU64(out, 32, BigInt(index) * BigInt(session.chunk_size));
    return out;
}

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

async function verifyChunk(state: BucketState, v: VerifyState, ports: VerifyPorts, sessionId: bigint, index: number): Promise<Outcome> {
    const session = state.sessions.get(sessionId);
    const plan = v.plans.get(sessionId);
    if (session === undefined || plan === undefined || !('open' in session.state || 'sealed' in session.state)) return 'stale';
    if (!hasChunk(state, session, index) || isVerified(plan, index)) return 'stale';
    const last = index === session.chunk_count - 1;
    const generation = heap.writes.get(key(sessionId, index)) ?? 0;
    const arg = verifierArg(state, session, index, stateAt(v, session, index));

    // The `_chunk` methods also answer the chunk's own SHA-256, which certifies its HTTP response (certify.ts).
    const reply = await ports.call(plan.verifier, last ? 'digest_chunk' : 'absorb_chunk', arg);

    // The world moved during the call: only a result for the bytes still stored, in a live session, counts.
    const now = state.sessions.get(sessionId);
    const current = v.plans.get(sessionId);
    if (now === undefined || current === undefined || !('open' in now.state || 'sealed' in now.state)) return 'stale';
    if ((heap.writes.get(key(sessionId, index)) ?? 0) !== generation || !hasChunk(state, now, index) || isVerified(current, index)) return 'stale';
    if (current.verifier.toText() !== plan.verifier.toText()) return 'stale';
    const [result] = decodeCandid(VERIFY_RESULT, reply) as [VerifyResult];
    if ('Err' in result) return { error: `the verifier refused chunk ${index}: ${result.Err.InvalidArgument}` };

    const expected = last ? current.sha256 : expectedState(v, now, index);
    if (result.Ok.length !== expected.length + SHA256_DIGEST_BYTES) return { error: `the verifier answered ${result.Ok.length} bytes for chunk ${index}` };
    if (equal(result.Ok.subarray(0, expected.length), expected)) {
        // The digest of the bytes just read back: what the chunk's certified response hashes (certify.ts).
        state.digests.insert([sessionId, index], result.Ok.slice(expected.length));
        current.verified[index >> 3] |= 1 << (index & 7);
        current.verified_count += 1;
        v.plans.insert(sessionId, current);
        // A verified chunk cannot be written again: its generation is no longer needed.
        heap.writes.delete(key(sessionId, index));
        return 'verified';
    }
    // Not the bytes the client hashed: drop the chunk so it is sent again, and report it once.
    dropChunkOf(state, now, index);
    state.sessions.insert(sessionId, now);
    current.mismatch = [index];
    v.plans.insert(sessionId, current);
    return 'mismatch';
}

function expectedState(v: VerifyState, session: BucketSession, index: number): Uint8Array {
    const out = new Uint8Array(SHA256_STATE_BYTES);
    out.set(checkpoint(v, session.session_id, index), 0);
    writeU64(out, 32, BigInt(index + 1) * BigInt(session.chunk_size));
    return out;
}

// ------------------------------------------------------------------ finish

/**
 * Before sealing: a chunk dropped for a mismatch is reported as such (once), rather than as merely missing,
 * so the client knows to send it again and why.
 */
export function takeMismatch(state: BucketState, v: VerifyState, sessionId: bigint): Result<null> | null {
    const plan = v.plans.get(sessionId);
    const session = state.sessions.get(sessionId);
    if (plan === undefined || session === undefined || plan.mismatch.length === 0 || !('open' in session.state)) return null;
    const index = plan.mismatch[0]!;
    if (hasChunk(state, session, index)) return null;
    plan.mismatch = [];
    v.plans.insert(sessionId, plan);
    return { Err: { ChecksumMismatch: { chunk_index: index } } };
}

/**
 * For the index's finish_upload on a sealed session: verifies up to VERIFY_BATCH more chunks from this
 * message and reports where the session stands. The index calls again while `pending`.
 */
export async function verifySession(state: BucketState, v: VerifyState, ports: VerifyPorts, sessionId: bigint): Promise<Result<VerifyProgress>> {
    const progress = (): Result<VerifyProgress> | null => {
        const session = state.sessions.get(sessionId);
        if (session === undefined) return { Err: { SessionNotFound: sessionId } };
        const plan = v.plans.get(sessionId);
        if (plan === undefined) return ok({ no_plan: null });
        if (!('sealed' in session.state)) return { Err: { SessionClosed: { session_id: sessionId, state: stateName(session) } } };
        if (plan.mismatch.length > 0) {
            const index = plan.mismatch[0]!;
            plan.mismatch = [];
            v.plans.insert(sessionId, plan);
            return ok({ mismatch: index });
        }
        if (plan.verified_count === session.chunk_count) return ok({ done: { verifier: plan.verifier } });
        return null;
    };
    const early = progress();
    if (early !== null) return early;

    // Verify the next chunks here, even those a timer has in flight: awaiting a promise another message
    // started would resume this method (and send its reply) inside that message's callback. A duplicate
    // check is harmless: whichever answers second finds the chunk verified and is discarded.
    const session = state.sessions.get(sessionId)!;
    const plan = v.plans.get(sessionId)!;
    const todo: number[] = [];
    for (let i = 0; i < session.chunk_count && todo.length < VERIFY_BATCH; i++) if (!isVerified(plan, i)) todo.push(i);
    heap.queue.get(sessionId)?.clear();
    const outcomes = await Promise.all(
        todo.map((i) => verifyChunk(state, v, ports, sessionId, i).catch((error: unknown): Outcome => ({ error: describe(error) })))
    );
    const after = progress();
    if (after !== null) return after;
    const failure = outcomes.find((o): o is { error: string } => typeof o === 'object');
    if (failure !== undefined) return ok({ unavailable: failure.error });
    const latest = v.plans.get(sessionId)!;
    return ok({ pending: { verified: latest.verified_count, remaining: session.chunk_count - latest.verified_count } });
}

function describe(error: unknown): string {
    if (error instanceof Error) return error.message;
    if (typeof error === 'object' && error !== null) {
        try {
            return JSON.stringify(error, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
        } catch {
            return String(error);
        }
    }
    return String(error);
}
