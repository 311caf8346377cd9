/**
 * The upload protocol on the index: begin (validate, reserve, register with a bucket), finish (read every
 * chunk back from the bucket, carrying the rolling SHA-256, then commit atomically), abort and expiry.
 *
 * After every `await`, the session is read again and the caller's claim on it checked: other messages
 * (another finish, an abort, the expiry timer, an upgrade) may have run in between.
 */
import {
    chunkCount,
    expectedChunkLength,
    MAX_ASSET_SIZE,
    MAX_CHUNK_COUNT,
    MAX_CHUNK_SIZE,
    MAX_CONTENT_TYPE_BYTES,
    MAX_NAME_BYTES,
    SHA256_BLOCK_BYTES
} from '../../shared/constants';
import { normaliseContentType } from '../../shared/media_type';
import { chainingValue, decodeState, encodeState, finalize, initialState, toHex } from '../../shared/sha256';
import { writeU64 } from '../../shared/stable';
import { type Asset, type BeginUploadArgs, type Result, type SessionInfo, sessionInfoFields, type SiloError, type UploadTicket } from '../../shared/types';
import { adjustOwner, getOwner, insertAsset, openSessions } from './assets';
import { adjustBucket, allocateBucket, bucketCreationRefusal, createBucket } from './buckets';
import { dueSessions, putSession, removeSession, SWEEP_BATCH } from './schedule';
import { fundUpload, planUploadFunding, uploadCost } from './cycles';
import { forgetEncryption } from './keys';
import { currentEpoch, type Env, getConfig, type IndexState, MetaKey, type Ports, type SessionRecord, takeNext } from './state';
import { describeError } from './errors';
import { enqueueTask, runTask } from './tasks';
import { collectVerification, currentVerifier, planSession } from './verification';

const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

function validateBegin(args: BeginUploadArgs, minChunkSize: number): string | null {
    if (args.name.length === 0) return 'name must not be empty';
    if (utf8Length(args.name) > MAX_NAME_BYTES) return `name must be at most ${MAX_NAME_BYTES} bytes`;
    if (utf8Length(args.content_type) > MAX_CONTENT_TYPE_BYTES) return `content_type must be at most ${MAX_CONTENT_TYPE_BYTES} bytes`;
    if (args.sha256.length !== 32) return `sha256 must be 32 bytes, got ${args.sha256.length}`;
    if (args.chunk_size === 0 || args.chunk_size % SHA256_BLOCK_BYTES !== 0 || args.chunk_size > MAX_CHUNK_SIZE) {
        return `chunk_size must be a positive multiple of ${SHA256_BLOCK_BYTES} of at most ${MAX_CHUNK_SIZE} bytes, got ${args.chunk_size}`;
    }
    if (args.size > MAX_ASSET_SIZE) return `size must be at most ${MAX_ASSET_SIZE} bytes`;
    if (args.chunk_size < minChunkSize && args.size > BigInt(args.chunk_size)) {
        return `chunk_size must be at least ${minChunkSize} bytes (min_chunk_size) when the upload has more than one chunk, got ${args.chunk_size}`;
    }
    const checkpoints = args.checkpoints[0];
    if (checkpoints !== undefined) {
        const fullChunks = Number(args.size / BigInt(args.chunk_size));
        if (checkpoints.length !== fullChunks) return `expected ${fullChunks} checkpoints (one per full chunk), got ${checkpoints.length}`;
        const bad = checkpoints.findIndex((c) => c.length !== 32);
        if (bad >= 0) return `checkpoint ${bad} must be 32 bytes, got ${checkpoints[bad].length}`;
    }
    return null;
}

/** What `upload_session` shows of a stored session: the fields SessionInfo declares. */
function toInfo(s: SessionRecord): SessionInfo {
    return Object.fromEntries(Object.keys(sessionInfoFields).map((key) => [key, s[key as keyof SessionInfo]])) as unknown as SessionInfo;
}

/** True while a finish_upload of the current code instance holds the session. */
function finishing(state: IndexState, s: SessionRecord): boolean {
    return 'finishing' in s.state && s.finish_epoch === currentEpoch(state);
}

/** Removes a session's record and its checkpoints. */
function forgetSession(state: IndexState, s: SessionRecord): void {
    removeSession(state, s);
    for (let i = 0; i < s.chunk_count && state.checkpoints.remove([s.session_id, i]) !== undefined; i++);
}

/** Frees what a session holds in the index and queues the deletion of its chunks in the bucket. */
function dropSession(state: IndexState, env: Env, s: SessionRecord): ReturnType<typeof enqueueTask> {
    forgetSession(state, s);
    forgetEncryption(state, s.session_id, s.owner);
    adjustOwner(state, s.owner, { reserved: -quotaCharge(s), sessions: -1 });
    // The bucket counts the session's bytes as used until its chunks are gone (the task releases them).
    adjustBucket(state, s.bucket, { reserved: -s.size, used: s.size });
    return enqueueTask(state, env, { delete_chunks: { bucket: s.bucket, id: s.session_id, bytes: [s.size] } });
}

/** Frees a session the bucket never heard of (its opening stopped before `open_session`): no chunks to delete. */
function releaseUnopened(state: IndexState, s: SessionRecord): void {
    forgetSession(state, s);
    adjustOwner(state, s.owner, { reserved: -quotaCharge(s), sessions: -1 });
    adjustBucket(state, s.bucket, { reserved: -s.size });
}

/** Bytes of its owner's quota a session holds (sessions of layout v1 hold their size). */
function quotaCharge(s: SessionRecord): bigint {
    return s.quota_charge[0] ?? s.size;
}

// ------------------------------------------------------------------ begin

export async function beginUpload(state: IndexState, env: Env, ports: Ports, args: BeginUploadArgs): Promise<Result<UploadTicket>> {
    if (env.caller.isAnonymous()) return { Err: { Unauthorized: 'anonymous callers cannot upload; call with an identity' } };
    const invalid = validateBegin(args, getConfig(state).min_chunk_size);
    if (invalid !== null) return { Err: { InvalidArgument: invalid } };
    // One media type, normalised; a list, control characters or anything malformed is refused.
    const contentType = normaliseContentType(args.content_type);
    if (!contentType.ok) return { Err: { InvalidArgument: contentType.reason } };
    const chunks = chunkCount(args.size, args.chunk_size);
    if (chunks > MAX_CHUNK_COUNT) return { Err: { LimitExceeded: { what: 'chunks per upload', limit: BigInt(MAX_CHUNK_COUNT), requested: BigInt(chunks) } } };

    /** The owner's caps and quota, checked again after an await. */
    const ownerLimit = (): SiloError | null => {
        const config = getConfig(state);
        const owner = getOwner(state, env.caller);
        const sessions = openSessions(owner) + 1;
        if (sessions > config.max_open_sessions_per_owner) return { LimitExceeded: { what: 'open upload sessions', limit: BigInt(config.max_open_sessions_per_owner), requested: BigInt(sessions) } };
        const assets = owner.asset_count + BigInt(sessions);
        if (assets > config.max_assets_per_owner) return { LimitExceeded: { what: 'assets', limit: config.max_assets_per_owner, requested: assets } };
        const used = owner.committed_bytes + owner.reserved_bytes;
        return used + charge(config) > config.quota_bytes ? { QuotaExceeded: { limit: config.quota_bytes, used, requested: args.size } } : null;
    };
    const charge = (config: { session_min_charge_bytes: bigint }): bigint => (args.size > config.session_min_charge_bytes ? args.size : config.session_min_charge_bytes);
    const refused = ownerLimit();
    if (refused !== null) return { Err: refused };

    let bucket = allocateBucket(state, args.size);
    if (bucket === null) {
        const cannotCreate = bucketCreationRefusal(state, env, args.size);
        if (cannotCreate !== null) return { Err: cannotCreate };
        const created = await createBucket(state, env, ports);
        if ('Err' in created) return created;
        // The world moved during creation: check the caps and quota and pick a bucket again.
        const stillRefused = ownerLimit();
        if (stillRefused !== null) return { Err: stillRefused };
        bucket = allocateBucket(state, args.size);
        if (bucket === null) return { Err: { NoCapacity: `no bucket has room for ${args.size} bytes, even a new one (capacity ${created.Ok.capacity_bytes})` } };
    }

    // Decide up front whether the bucket can pay for the upload, and what top-up it needs: a refusal here
    // has reserved and moved nothing.
    const funding = planUploadFunding(state, env, bucket, args.size, chunks);
    if ('Err' in funding) return funding;

    // Reserve before the first await, so concurrent uploads cannot overbook the bucket or the quota.
    const config = getConfig(state);
    const sessionId = takeNext(state, MetaKey.nextId);
    const session: SessionRecord = {
        session_id: sessionId,
        owner: env.caller,
        name: args.name,
        content_type: contentType.value,
        size: args.size,
        sha256: args.sha256,
        chunk_size: args.chunk_size,
        chunk_count: chunks,
        visibility: args.visibility,
        bucket: bucket.id,
        state: { opening: null },
        has_checkpoints: args.checkpoints.length > 0,
        verified_bytes: 0n,
        hash_state: encodeState(initialState()),
        finish_epoch: 0n,
        finish_token: 0n,
        quota_charge: [charge(config)],
        failed_finishes: [],
        created_at: env.now,
        expires_at: env.now + config.session_ttl_ns
    };
    adjustOwner(state, env.caller, { reserved: charge(config), sessions: 1 });
    adjustBucket(state, bucket.id, { reserved: args.size });
    putSession(state, session);
    (args.checkpoints[0] ?? []).forEach((c, i) => state.checkpoints.insert([sessionId, i], c));

    // Only now, with the upload admitted and holding its reservation, top its bucket up (by at most what it
    // needs); if that fails, give the reservation back: nothing is left behind and no cycles moved.
    const funded = await fundUpload(state, env, ports, bucket, funding.Ok, uploadCost(args.size, chunks));
    if ('Err' in funded) {
        const s = state.sessions.get(sessionId);
        if (s !== undefined && 'opening' in s.state) releaseUnopened(state, s);
        return funded;
    }
    // Nothing else touches an opening session (abort and finish answer Busy), but check before telling the bucket.
    const afterFunding = state.sessions.get(sessionId);
    if (afterFunding === undefined || !('opening' in afterFunding.state)) return { Err: { SessionNotFound: sessionId } };

    let failure: SiloError | null = null;
    try {
        const opened = await ports.bucket.openSession(bucket.id, {
            session_id: sessionId,
            owner: env.caller,
            size: args.size,
            chunk_size: args.chunk_size,
            chunk_count: session.chunk_count,
            visibility: args.visibility
        });
        if ('Err' in opened) failure = opened.Err;
    } catch (error) {
        failure = { BucketUnavailable: { bucket: bucket.id, reason: describeError(error) } };
    }
    // Per-chunk verification (verification.ts) while the session is still `opening`: no chunk can arrive yet.
    if (failure === null && state.verifier !== undefined) await planSession(state.verifier, ports, session, args.checkpoints[0]);
    const current = state.sessions.get(sessionId);
    if (current === undefined) return { Err: { SessionNotFound: sessionId } };
    if (failure !== null) {
        const task = dropSession(state, env, current);
        await runTask(state, env, ports, task);
        return { Err: failure };
    }
    current.state = { open: null };
    putSession(state, current);
    return {
        Ok: { session_id: sessionId, bucket: bucket.id, chunk_size: args.chunk_size, chunk_count: session.chunk_count, expires_at: current.expires_at }
    };
}

// ------------------------------------------------------------------ finish

type Claim = { ok: true; session: SessionRecord } | { ok: false; error: SiloError };

/**
 * Reads every chunk back from the bucket and hashes it there, carrying the SHA-256 state across calls and
 * storing it after each step, so a later call resumes where this one stopped. Commits only when the
 * digest and length equal what `begin_upload` declared.
 */
export async function finishUpload(state: IndexState, env: Env, ports: Ports, sessionId: bigint): Promise<Result<Asset>> {
    const session = state.sessions.get(sessionId);
    if (session === undefined) {
        const committed = state.assets.get(sessionId);
        if (committed === undefined) return { Err: missing(state, sessionId) };
        if (committed.asset.owner.toText() !== env.caller.toText()) return { Err: { Unauthorized: `session ${sessionId} belongs to another caller` } };
        return { Ok: committed.asset };
    }
    if (session.owner.toText() !== env.caller.toText()) return { Err: { Unauthorized: `session ${sessionId} belongs to another caller` } };
    if ('opening' in session.state) return { Err: { Busy: `session ${sessionId} is still being opened` } };
    if (finishing(state, session)) return { Err: { Busy: `finish_upload is already running for session ${sessionId}` } };
    // A session past its expiry that the timer has not swept yet may still be finished: only the sweep,
    // which asks the bucket about recent writes, decides that a session is dead.

    const token = takeNext(state, MetaKey.nextToken);
    session.state = { finishing: null };
    session.finish_epoch = currentEpoch(state);
    session.finish_token = token;
    session.expires_at = env.now + getConfig(state).session_ttl_ns;
    putSession(state, session);

    /** Re-reads the session after an await and checks that this finish still holds it. */
    const reclaim = (): Claim => {
        const s = state.sessions.get(sessionId);
        if (s === undefined) return { ok: false, error: { SessionNotFound: sessionId } };
        if (!('finishing' in s.state) || s.finish_token !== token) return { ok: false, error: { Busy: `session ${sessionId} was taken over while finishing` } };
        return { ok: true, session: s };
    };
    /** Gives the session back to the client (state open), keeping the verified prefix. */
    const release = (s: SessionRecord, error: SiloError): Result<Asset> => {
        s.state = { open: null };
        s.finish_epoch = 0n;
        putSession(state, s);
        return { Err: error };
    };
    const unavailable = (error: unknown): SiloError => ({ BucketUnavailable: { bucket: session.bucket, reason: describeError(error) } });

    // 1. Seal: from here on the bucket refuses writes, so what is hashed is what stays.
    let sealError: SiloError | null = null;
    try {
        const sealed = await ports.bucket.sealSession(session.bucket, sessionId);
        if ('Err' in sealed) sealError = sealed.Err;
    } catch (error) {
        sealError = unavailable(error);
    }
    let claim = reclaim();
    if (!claim.ok) return { Err: claim.error };
    if (sealError !== null) return release(claim.session, sealError);

    // 2a. With checkpoints and a verifier, the bucket verified chunks one by one as they arrived: collect that.
    let digest: Uint8Array | null = null;
    if (claim.session.has_checkpoints && claim.session.verified_bytes === 0n && state.verifier !== undefined && currentVerifier(state.verifier) !== null) {
        const collected = await collectVerification(state.verifier, ports, claim.session, reclaim);
        if ('lost' in collected) return { Err: collected.lost };
        claim = reclaim();
        if (!claim.ok) return { Err: claim.error };
        if ('done' in collected) digest = claim.session.sha256;
        if ('error' in collected) {
            if (collected.mismatch !== undefined) {
                const exhausted = await failedVerification(state, env, ports, claim.session);
                if (exhausted !== null) return exhausted;
            }
            const result = release(claim.session, collected.error);
            // The bucket dropped the bad chunk; re-open the session so the client can send it again.
            if (collected.mismatch !== undefined) await reopen(ports, claim.session, 0, false);
            return result;
        }
    }

    // 2. Read back and hash, chunk by chunk (or slice by slice), persisting the state after each step.
    const sliceBytes = getConfig(state).hash_slice_bytes;
    while (digest === null) {
        const s = claim.session;
        const index = Number(s.verified_bytes / BigInt(s.chunk_size));
        const offset = Number(s.verified_bytes % BigInt(s.chunk_size));
        if (s.size === 0n || (index >= s.chunk_count && s.verified_bytes === s.size)) {
            digest = finalize(decodeState(s.hash_state), new Uint8Array());
            break;
        }
        const chunkLength = expectedChunkLength(s, index);
        const length = sliceBytes === 0 || offset + sliceBytes >= chunkLength ? 0 : sliceBytes;
        let outcome: { state: Uint8Array; tail: Uint8Array } | SiloError;
        try {
            const hashed = await ports.bucket.hashChunk(s.bucket, { session_id: sessionId, index, offset, length, state: s.hash_state });
            outcome = 'Err' in hashed ? hashed.Err : hashed.Ok;
        } catch (error) {
            outcome = unavailable(error);
        }
        claim = reclaim();
        if (!claim.ok) return { Err: claim.error };
        const current = claim.session;
        if (!('state' in outcome && 'tail' in outcome)) return release(current, outcome);

        const next = decodeState(outcome.state);
        const end = length === 0 ? chunkLength : offset + length;
        const expectedAbsorbed = BigInt(end - offset - outcome.tail.length);
        if (BigInt(next.length) !== current.verified_bytes + expectedAbsorbed) {
            throw new Error(`invariant broken: bucket hashed ${next.length} bytes in all, expected ${current.verified_bytes + expectedAbsorbed}`);
        }
        if (end === chunkLength && current.has_checkpoints && chunkLength === current.chunk_size) {
            const checkpoint = state.checkpoints.get([sessionId, index]);
            if (checkpoint !== undefined && toHex(checkpoint) !== toHex(chainingValue(next))) {
                // The verified prefix stays; the bad chunk is dropped and must be sent again. With slices the
                // stored state may be inside this chunk: go back to its start, which the previous chunk's
                // (matching) checkpoint describes.
                current.verified_bytes = BigInt(index) * BigInt(current.chunk_size);
                current.hash_state = stateAtChunkStart(state, sessionId, index, current.verified_bytes);
                const exhausted = await failedVerification(state, env, ports, current);
                if (exhausted !== null) return exhausted;
                const result = release(current, { ChecksumMismatch: { chunk_index: index } });
                await reopen(ports, current, index, true);
                return result;
            }
        }
        current.hash_state = outcome.state;
        current.verified_bytes = BigInt(next.length);
        putSession(state, current);
        if (end === chunkLength && index === current.chunk_count - 1) digest = finalize(next, outcome.tail);
    }

    // 3. Check, then commit, in this one message: no await between the final check and the writes.
    const s = claim.session;
    if (digest === null) throw new Error('invariant broken: verification ended without a digest');
    const actual: Uint8Array = digest;
    const digestHex = toHex(actual);
    if (digestHex !== toHex(s.sha256)) {
        // Without checkpoints the bad chunk is unknown: start verification over, all chunks writable.
        s.verified_bytes = 0n;
        s.hash_state = encodeState(initialState());
        const exhausted = await failedVerification(state, env, ports, s);
        if (exhausted !== null) return exhausted;
        const result = release(s, { HashMismatch: { expected: s.sha256, actual } });
        await reopen(ports, s, 0, false);
        return result;
    }
    const asset: Asset = {
        id: sessionId,
        owner: s.owner,
        name: s.name,
        content_type: s.content_type,
        size: s.size,
        sha256: s.sha256,
        chunk_size: s.chunk_size,
        chunk_count: s.chunk_count,
        bucket: s.bucket,
        visibility: s.visibility,
        created_at: env.now
    };
    forgetSession(state, s);
    insertAsset(state, asset);
    adjustOwner(state, s.owner, { reserved: -quotaCharge(s), committed: s.size, sessions: -1 });
    adjustBucket(state, s.bucket, { reserved: -s.size, used: s.size });
    const task = enqueueTask(state, env, { notify_commit: { bucket: s.bucket, session_id: sessionId, owner: s.owner, visibility: s.visibility } });
    // 4. Tell the bucket the chunks are the asset's; if it cannot hear it now, the task queue retries.
    await runTask(state, env, ports, task);
    return { Ok: asset };
}

/**
 * Counts a finish_upload that failed verification (each one re-reads and re-hashes up to the whole
 * upload). The last one allowed aborts the session and returns its error; otherwise null, and the count
 * is kept in `s`, which the caller saves.
 */
async function failedVerification(state: IndexState, env: Env, ports: Ports, s: SessionRecord): Promise<Result<Asset> | null> {
    const attempts = (s.failed_finishes[0] ?? 0) + 1;
    s.failed_finishes = [attempts];
    if (attempts < getConfig(state).max_failed_finishes) return null;
    await runTask(state, env, ports, dropSession(state, env, s));
    return { Err: { FinishAttemptsExhausted: { session_id: s.session_id, attempts } } };
}

function stateAtChunkStart(state: IndexState, sessionId: bigint, index: number, offset: bigint): Uint8Array {
    if (index === 0) return encodeState(initialState());
    const previous = state.checkpoints.get([sessionId, index - 1]);
    if (previous === undefined) throw new Error(`invariant broken: session ${sessionId} lost checkpoint ${index - 1}`);
    const bytes = new Uint8Array(40);
    bytes.set(previous, 0);
    writeU64(bytes, 32, offset);
    return bytes;
}

async function reopen(ports: Ports, s: SessionRecord, from: number, dropChunk: boolean): Promise<void> {
    try {
        await ports.bucket.reopenSession(s.bucket, s.session_id, from, dropChunk);
    } catch {
        // The bucket stays sealed; the next finish_upload seals again (a no-op) and reports the same problem.
    }
}

// ------------------------------------------------------------------ abort, status, expiry

export async function abortUpload(state: IndexState, env: Env, ports: Ports, sessionId: bigint): Promise<Result<null>> {
    const session = state.sessions.get(sessionId);
    if (session === undefined) return { Err: missing(state, sessionId) };
    if (session.owner.toText() !== env.caller.toText() && !env.isController(env.caller)) {
        return { Err: { Unauthorized: `session ${sessionId} belongs to another caller` } };
    }
    if ('opening' in session.state) return { Err: { Busy: `session ${sessionId} is still being opened` } };
    if (finishing(state, session)) return { Err: { Busy: `finish_upload is running for session ${sessionId}` } };
    await runTask(state, env, ports, dropSession(state, env, session));
    return { Ok: null };
}

export function sessionInfo(state: IndexState, env: Env, sessionId: bigint): Result<SessionInfo> {
    const session = state.sessions.get(sessionId);
    if (session === undefined) return { Err: missing(state, sessionId) };
    if (session.owner.toText() !== env.caller.toText() && !env.isController(env.caller)) {
        return { Err: { Unauthorized: `session ${sessionId} belongs to another caller` } };
    }
    return { Ok: toInfo(session) };
}

/**
 * Expires sessions that saw no progress for the configured time. Progress happens at the bucket (chunk
 * writes), so before expiring, the index asks each bucket when its sessions last saw a write. Examines at
 * most SWEEP_BATCH sessions, the earliest to expire; the next run continues.
 */
export async function expireSessions(state: IndexState, env: Env, ports: Ports): Promise<void> {
    const ttl = getConfig(state).session_ttl_ns;
    const due = new Map<string, SessionRecord[]>();
    for (const id of dueSessions(state, env.now)) {
        const s = state.sessions.get(id);
        if (s === undefined) continue;
        if (finishing(state, s)) {
            // A finish in progress keeps its session: look again a TTL later (it must not block the batch).
            s.expires_at = env.now + ttl;
            putSession(state, s);
            continue;
        }
        const list = due.get(s.bucket.toText()) ?? [];
        list.push(s);
        due.set(s.bucket.toText(), list);
    }
    for (const sessions of due.values()) {
        const bucket = sessions[0].bucket;
        let activity = new Map<bigint, bigint>();
        try {
            const result = await ports.bucket.sessionActivity(bucket, sessions.map((s) => s.session_id));
            if ('Ok' in result) activity = new Map(result.Ok.flatMap((a) => (a.last_activity.length ? [[a.session_id, a.last_activity[0]!]] : [])));
        } catch {
            // An unreachable bucket cannot vouch for activity: the index's own record decides.
        }
        for (const stale of sessions) {
            const s = state.sessions.get(stale.session_id);
            if (s === undefined || s.expires_at >= env.now || finishing(state, s)) continue;
            const last = activity.get(s.session_id);
            if (last !== undefined && last + ttl > env.now) {
                s.expires_at = last + ttl;
                putSession(state, s);
                continue;
            }
            state.expired.insert(s.session_id, env.now);
            await runTask(state, env, ports, dropSession(state, env, s));
        }
    }
    // Expiry notes are kept for a week, then forgotten (such a session is then simply not found). Notes
    // are keyed by session id, roughly in expiry order: the oldest few are looked at per run.
    for (const [id, at] of state.expired.items(0, SWEEP_BATCH)) if (at + EXPIRED_NOTE_NS < env.now) state.expired.remove(id);
}

const EXPIRED_NOTE_NS = 7n * 24n * 3600n * 1_000_000_000n;

/** The error for a session id that names no live session: expired (recently), or not found. */
function missing(state: IndexState, sessionId: bigint): SiloError {
    return state.expired.containsKey(sessionId) ? { SessionExpired: sessionId } : { SessionNotFound: sessionId };
}
