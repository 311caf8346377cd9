/**
 * The bucket registry: capacity accounting and allocation, the bucket module the index keeps so it can
 * create buckets, and rolling upgrades of all buckets to a new module.
 */
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { concatBytes } from '../../shared/bytes';
import { WASM_PIECE_BYTES } from '../../shared/constants';
import { sha256, toHex } from '../../shared/sha256';
import { BucketInitArgs, type BucketInfo, type Result, type SiloError, type UpgradeStatus } from '../../shared/types';
import { noteCyclesGiven, reserveRefusal } from './cycles';
import { type Env, getConfig, getU64, type IndexState, MetaKey, type Ports, setU64, takeNext, currentEpoch } from './state';

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

// ------------------------------------------------------------------ capacity

/** The byte count past which a bucket takes no new uploads. */
export function bucketLimit(bucket: BucketInfo, thresholdPercent: number): bigint {
    return (bucket.capacity_bytes * BigInt(thresholdPercent)) / 100n;
}

/**
 * Picks the active bucket with the most room for `size` more bytes (spreading uploads), or null.
 */
export function allocateBucket(state: IndexState, size: bigint): BucketInfo | null {
    const threshold = getConfig(state).full_threshold_percent;
    let best: BucketInfo | null = null;
    let bestFree = -1n;
    for (const [, bucket] of state.buckets.items()) {
        if (!('active' in bucket.status)) continue;
        const free = bucketLimit(bucket, threshold) - bucket.used_bytes - bucket.reserved_bytes;
        if (free >= size && free > bestFree) {
            best = bucket;
            bestFree = free;
        }
    }
    return best;
}

/** Adds to a bucket's reserved or used bytes (negative to release), marking it full or active. */
export function adjustBucket(state: IndexState, id: Principal, delta: { reserved?: bigint; used?: bigint }): void {
    const bucket = state.buckets.get(id);
    if (bucket === undefined) throw new Error(`invariant broken: bucket ${id.toText()} is not registered`);
    bucket.reserved_bytes += delta.reserved ?? 0n;
    bucket.used_bytes += delta.used ?? 0n;
    if (bucket.reserved_bytes < 0n || bucket.used_bytes < 0n) throw new Error(`invariant broken: bucket ${id.toText()} accounting went negative`);
    const full = bucket.used_bytes + bucket.reserved_bytes >= bucketLimit(bucket, getConfig(state).full_threshold_percent);
    bucket.status = full ? { full: null } : { active: null };
    state.buckets.insert(id, bucket);
}

export function registerBucket(state: IndexState, env: Env, id: Principal, capacity: bigint, createdByIndex: boolean, moduleHash?: Uint8Array): Result<BucketInfo> {
    if (state.buckets.containsKey(id)) return { Err: { InvalidArgument: `bucket ${id.toText()} is already registered` } };
    if (capacity <= 0n) return { Err: { InvalidArgument: 'bucket capacity must be positive' } };
    const bucket: BucketInfo = {
        id,
        capacity_bytes: capacity,
        used_bytes: 0n,
        reserved_bytes: 0n,
        status: { active: null },
        created_by_index: createdByIndex,
        created_at: env.now,
        module_hash: moduleHash === undefined ? [] : [moduleHash],
        last_upgrade_error: [],
        cycles: []
    };
    state.buckets.insert(id, bucket);
    return { Ok: bucket };
}

// ------------------------------------------------------------------ the bucket module

/** Starts a new upload of the bucket module; returns its generation, to pass with each piece. */
export function beginBucketWasm(state: IndexState): bigint {
    return takeNext(state, MetaKey.nextWasmGeneration);
}

export function putBucketWasmPiece(state: IndexState, generation: bigint, index: number, bytes: Uint8Array): Result<null> {
    if (generation === 0n || generation >= getU64(state, MetaKey.nextWasmGeneration)) {
        return { Err: { InvalidArgument: `unknown module generation ${generation}; call admin_begin_bucket_wasm first` } };
    }
    if (generation === getU64(state, MetaKey.activeWasmGeneration)) {
        return { Err: { InvalidArgument: `generation ${generation} is active and can no longer change` } };
    }
    if (bytes.length === 0 || bytes.length > WASM_PIECE_BYTES) return { Err: { InvalidArgument: `a piece must hold 1 to ${WASM_PIECE_BYTES} bytes` } };
    state.bucketWasm.insert([generation, index], bytes);
    return { Ok: null };
}

function assemble(state: IndexState, generation: bigint): Uint8Array {
    const pieces: Uint8Array[] = [];
    for (let i = 0; ; i++) {
        const piece = state.bucketWasm.get([generation, i]);
        if (piece === undefined) break;
        pieces.push(piece);
    }
    return concatBytes(pieces);
}

/** Activates an uploaded generation once its pieces hash to `expected`; older pieces are dropped. */
export function commitBucketWasm(state: IndexState, generation: bigint, expected: Uint8Array): Result<null> {
    const wasm = assemble(state, generation);
    if (wasm.length === 0) return { Err: { InvalidArgument: `generation ${generation} has no pieces (pieces are numbered from 0)` } };
    const actual = sha256(wasm);
    if (toHex(actual) !== toHex(expected)) {
        return { Err: { HashMismatch: { expected, actual } } };
    }
    const previous = getU64(state, MetaKey.activeWasmGeneration);
    setU64(state, MetaKey.activeWasmGeneration, generation);
    state.meta.insert(MetaKey.activeWasmHash, actual);
    setU64(state, MetaKey.activeWasmSize, BigInt(wasm.length));
    if (previous !== 0n) {
        for (let i = 0; state.bucketWasm.remove([previous, i]) !== undefined; i++);
    }
    return { Ok: null };
}

export function activeWasmHash(state: IndexState): Uint8Array | undefined {
    return state.meta.get(MetaKey.activeWasmHash);
}

/** The active bucket module, assembled from its pieces, with its hash (recorded when it was committed). */
function activeModule(state: IndexState): { wasm: Uint8Array; hash: Uint8Array } | undefined {
    const generation = getU64(state, MetaKey.activeWasmGeneration);
    const hash = activeWasmHash(state);
    return generation === 0n || hash === undefined ? undefined : { wasm: assemble(state, generation), hash };
}

// ------------------------------------------------------------------ creating buckets

/** The init (and post_upgrade) argument of a bucket of this index. */
function bucketInitArg(index: Principal): Uint8Array {
    return new Uint8Array(IDL.encode([BucketInitArgs], [{ index }]));
}

/**
 * Why begin_upload may not create a bucket for `size` bytes now (before anything is spent), or null: no
 * bucket of the configured capacity could hold it, creation is switched off, or one was created less than
 * `bucket_creation_interval_seconds` ago.
 */
export function bucketCreationRefusal(state: IndexState, env: Env, size: bigint): SiloError | null {
    const config = getConfig(state);
    const fresh = (config.bucket_capacity_bytes * BigInt(config.full_threshold_percent)) / 100n;
    if (size > fresh) return { LimitExceeded: { what: 'bytes a bucket can hold', limit: fresh, requested: size } };
    if (!config.auto_create_buckets) return { NoCapacity: `no bucket has room for ${size} bytes and auto_create_buckets is off; a controller must add a bucket` };
    const last = getU64(state, MetaKey.lastBucketCreatedAt);
    const next = last + BigInt(config.bucket_creation_interval_seconds) * 1_000_000_000n;
    if (last !== 0n && next > env.now) return { RateLimited: { what: 'creating a new bucket (no bucket has room)', retry_at: next } };
    const poor = state.meta.containsKey(MetaKey.pendingBucket) ? null : reserveRefusal(state, env, config.bucket_cycles);
    if (poor !== null) return { NoCapacity: `no bucket has room for ${size} bytes and a new one cannot be created: ${poor}` };
    return null;
}

/** How long a bucket creation may be in flight before its marker counts as left behind by a trap. */
const CREATION_LEASE_NS = 10n * 60n * 1_000_000_000n;

/**
 * Why the index must not be upgraded now, or null: a create_canister call in flight would answer a
 * callback the new code does not have, and the funded canister would be lost. Stopping the index first
 * lets the call finish.
 */
export function upgradeRefusal(state: IndexState, now: bigint): string | null {
    if (!state.meta.containsKey(MetaKey.creatingBucket)) return null;
    const since = getU64(state, MetaKey.creatingBucketAt);
    if (since + CREATION_LEASE_NS <= now) return null;
    return 'a bucket creation (create_canister) is in flight: stop the index so it completes, then upgrade';
}

/**
 * Creates and installs a new bucket with cycles from the index's balance, then registers it. Only one
 * creation runs at a time; a second caller gets Busy and should retry.
 */
export async function createBucket(state: IndexState, env: Env, ports: Ports): Promise<Result<BucketInfo>> {
    const config = getConfig(state);
    // Read before any await: a new module may be committed while this one installs.
    const module = activeModule(state);
    if (module === undefined) {
        return { Err: { NoCapacity: 'no bucket has room and the index holds no bucket module to create one; a controller must upload it (admin_begin_bucket_wasm) or register a bucket' } };
    }
    // getU64 reads a missing key as 0, never an epoch.
    if (getU64(state, MetaKey.creatingBucket) === currentEpoch(state)) {
        return { Err: { Busy: 'a new bucket is being created; retry in a few seconds' } };
    }
    const pending = state.meta.get(MetaKey.pendingBucket);
    // A new bucket's cycles come out of what the index can spare above its reserve, never below it.
    const poor = pending === undefined ? reserveRefusal(state, env, config.bucket_cycles) : null;
    if (poor !== null) return { Err: { NoCapacity: `creating a bucket with ${config.bucket_cycles} cycles (bucket_cycles): ${poor}` } };
    setU64(state, MetaKey.creatingBucket, currentEpoch(state));
    setU64(state, MetaKey.creatingBucketAt, env.now);
    try {
        let id: Principal;
        if (pending !== undefined) {
            id = Principal.fromUint8Array(pending);
        } else {
            noteCyclesGiven(state, config.bucket_cycles);
            id = await ports.management.createCanister([env.self, ...config.bucket_controllers], config.bucket_cycles);
            // Remember it at once: if installing fails, the next attempt installs this canister.
            state.meta.insert(MetaKey.pendingBucket, id.toUint8Array());
        }
        await ports.management.installCode(id, 'install', module.wasm, bucketInitArg(env.self));
        state.meta.remove(MetaKey.pendingBucket);
        setU64(state, MetaKey.lastBucketCreatedAt, env.now);
        return registerBucket(state, env, id, config.bucket_capacity_bytes, true, module.hash);
    } catch (error) {
        return { Err: { NoCapacity: `creating a new bucket failed: ${describe(error)}` } };
    } finally {
        state.meta.remove(MetaKey.creatingBucket);
        state.meta.remove(MetaKey.creatingBucketAt);
    }
}

// ------------------------------------------------------------------ upgrading buckets

/** Queues every bucket for an upgrade to the active module. */
export function scheduleUpgrades(state: IndexState, env: Env): Result<UpgradeStatus> {
    const target = activeWasmHash(state);
    if (target === undefined) return { Err: { InvalidArgument: 'no bucket module is active; upload one first' } };
    for (const [id] of state.buckets.items()) {
        state.upgrades.insert(id, { target_hash: target, attempts: 0, done: false, error: [], next_attempt_at: env.now });
    }
    return { Ok: upgradeStatus(state) };
}

export function upgradeStatus(state: IndexState): UpgradeStatus {
    const status: UpgradeStatus = { target_hash: [], pending: [], failed: [], upgraded: [] };
    const target = activeWasmHash(state);
    if (target !== undefined) status.target_hash = [target];
    for (const [id, record] of state.upgrades.items()) {
        if (record.done) status.upgraded.push(id);
        else if (record.error.length > 0) status.failed.push({ bucket: id, error: record.error[0]!, attempts: record.attempts });
        else status.pending.push(id);
    }
    return status;
}

/**
 * Upgrades the due buckets one at a time: stop, install the new module, start. A failure is recorded and
 * retried later with backoff; the bucket is started again either way.
 */
export async function runUpgrades(state: IndexState, env: Env, ports: Ports): Promise<void> {
    // The module is assembled from its pieces only once a bucket is due, and then once for all of them.
    let module: ReturnType<typeof activeModule>;
    const arg = bucketInitArg(env.self);
    for (const [id, record] of state.upgrades.items()) {
        if (record.done || record.next_attempt_at > env.now) continue;
        module ??= activeModule(state);
        if (module === undefined) return;
        let error: string | null = null;
        try {
            await ports.management.stopCanister(id);
            await ports.management.installCode(id, 'upgrade', module.wasm, arg);
        } catch (e) {
            error = describe(e);
        }
        try {
            await ports.management.startCanister(id);
        } catch (e) {
            error = error ?? `started no more after the upgrade: ${describe(e)}`;
        }
        // Other messages ran during the awaits: read the records again before writing.
        const current = state.upgrades.get(id);
        if (current === undefined) continue;
        current.attempts += 1;
        if (error === null) {
            current.done = true;
            current.error = [];
        } else {
            current.error = [error];
            current.next_attempt_at = env.now + backoff(current.attempts);
        }
        state.upgrades.insert(id, current);
        const bucket = state.buckets.get(id);
        if (bucket !== undefined) {
            if (error === null) bucket.module_hash = [module.hash];
            bucket.last_upgrade_error = error === null ? [] : [error];
            state.buckets.insert(id, bucket);
        }
    }
}

/** Retry delay after `attempts` failures: 10 s doubling, at most an hour. */
export function backoff(attempts: number): bigint {
    const seconds = Math.min(10 * 2 ** Math.max(0, attempts - 1), 3600);
    return BigInt(seconds) * 1_000_000_000n;
}
