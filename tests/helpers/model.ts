/**
 * A model-based, fault-injecting run of Silo: fast-check generates seeded sequences of user operations
 * (begin, put, finish, abort, delete, list, download, from several users, duplicated and out of order)
 * interleaved with faults (buckets stopped, trapping or upgraded mid-finish, index upgrades mid-finish,
 * time jumps past expiry, buckets and the index out of cycles). Each step runs against the real Wasm on
 * the replica and against a plain model; after every step the invariants are checked:
 *
 * - every committed asset is listed, described and (every `fullCheckEvery` steps, and whenever it is new)
 *   downloads to exactly its bytes; a chunk of each is read back after every step;
 * - nothing uncommitted is visible: no open, aborted or expired session reads as an asset; listings
 *   hold exactly the model's assets a caller may see;
 * - the index's totals, each bucket's used/reserved bytes and each owner's used bytes equal the model's;
 * - once tasks drain (checked every `fullCheckEvery` steps), every bucket holds exactly the chunks of
 *   the model's open sessions and assets: nothing outlives its session or asset;
 * - no execution traps, except the traps a fault injects (so no instruction-limit trap either).
 *
 * Used by tests/silo/model.test.ts (short profile) and bench/soak.ts (long profile).
 */
import type { Ed25519KeyIdentity } from '@dfinity/identity';
import type { Principal } from '@dfinity/principal';
import fc from 'fast-check';

import { uploadCost } from '../../canisters/index/cycles';
import { chunkCount, DEFAULT_INDEX_CYCLES_RESERVE, expectedChunkLength } from '../../shared/constants';
import { sha256 } from '../../shared/sha256';
import type { Asset, BucketInfo, ConfigUpdate, Stats, UploadTicket } from '../../shared/types';
import { bucketIdlFactory, indexIdlFactory } from '../../shared/idl';
import { bytes, split } from './bytes';
import { canisterWasm, createPic, fixtureWasm, type TestPic } from './pic';
import { ADMIN, deploySilo, identity, type Service, type Silo, upgradeBucket, upgradeIndex } from './silo';

// ------------------------------------------------------------------ settings of the deployment under test

const KIB = 1024;
export const MODEL_CONFIG = {
    quota_bytes: 48n * 1024n,
    session_ttl_ns: 24n * 3600n * 1_000_000_000n,
    sweep_interval_seconds: 60,
    hash_slice_bytes: 1024,
    min_chunk_size: 1024,
    session_min_charge_bytes: 1024n,
    max_open_sessions_per_owner: 3,
    max_failed_finishes: 3
};
const CHUNK_SIZES = [1 * KIB, 2 * KIB, 4 * KIB];
const MAX_SIZE = 12 * KIB;
const USERS = ['alice', 'bob', 'carol'];
/** Identities of the adversary (outside USERS, so the model's per-user accounting stays theirs). */
const ADVERSARIES = 4;
const BUCKETS = 2;
const NS_PER_MS = 1_000_000n;
/** What one adversary call may cost the index in its own fees (execution, inter-canister calls). */
const FEE_MARGIN = 20_000_000_000n;
/** A drained bucket's balance: below its freezing reserve plus a maximal execution. */
const DRAINED_CYCLES = 1_000_000_000n;

function config(): Partial<ConfigUpdate> {
    return Object.fromEntries(Object.entries(MODEL_CONFIG).map(([k, v]) => [k, [v]])) as Partial<ConfigUpdate>;
}

// ------------------------------------------------------------------ operations

const pick = fc.nat({ max: 1_000_000 });
const user = fc.nat({ max: USERS.length - 1 });

export type Op =
    | { kind: 'begin'; user: number; size: number; chunkSize: number; checkpoints: boolean; public: boolean; seed: number }
    | { kind: 'upload'; user: number; size: number; chunkSize: number; checkpoints: boolean; public: boolean; seed: number }
    | { kind: 'put'; session: number; chunk: number; corrupt: boolean }
    | { kind: 'putAll'; session: number; order: 'forward' | 'reverse' | 'concurrent'; duplicate: boolean }
    | { kind: 'finish'; session: number }
    | { kind: 'finishTwice'; session: number }
    | { kind: 'abort'; session: number }
    | { kind: 'delete'; asset: number; user: number }
    | { kind: 'stale'; id: number; call: 'finish' | 'abort' | 'put' | 'delete' }
    | { kind: 'list'; user: number; owner: number; limit: number }
    | { kind: 'download'; asset: number; user: number }
    // faults
    | { kind: 'stopBucket'; bucket: number }
    | { kind: 'startBucket'; bucket: number }
    | { kind: 'finishThenStop'; session: number; ticks: number }
    | { kind: 'faultyBucket'; bucket: number }
    | { kind: 'healBucket'; bucket: number }
    | { kind: 'upgradeBucket'; bucket: number }
    | { kind: 'upgradeIndex' }
    | { kind: 'finishThenUpgradeIndex'; session: number; ticks: number }
    | { kind: 'timeJump'; span: 'minutes' | 'nearTtl' | 'pastTtl' }
    | { kind: 'drainBucket'; bucket: number }
    | { kind: 'refuelBuckets' }
    | { kind: 'drainIndex'; user: number }
    // an adversary (identities outside USERS): opens uploads and abandons them, or asks for more than its quota
    | { kind: 'adversary'; who: number; size: number; abandon: boolean };

const FAULTS = new Set<Op['kind']>([
    'stopBucket',
    'finishThenStop',
    'faultyBucket',
    'upgradeBucket',
    'upgradeIndex',
    'finishThenUpgradeIndex',
    'timeJump',
    'drainBucket',
    'drainIndex',
    'finishTwice',
    'stale',
    'adversary'
]);

export function opArbitrary(): fc.Arbitrary<Op> {
    const bucket = fc.nat({ max: BUCKETS - 1 });
    const ticks = fc.integer({ min: 1, max: 8 });
    return fc.oneof(
        { weight: 7, arbitrary: fc.record({ kind: fc.constant('begin' as const), user, size: fc.integer({ min: 0, max: MAX_SIZE }), chunkSize: fc.constantFrom(...CHUNK_SIZES), checkpoints: fc.boolean(), public: fc.boolean(), seed: pick }) },
        // The whole protocol in one step (begin, every chunk, finish), as a client runs it.
        { weight: 5, arbitrary: fc.record({ kind: fc.constant('upload' as const), user, size: fc.integer({ min: 0, max: MAX_SIZE }), chunkSize: fc.constantFrom(...CHUNK_SIZES), checkpoints: fc.boolean(), public: fc.boolean(), seed: pick }) },
        { weight: 6, arbitrary: fc.record({ kind: fc.constant('put' as const), session: pick, chunk: pick, corrupt: fc.integer({ min: 0, max: 5 }).map((x) => x === 0) }) },
        { weight: 7, arbitrary: fc.record({ kind: fc.constant('putAll' as const), session: pick, order: fc.constantFrom('forward' as const, 'reverse' as const, 'concurrent' as const), duplicate: fc.boolean() }) },
        { weight: 7, arbitrary: fc.record({ kind: fc.constant('finish' as const), session: pick }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('finishTwice' as const), session: pick }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort' as const), session: pick }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), asset: pick, user }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('stale' as const), id: pick, call: fc.constantFrom('finish' as const, 'abort' as const, 'put' as const, 'delete' as const) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('list' as const), user, owner: user, limit: fc.integer({ min: 1, max: 4 }) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('download' as const), asset: pick, user }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('stopBucket' as const), bucket }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('startBucket' as const), bucket }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('finishThenStop' as const), session: pick, ticks }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('faultyBucket' as const), bucket }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('healBucket' as const), bucket }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('upgradeBucket' as const), bucket }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('upgradeIndex' as const) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('finishThenUpgradeIndex' as const), session: pick, ticks }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('timeJump' as const), span: fc.constantFrom('minutes' as const, 'nearTtl' as const, 'pastTtl' as const) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('drainBucket' as const), bucket }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('refuelBuckets' as const) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('drainIndex' as const), user }) },
        {
            weight: 2,
            arbitrary: fc.record({
                kind: fc.constant('adversary' as const),
                who: fc.nat({ max: ADVERSARIES - 1 }),
                // Up to twice the quota: some asks are refused (QuotaExceeded), the rest admitted.
                size: fc.integer({ min: 0, max: Number(MODEL_CONFIG.quota_bytes) * 2 }),
                abandon: fc.boolean()
            })
        }
    );
}

// ------------------------------------------------------------------ the model

type Held = 'good' | 'bad' | undefined;

interface ModelSession {
    id: bigint;
    owner: number;
    data: Uint8Array;
    chunkSize: number;
    chunks: Uint8Array[];
    checkpoints: boolean;
    public: boolean;
    bucket: string;
    held: Held[];
    /** Chunks below this are verified and may not change (the bucket refuses them). */
    frozenBelow: number;
    /** A finish failed while the bucket was unreachable: it may still be sealed, refusing puts. */
    maybeSealed: boolean;
    lastActivity: bigint;
    mismatches: number;
}

interface ModelAsset {
    id: bigint;
    owner: number;
    data: Uint8Array;
    public: boolean;
    bucket: string;
    chunkSize: number;
    chunkCount: number;
    /** Downloaded whole since it was committed. */
    verified: boolean;
    /**
     * The bucket has heard of the commit. A finish cut short by a fault (its bucket stopped right after
     * the index committed) leaves the notice in the index's task queue, retried with backoff: until it
     * lands, the index lists the asset and the bucket answers AssetNotFound for its chunks.
     */
    noticed: boolean;
}

export interface ModelReport {
    seed: number;
    runs: number;
    operations: number;
    faults: number;
    byKind: Record<string, number>;
    /** Operations whose target did not exist (e.g. put with no open session): run as nothing. */
    skipped: number;
    committed: number;
    committedBytes: number;
    downloads: number;
    invariantChecks: number;
    drains: number;
    injectedTraps: number;
}

class Failure extends Error {
    override name = 'ModelFailure';
}

function fail(message: string): never {
    throw new Failure(message);
}

const json = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? `<${x.length} bytes>` : x?._isPrincipal ? x.toText() : x));

type Outcome<T> = { ok: true; value: T } | { ok: false; reject: string };

async function attempt<T>(run: () => Promise<T>): Promise<Outcome<T>> {
    try {
        return { ok: true, value: await run() };
    } catch (error) {
        return { ok: false, reject: error instanceof Error ? error.message : String(error) };
    }
}

const errKind = (r: any): string => (r && typeof r === 'object' && 'Err' in r ? Object.keys(r.Err)[0] : 'Ok');

/** One deployment driven by one sequence of operations. */
export class ModelRun {
    readonly users: Ed25519KeyIdentity[] = USERS.map((u) => identity(`model-${u}`));
    readonly sessions = new Map<bigint, ModelSession>();
    readonly assets = new Map<bigint, ModelAsset>();
    /** Ids no longer live: aborted, expired, deleted, refused at begin. */
    readonly gone = new Map<bigint, { fate: 'aborted' | 'expired' | 'deleted'; owner: number }>();
    /**
     * Deleted assets and dropped sessions (aborted, expired, refused by their bucket at begin) whose chunks
     * may still be in their bucket, where they count as used bytes until the deletion task completes.
     */
    readonly deleting = new Map<bigint, { bucket: string; size: bigint }>();
    readonly stopped = new Set<string>();
    readonly faulty = new Set<string>();
    readonly drained = new Set<string>();
    readonly traps: string[] = [];
    /** Sessions the adversary opened and left (it never sends a chunk): the expiry sweep must free them. */
    readonly abandoned = new Map<bigint, { bucket: string; size: bigint; who: number; openedAt: bigint }>();
    /** The index's reserve (index_cycles_reserve): the default, which MODEL_CONFIG leaves alone. */
    readonly reserve = DEFAULT_INDEX_CYCLES_RESERVE;
    private step = 0;

    private constructor(
        readonly pic: TestPic,
        readonly silo: Silo,
        readonly report: ModelReport,
        readonly fullCheckEvery: number
    ) {}

    static async create(report: ModelReport, fullCheckEvery: number): Promise<ModelRun> {
        const pic = await createPic();
        const silo = await deploySilo(pic, { buckets: BUCKETS, config: config() });
        const run = new ModelRun(pic, silo, report, fullCheckEvery);
        run.watchTraps();
        return run;
    }

    get buckets(): string[] {
        return this.silo.buckets.map((b) => b.toText());
    }

    private principal(text: string): Principal {
        return this.silo.buckets.find((b) => b.toText() === text)!;
    }

    private down(bucket: string): boolean {
        return this.stopped.has(bucket) || this.drained.has(bucket);
    }

    private anyDown(): boolean {
        return this.buckets.some((b) => this.down(b) || this.faulty.has(b));
    }

    /** Records every trap of every canister (new ones included): only injected faults may trap. */
    private watchTraps(): void {
        const replica = this.pic.replica;
        if (replica === undefined) return;
        for (const canister of replica.canisters.values()) {
            if (canister.observer !== null) continue;
            canister.observer = (c, exec, trap) => {
                if (trap === null) return;
                if (trap.message.includes('fault injection')) {
                    this.report.injectedTraps++;
                    return;
                }
                this.traps.push(`${c.idText} ${exec.options.method ?? exec.kind}: ${trap.message}`);
            };
        }
    }

    async now(): Promise<bigint> {
        return BigInt(Math.round(await this.pic.getTime())) * NS_PER_MS;
    }

    private index(user: number): Service {
        return this.silo.index(this.users[user]) as unknown as Service;
    }

    private bucketActor(bucket: string, user: number): Service {
        return this.silo.bucket(this.principal(bucket), this.users[user]) as unknown as Service;
    }

    private nth<T>(items: Iterable<T>, at: number): T | undefined {
        const list = [...items];
        return list.length === 0 ? undefined : list[at % list.length];
    }

    private charge(s: { data: Uint8Array }): bigint {
        const size = BigInt(s.data.length);
        return size > MODEL_CONFIG.session_min_charge_bytes ? size : MODEL_CONFIG.session_min_charge_bytes;
    }

    /** The model's view of an owner's used bytes: committed plus reserved (each session at least the minimum charge). */
    usedBy(owner: number): bigint {
        let used = 0n;
        for (const a of this.assets.values()) if (a.owner === owner) used += BigInt(a.data.length);
        for (const s of this.sessions.values()) if (s.owner === owner) used += this.charge(s);
        return used;
    }

    // -------------------------------------------------------------- running one operation

    async apply(op: Op): Promise<void> {
        this.step++;
        this.report.operations++;
        this.report.byKind[op.kind] = (this.report.byKind[op.kind] ?? 0) + 1;
        if (FAULTS.has(op.kind)) this.report.faults++;
        const ran = await this.dispatch(op);
        if (!ran) this.report.skipped++;
        this.watchTraps();
        await this.check(this.step % this.fullCheckEvery === 0);
    }

    private async dispatch(op: Op): Promise<boolean> {
        switch (op.kind) {
            case 'begin':
                return this.begin(op);
            case 'upload': {
                const before = new Set(this.sessions.keys());
                await this.begin({ ...op, kind: 'begin' });
                const s = [...this.sessions.values()].find((x) => !before.has(x.id));
                if (s === undefined) return true;
                await this.putAll(s, 'forward', false);
                await this.finish(s);
                return true;
            }
            case 'put': {
                const s = this.nth(this.sessions.values(), op.session);
                if (s === undefined || s.chunks.length === 0) return false;
                await this.put(s, op.chunk % s.chunks.length, op.corrupt);
                return true;
            }
            case 'putAll': {
                const s = this.nth(this.sessions.values(), op.session);
                if (s === undefined) return false;
                await this.putAll(s, op.order, op.duplicate);
                return true;
            }
            case 'finish': {
                const s = this.nth(this.sessions.values(), op.session);
                if (s === undefined) return false;
                await this.finish(s);
                return true;
            }
            case 'finishTwice': {
                const s = this.nth(this.sessions.values(), op.session);
                if (s === undefined) return false;
                await this.finishTwice(s);
                return true;
            }
            case 'abort': {
                const s = this.nth(this.sessions.values(), op.session);
                if (s === undefined) return false;
                await this.abort(s);
                return true;
            }
            case 'delete': {
                const a = this.nth(this.assets.values(), op.asset);
                if (a === undefined) return false;
                await this.delete(a, op.user);
                return true;
            }
            case 'stale':
                return this.stale(op);
            case 'list':
                await this.list(op.user, op.owner, op.limit);
                return true;
            case 'download': {
                const a = this.nth(this.assets.values(), op.asset);
                if (a === undefined || this.down(a.bucket)) return false;
                await this.download(a, op.user);
                return true;
            }
            case 'stopBucket': {
                const b = this.buckets[op.bucket];
                if (this.stopped.has(b)) return false;
                await this.pic.stopCanister({ canisterId: this.principal(b), sender: ADMIN });
                this.stopped.add(b);
                return true;
            }
            case 'startBucket': {
                const b = this.buckets[op.bucket];
                if (!this.stopped.has(b)) return false;
                await this.pic.startCanister({ canisterId: this.principal(b), sender: ADMIN });
                this.stopped.delete(b);
                return true;
            }
            case 'finishThenStop':
                return this.finishThen(op.session, op.ticks, 'stop');
            case 'finishThenUpgradeIndex':
                return this.finishThen(op.session, op.ticks, 'upgradeIndex');
            case 'faultyBucket': {
                const b = this.buckets[op.bucket];
                if (this.faulty.has(b) || this.down(b)) return false;
                await this.upgradeBucketTo(b, fixtureWasm('bucket_faulty'));
                this.faulty.add(b);
                return true;
            }
            case 'healBucket': {
                const b = this.buckets[op.bucket];
                if (!this.faulty.has(b) || this.down(b)) return false;
                await this.upgradeBucketTo(b, canisterWasm('bucket'));
                this.faulty.delete(b);
                return true;
            }
            case 'upgradeBucket': {
                const b = this.buckets[op.bucket];
                if (this.down(b)) return false;
                await this.upgradeBucketTo(b, this.faulty.has(b) ? fixtureWasm('bucket_faulty') : canisterWasm('bucket'));
                return true;
            }
            case 'upgradeIndex':
                await this.upgrade(this.silo.indexId, () => upgradeIndex(this.silo));
                return true;
            case 'timeJump':
                await this.timeJump(op.span);
                return true;
            case 'drainBucket': {
                const b = this.buckets[op.bucket];
                if (this.pic.replica === undefined || this.down(b)) return false;
                // Below the freezing reserve plus a maximal execution: the bucket refuses every message.
                this.pic.replica.getCanister(b)!.cycles = DRAINED_CYCLES;
                this.drained.add(b);
                return true;
            }
            case 'refuelBuckets':
                return this.refuel();
            case 'drainIndex':
                return this.drainIndex(op.user);
            case 'adversary':
                return this.adversary(op);
        }
    }

    // -------------------------------------------------------------- user operations

    private async begin(op: Extract<Op, { kind: 'begin' }>): Promise<boolean> {
        const data = bytes(op.size, op.seed + 1);
        const { chunks, checkpoints } = split(data, op.chunkSize);
        const args = {
            name: `f${op.seed}`,
            content_type: 'application/octet-stream',
            size: BigInt(data.length),
            sha256: sha256(data),
            chunk_size: op.chunkSize,
            visibility: op.public ? { public: null } : { private: null },
            checkpoints: op.checkpoints ? [checkpoints] : []
        };
        const usedBefore = this.usedBy(op.user);
        const openBefore = [...this.sessions.values()].filter((s) => s.owner === op.user).length;
        const result = await attempt(() => this.index(op.user).begin_upload(args));
        if (!result.ok) fail(`begin_upload was rejected: ${result.reject}`);
        const r = result.value;
        const charge = this.charge({ data });
        const overQuota = usedBefore + charge > MODEL_CONFIG.quota_bytes;
        const overSessions = openBefore >= MODEL_CONFIG.max_open_sessions_per_owner;
        const kind = errKind(r);
        if (kind === 'QuotaExceeded') {
            if (!overQuota) fail(`begin_upload said QuotaExceeded but the model has ${usedBefore} + ${charge} of ${MODEL_CONFIG.quota_bytes}: ${json(r)}`);
            if (r.Err.QuotaExceeded.used !== usedBefore) fail(`owner ${USERS[op.user]} uses ${r.Err.QuotaExceeded.used} bytes by the index, ${usedBefore} by the model`);
            return true;
        }
        if (kind === 'LimitExceeded') {
            if (!overSessions) fail(`begin_upload said LimitExceeded with ${openBefore} sessions open: ${json(r)}`);
            return true;
        }
        if (kind === 'BucketUnavailable' || kind === 'InsufficientCycles') {
            if (!this.anyDown()) fail(`begin_upload failed with ${json(r)} while every bucket is up`);
            if (kind === 'BucketUnavailable') this.deleting.set(-BigInt(this.step), { bucket: r.Err.BucketUnavailable.bucket.toText(), size: BigInt(data.length) });
            return true;
        }
        if (kind !== 'Ok') fail(`begin_upload failed: ${json(r)}`);
        if (overQuota) fail(`begin_upload accepted ${charge} bytes over the quota: the model has ${usedBefore} of ${MODEL_CONFIG.quota_bytes} in use`);
        if (overSessions) fail(`begin_upload accepted a session beyond the cap of ${MODEL_CONFIG.max_open_sessions_per_owner} open sessions`);
        const ticket = r.Ok as UploadTicket;
        if (ticket.chunk_count !== chunks.length) fail(`ticket has ${ticket.chunk_count} chunks, the model ${chunks.length}`);
        this.sessions.set(ticket.session_id, {
            id: ticket.session_id,
            owner: op.user,
            data,
            chunkSize: op.chunkSize,
            chunks,
            checkpoints: op.checkpoints,
            public: op.public,
            bucket: ticket.bucket.toText(),
            held: chunks.map(() => undefined),
            frozenBelow: 0,
            maybeSealed: false,
            lastActivity: await this.now(),
            mismatches: 0
        });
        return true;
    }

    private chunkBytes(s: ModelSession, index: number, corrupt: boolean): Uint8Array {
        const chunk = s.chunks[index];
        if (!corrupt) return chunk;
        const bad = chunk.slice();
        bad[bad.length >> 1] ^= 0x5a;
        return bad;
    }

    /** Applies one put's outcome to the model, checking it was allowed. */
    private async settlePut(s: ModelSession, index: number, corrupt: boolean, result: Outcome<any>): Promise<void> {
        if (!result.ok) {
            // A sealed session's chunks are dropped at inspection (a rejection), like any unwritable session's.
            if (this.down(s.bucket) || s.maybeSealed) return;
            fail(`put_chunk ${s.id}/${index} was rejected while its bucket is up: ${result.reject}`);
        }
        const kind = errKind(result.value);
        if (kind === 'Ok') {
            if (index < s.frozenBelow) fail(`put_chunk replaced chunk ${index} of ${s.id}, verified and frozen below ${s.frozenBelow}`);
            s.held[index] = corrupt ? 'bad' : 'good';
            s.lastActivity = await this.now();
            return;
        }
        if (kind === 'SessionClosed' && (index < s.frozenBelow || s.maybeSealed)) return;
        fail(`put_chunk ${s.id}/${index} failed: ${json(result.value)} (frozen below ${s.frozenBelow}, maybe sealed ${s.maybeSealed})`);
    }

    private async put(s: ModelSession, index: number, corrupt: boolean): Promise<void> {
        const result = await attempt(() => this.bucketActor(s.bucket, s.owner).put_chunk(s.id, index, this.chunkBytes(s, index, corrupt)));
        await this.settlePut(s, index, corrupt, result);
    }

    /** Sends every chunk not known good, forward, backward or all at once; optionally each twice. */
    private async putAll(s: ModelSession, order: 'forward' | 'reverse' | 'concurrent', duplicate: boolean): Promise<void> {
        let indexes = s.held.flatMap((h, i) => (h === 'good' || i < s.frozenBelow ? [] : [i]));
        if (order === 'reverse') indexes = indexes.reverse();
        if (duplicate) indexes = indexes.flatMap((i) => [i, i]);
        if (order !== 'concurrent') {
            for (const i of indexes) await this.put(s, i, false);
            return;
        }
        const deferred = this.pic.createDeferredActor<Service>(bucketIdlFactory, this.principal(s.bucket));
        deferred.setIdentity(this.users[s.owner]);
        const pending: { i: number; wait: () => Promise<any> }[] = [];
        for (const i of indexes) {
            const submitted = await attempt(() => deferred.put_chunk(s.id, i, s.chunks[i]));
            if (!submitted.ok) {
                await this.settlePut(s, i, false, submitted);
                continue;
            }
            pending.push({ i, wait: submitted.value as () => Promise<any> });
        }
        for (const { i, wait } of pending) await this.settlePut(s, i, false, await attempt(wait));
    }

    /** The finish outcome the model predicts for a session while its bucket works. */
    private predictFinish(s: ModelSession): { kind: string; detail?: unknown } {
        const missing = s.held.flatMap((h, i) => (h === undefined ? [i] : []));
        if (missing.length > 0) return { kind: 'MissingChunks', detail: missing };
        const bad = s.held.findIndex((h) => h === 'bad');
        if (bad < 0) return { kind: 'Ok' };
        const full = expectedChunkLength({ size: BigInt(s.data.length), chunk_size: s.chunkSize, chunk_count: s.chunks.length }, bad) === s.chunkSize;
        return s.checkpoints && full ? { kind: 'ChecksumMismatch', detail: bad } : { kind: 'HashMismatch' };
    }

    /** Applies a finish_upload reply to the model. `uncertain`: a fault may have cut it short. */
    private async settleFinish(s: ModelSession, result: Outcome<any>, uncertain: boolean): Promise<void> {
        if (!result.ok) {
            if (!uncertain && !this.down(s.bucket)) fail(`finish_upload ${s.id} was rejected: ${result.reject}`);
            await this.resync(s);
            return;
        }
        const r = result.value;
        const kind = errKind(r);
        const predicted = this.predictFinish(s);
        if (kind === 'BucketUnavailable') {
            if (!uncertain && !this.down(s.bucket) && !this.faulty.has(s.bucket)) fail(`finish_upload ${s.id}: ${json(r)} while its bucket is up`);
            s.maybeSealed = true;
            s.lastActivity = await this.now();
            return;
        }
        if (kind === 'Busy' && uncertain) {
            await this.resync(s);
            return;
        }
        if (kind === 'FinishAttemptsExhausted') {
            if (predicted.kind !== 'ChecksumMismatch' && predicted.kind !== 'HashMismatch') fail(`finish_upload ${s.id} gave up though the model predicts ${predicted.kind}`);
            this.drop(s, 'aborted');
            return;
        }
        if (kind !== predicted.kind) fail(`finish_upload ${s.id}: got ${json(r)}, the model predicts ${json(predicted)}`);
        s.lastActivity = await this.now();
        switch (kind) {
            case 'Ok': {
                const asset = r.Ok as Asset;
                if (asset.id !== s.id || asset.size !== BigInt(s.data.length) || asset.bucket.toText() !== s.bucket || asset.chunk_count !== s.chunks.length) {
                    fail(`finish_upload ${s.id} committed ${json(asset)}, not the session's upload`);
                }
                this.commit(s, !uncertain);
                return;
            }
            case 'MissingChunks': {
                const reported = Array.from(r.Err.MissingChunks.missing as ArrayLike<number>);
                if (json(reported) !== json(predicted.detail)) fail(`finish_upload ${s.id} reports missing ${json(reported)}, the model ${json(predicted.detail)}`);
                s.maybeSealed = false;
                return;
            }
            case 'ChecksumMismatch': {
                const index = r.Err.ChecksumMismatch.chunk_index;
                if (index !== predicted.detail) fail(`finish_upload ${s.id} blames chunk ${index}, the model chunk ${predicted.detail}`);
                s.frozenBelow = index;
                s.held[index] = undefined;
                s.maybeSealed = false;
                s.mismatches++;
                if (uncertain) await this.settleReopen(s, index);
                return;
            }
            case 'HashMismatch':
                s.frozenBelow = 0;
                s.maybeSealed = false;
                s.mismatches++;
                if (uncertain) await this.settleReopen(s, null);
                return;
        }
    }

    /**
     * After a verification failure the index re-opens the bucket's session, dropping the bad chunk (or the
     * bucket dropped it itself, on the verifier's path). With the bucket stopped meanwhile that call may not
     * have landed (uploads.ts `reopen`): the session is then still sealed and, on the checkpoint path, the
     * bad chunk still held, until the next finish seals again (a no-op), finds the same chunk and re-opens.
     * So the model asks the bucket which of these it is, and checks it is one of them: a re-opened session
     * must not hold the dropped chunk.
     */
    private async settleReopen(s: ModelSession, dropped: number | null): Promise<void> {
        if (this.down(s.bucket)) {
            s.maybeSealed = true;
            return;
        }
        const status = await this.bucketActor(s.bucket, s.owner).upload_status(s.id);
        if (!('Ok' in status)) fail(`upload_status ${s.id} after a mismatch gave ${json(status)}`);
        const received = new Set(Array.from(status.Ok.received as ArrayLike<number>));
        if ('open' in status.Ok.state) {
            if (dropped !== null && received.has(dropped)) fail(`session ${s.id} was re-opened but still holds chunk ${dropped}, which verification rejected`);
            return;
        }
        if (!('sealed' in status.Ok.state)) fail(`session ${s.id} is ${json(status.Ok.state)} after a mismatch`);
        s.maybeSealed = true;
        // Still sealed: the re-open did not land. The chunk it was to drop is still there unless the bucket
        // dropped it while verifying.
        if (dropped !== null && received.has(dropped)) s.held[dropped] = 'bad';
    }

    private drop(s: ModelSession, fate: 'aborted' | 'expired'): void {
        this.sessions.delete(s.id);
        this.gone.set(s.id, { fate, owner: s.owner });
        this.deleting.set(s.id, { bucket: s.bucket, size: BigInt(s.data.length) });
    }

    private commit(s: ModelSession, noticed: boolean): void {
        this.sessions.delete(s.id);
        this.assets.set(s.id, { id: s.id, owner: s.owner, data: s.data, public: s.public, bucket: s.bucket, chunkSize: s.chunkSize, chunkCount: s.chunks.length, verified: false, noticed });
        this.report.committed++;
        this.report.committedBytes += s.data.length;
    }

    /**
     * After an outcome a fault made unknowable (a finish cut off by an upgrade), asks the index what
     * became of the session, and takes it as the model's state: committed, or still open (possibly sealed).
     */
    private async resync(s: ModelSession): Promise<void> {
        const asset = await this.index(s.owner).get_asset(s.id);
        if ('Ok' in asset) {
            this.commit(s, false);
            return;
        }
        const session = await this.index(s.owner).upload_session(s.id);
        if (!('Ok' in session)) fail(`session ${s.id} vanished after an interrupted finish: ${json(session)} / ${json(asset)}`);
        s.maybeSealed = true;
        s.lastActivity = await this.now();
    }

    private async finish(s: ModelSession): Promise<void> {
        const result = await attempt(() => this.index(s.owner).finish_upload(s.id));
        await this.settleFinish(s, result, false);
    }

    /** Two finish_upload messages for one session in flight at once: one wins, the other is Busy or sees the asset. */
    private async finishTwice(s: ModelSession): Promise<void> {
        const deferred = this.pic.createDeferredActor<Service>(indexIdlFactory, this.silo.indexId);
        deferred.setIdentity(this.users[s.owner]);
        const first = await deferred.finish_upload(s.id);
        const second = await deferred.finish_upload(s.id);
        const a = await attempt(first as () => Promise<any>);
        const b = await attempt(second as () => Promise<any>);
        const kinds = [a, b].map((x) => (x.ok ? errKind(x.value) : 'reject'));
        if (kinds.filter((k) => k !== 'Busy').length === 0) fail(`both concurrent finishes of ${s.id} were Busy`);
        const decisive = kinds[0] === 'Busy' ? b : a;
        const other = kinds[0] === 'Busy' ? a : b;
        const decisiveKind = decisive.ok ? errKind(decisive.value) : 'reject';
        await this.settleFinish(s, decisive, false);
        // The other one either lost the race (Busy), or came second and saw the committed asset.
        const otherKind = other.ok ? errKind(other.value) : 'reject';
        if (otherKind === 'Busy') return;
        if (otherKind === 'Ok' && decisiveKind === 'Ok') {
            if ((other as any).value.Ok.id !== s.id) fail('the second finish returned another asset');
            return;
        }
        if (otherKind === decisiveKind) return;
        fail(`concurrent finishes of ${s.id} disagree: ${json(kinds)}`);
    }

    /**
     * finish_upload with a fault injected while it runs: its bucket is stopped (and upgraded while
     * stopped, as the index's rolling upgrade does), or the index is stopped, which waits for the finish
     * to complete, and upgraded.
     */
    private async finishThen(sessionPick: number, ticks: number, fault: 'stop' | 'upgradeIndex'): Promise<boolean> {
        const s = this.nth(this.sessions.values(), sessionPick);
        if (s === undefined || this.down(s.bucket)) return false;
        const deferred = this.pic.createDeferredActor<Service>(indexIdlFactory, this.silo.indexId);
        deferred.setIdentity(this.users[s.owner]);
        const pending = await deferred.finish_upload(s.id);
        await this.pic.tick(ticks);
        if (fault === 'stop') {
            const bucket = this.principal(s.bucket);
            await this.pic.stopCanister({ canisterId: bucket, sender: ADMIN });
            const result = await attempt(pending as () => Promise<any>);
            if (ticks % 2 === 0) await upgradeBucket(this.silo, bucket, this.faulty.has(s.bucket) ? fixtureWasm('bucket_faulty') : canisterWasm('bucket'));
            await this.pic.startCanister({ canisterId: bucket, sender: ADMIN });
            await this.settleFinish(s, result, true);
        } else {
            await this.pic.stopCanister({ canisterId: this.silo.indexId, sender: ADMIN });
            const result = await attempt(pending as () => Promise<any>);
            await upgradeIndex(this.silo);
            await this.pic.startCanister({ canisterId: this.silo.indexId, sender: ADMIN });
            await this.settleFinish(s, result, false);
        }
        return true;
    }

    private async abort(s: ModelSession): Promise<void> {
        const result = await attempt(() => this.index(s.owner).abort_upload(s.id));
        if (!result.ok) fail(`abort_upload ${s.id} was rejected: ${result.reject}`);
        if (errKind(result.value) !== 'Ok') fail(`abort_upload ${s.id} failed: ${json(result.value)}`);
        this.drop(s, 'aborted');
    }

    private async delete(a: ModelAsset, caller: number): Promise<void> {
        const result = await attempt(() => this.index(caller).delete_asset(a.id));
        // Another user's delete may be dropped at inspection (a rejection) or refused; either way nothing changes.
        if (!result.ok && caller !== a.owner) return;
        if (!result.ok) fail(`delete_asset ${a.id} was rejected: ${result.reject}`);
        const kind = errKind(result.value);
        if (caller !== a.owner) {
            if (kind !== 'Unauthorized') fail(`${USERS[caller]} deleting ${USERS[a.owner]}'s asset ${a.id} got ${json(result.value)}`);
            return;
        }
        if (kind !== 'Ok') fail(`delete_asset ${a.id} failed: ${json(result.value)}`);
        this.deleting.set(a.id, { bucket: a.bucket, size: BigInt(a.data.length) });
        this.assets.delete(a.id);
        this.gone.set(a.id, { fate: 'deleted', owner: a.owner });
    }

    /** An old message arriving late: finish, abort, put or delete on an id that is no longer live. */
    private async stale(op: Extract<Op, { kind: 'stale' }>): Promise<boolean> {
        const candidates: [bigint, string, number][] = [
            ...[...this.gone.entries()].map(([id, g]) => [id, g.fate, g.owner] as [bigint, string, number]),
            ...[...this.assets.values()].map((a) => [a.id, 'committed', a.owner] as [bigint, string, number])
        ];
        const entry = this.nth(candidates, op.id);
        if (entry === undefined) return false;
        const [id, fate, owner] = entry;
        const index = this.index(owner);
        // Each late message is answered with an error or dropped at inspection (a rejection); never acted on.
        const late = async (call: () => Promise<any>): Promise<any> => {
            const r = await attempt(call);
            return r.ok ? r.value : { Err: { Rejected: r.reject } };
        };
        if (op.call === 'finish') {
            const r = await late(() => index.finish_upload(id));
            const kind = errKind(r);
            if (fate === 'committed') {
                // A repeated finish of a committed upload answers with the asset.
                if (!(kind === 'Ok' && r.Ok.id === id)) fail(`repeated finish of committed ${id} gave ${json(r)}`);
            } else if (!['SessionNotFound', 'SessionExpired', 'Rejected'].includes(kind)) fail(`finish of ${fate} ${id} gave ${json(r)}`);
        } else if (op.call === 'abort') {
            const r = await late(() => index.abort_upload(id));
            if (!['SessionNotFound', 'SessionExpired', 'Rejected'].includes(errKind(r))) fail(`abort of ${fate} ${id} gave ${json(r)}`);
        } else if (op.call === 'delete') {
            const r = await late(() => index.delete_asset(id));
            if (fate === 'committed') {
                if (errKind(r) !== 'Ok') fail(`delete of committed ${id} by its owner gave ${json(r)}`);
                const a = this.assets.get(id)!;
                this.deleting.set(id, { bucket: a.bucket, size: BigInt(a.data.length) });
                this.assets.delete(id);
                this.gone.set(id, { fate: 'deleted', owner });
            } else if (!['AssetNotFound', 'Rejected'].includes(errKind(r))) fail(`delete of ${fate} ${id} gave ${json(r)}`);
        } else {
            for (const bucket of this.buckets) {
                if (this.down(bucket)) continue;
                const r = await late(() => this.bucketActor(bucket, owner).put_chunk(id, 0, new Uint8Array(1024)));
                if (errKind(r) === 'Ok') fail(`put_chunk into ${fate} ${id} was accepted by ${bucket}`);
            }
        }
        return true;
    }

    private async list(caller: number, owner: number, limit: number): Promise<void> {
        const expected = [...this.assets.values()]
            .filter((a) => a.owner === owner && (a.public || caller === owner))
            .map((a) => a.id); // in commit order, as the model's map holds them
        const seen: bigint[] = [];
        let cursor: [] | [bigint] = [];
        for (let page = 0; page < 100; page++) {
            const r = await this.index(caller).list_assets({ owner: [this.users[owner].getPrincipal()], cursor, limit: [limit] });
            if (!('Ok' in r)) fail(`list_assets failed: ${json(r)}`);
            for (const a of r.Ok.assets as Asset[]) {
                seen.push(a.id);
                const m = this.assets.get(a.id);
                if (m === undefined) fail(`list_assets shows ${a.id}, which the model does not hold as committed`);
                if (a.size !== BigInt(m.data.length) || a.owner.toText() !== this.users[m.owner].getPrincipal().toText()) fail(`list_assets shows ${json(a)} unlike the model`);
            }
            if (r.Ok.next_cursor.length === 0) break;
            cursor = r.Ok.next_cursor;
        }
        if (json(seen) !== json(expected)) fail(`${USERS[caller]} lists ${USERS[owner]}'s assets as ${json(seen)}, the model ${json(expected)}`);
    }

    /**
     * Whether a bucket's AssetNotFound for committed asset `a` is what the IC allows: its commit notice is
     * still in the index's task queue. A chunk read that succeeds shows the notice landed.
     */
    private async noticePending(a: ModelAsset, r: any): Promise<boolean> {
        if (a.noticed) return false;
        if ('Ok' in r) {
            a.noticed = true;
            return false;
        }
        if (errKind(r) !== 'AssetNotFound') return false;
        const stats = (await this.silo.admin.stats()) as Stats;
        if (stats.pending_bucket_tasks === 0) fail(`asset ${a.id} is committed, its bucket does not know it, and no task is queued to tell it`);
        return true;
    }

    private async download(a: ModelAsset, caller: number): Promise<void> {
        const bucket = this.bucketActor(a.bucket, caller);
        const mayRead = a.public || caller === a.owner;
        const out = new Uint8Array(a.data.length);
        for (let i = 0; i < a.chunkCount; i++) {
            const r = await bucket.get_chunk(a.id, i);
            if (await this.noticePending(a, r)) return;
            if (!mayRead) {
                if (errKind(r) !== 'Unauthorized') fail(`${USERS[caller]} reading private ${a.id} got ${json(r)}`);
                return;
            }
            if (!('Ok' in r)) fail(`get_chunk ${a.id}/${i} failed: ${json(r)}`);
            out.set(r.Ok, i * a.chunkSize);
        }
        if (Buffer.compare(Buffer.from(out), Buffer.from(a.data)) !== 0) fail(`asset ${a.id} downloads to other bytes than were uploaded`);
        this.report.downloads++;
        if (caller === a.owner) a.verified = true;
    }

    // -------------------------------------------------------------- faults

    /**
     * Moves time on and lets the timers run. Sessions idle for longer than the TTL (plus sweeps) must be
     * gone, with SessionExpired; those idle for clearly less must live; the band between is read back.
     */
    private async timeJump(span: 'minutes' | 'nearTtl' | 'pastTtl'): Promise<void> {
        const ttlMs = Number(MODEL_CONFIG.session_ttl_ns / NS_PER_MS);
        const ms = span === 'minutes' ? 7 * 60_000 : span === 'nearTtl' ? Math.floor(ttlMs * 0.6) : ttlMs + 30 * 60_000;
        await this.pic.advanceTime(ms);
        await this.pic.tick(4);
        await this.settleExpiry();
    }

    private async settleExpiry(): Promise<void> {
        // A sweep the timer started may still be running (it awaits bucket calls): let it finish and run one
        // more to the end, so every session is decided for this time and none expires behind the model's back.
        await this.maintain();
        const now = await this.now();
        const ttl = MODEL_CONFIG.session_ttl_ns;
        const margin = 10n * 60n * 1_000_000_000n;
        for (const s of [...this.sessions.values()]) {
            const idle = now - s.lastActivity;
            // A session on an unreachable bucket may still expire: the index cannot ask it about writes.
            if (idle < ttl - margin && !this.down(s.bucket)) {
                const r = await this.index(s.owner).upload_session(s.id);
                if (!('Ok' in r)) fail(`session ${s.id} idle for ${idle / 1_000_000_000n} s (TTL ${ttl / 1_000_000_000n} s) is gone: ${json(r)}`);
                continue;
            }
            let r = await this.index(s.owner).upload_session(s.id);
            const due = idle > ttl + margin && !this.anyDown();
            // The sweep is one maintenance run of several bucket calls: give it rounds to get there.
            for (let round = 0; due && 'Ok' in r && round < 10; round++) {
                await this.pic.tick(10);
                r = await this.index(s.owner).upload_session(s.id);
            }
            if ('Ok' in r) {
                if (due) fail(`session ${s.id} idle for ${idle / 1_000_000_000n} s outlived its TTL`);
                continue;
            }
            if (errKind(r) !== 'SessionExpired') fail(`session ${s.id} ended as ${json(r)}, not SessionExpired`);
            this.drop(s, 'expired');
        }
        // The adversary's sessions, never written to: alive well within the TTL, gone (SessionExpired) past it.
        for (const [id, a] of [...this.abandoned]) {
            const idle = now - a.openedAt;
            const r = await this.silo.index(identity(`model-adversary-${a.who}`)).upload_session(id);
            if ('Ok' in r) {
                if (idle > ttl + margin && !this.anyDown()) fail(`the adversary's session ${id}, idle ${idle / 1_000_000_000n} s, outlived its TTL`);
                continue;
            }
            if (errKind(r) !== 'SessionExpired') fail(`the adversary's session ${id} ended as ${json(r)}, not SessionExpired`);
            if (idle < ttl - margin && !this.down(a.bucket)) fail(`the adversary's session ${id}, idle ${idle / 1_000_000_000n} s, expired early`);
            this.abandoned.delete(id);
            this.deleting.set(id, { bucket: a.bucket, size: a.size });
        }
    }

    /**
     * Lets the index's maintenance top drained buckets up (its own cycles work), then checks each one as
     * the IC guarantees in its state: a running bucket answers calls again; a stopped one cannot answer
     * any (CanisterStopped) but holds its top-up, so it runs once started. The index may rightly hold a
     * top-up back when the bucket received its budget for the hour (cycles.ts): then it must say so, and
     * the bucket stays drained until the window renews (or, with `operator`, the model tops it up itself).
     */
    private async refuel(operator = false): Promise<boolean> {
        if (this.drained.size === 0) return false;
        await this.maintain();
        const infos = (await this.silo.admin.buckets()) as BucketInfo[];
        for (const b of [...this.drained]) {
            const report = infos.find((i) => i.id.toText() === b)?.cycles[0];
            const balance = await this.pic.getCyclesBalance(this.principal(b));
            if (balance <= DRAINED_CYCLES) {
                const reason = report?.error[0] ?? '';
                if (!report?.low || !/budget/.test(reason)) fail(`bucket ${b} was not topped up, and the index does not say its budget is spent: ${json(report)}`);
                if (!operator) continue;
                await this.pic.addCycles(this.principal(b), 10_000_000_000_000n);
            }
            if (!this.stopped.has(b)) {
                const status = await attempt(() => this.bucketActor(b, 0).stats());
                if (!status.ok) fail(`bucket ${b} is still frozen after the index's top-up: ${status.reject}`);
            }
            this.drained.delete(b);
        }
        return true;
    }

    /** The index's cycles, and what it reports of its deposits into each bucket. */
    private async cyclesSnapshot(): Promise<{ index: bigint; buckets: Map<string, { toppedUp: bigint; observedAt: bigint }> }> {
        const infos = (await this.silo.admin.buckets()) as BucketInfo[];
        const buckets = new Map<string, { toppedUp: bigint; observedAt: bigint }>();
        for (const info of infos) {
            const report = info.cycles[0];
            buckets.set(info.id.toText(), { toppedUp: report?.topped_up ?? 0n, observedAt: report?.observed_at ?? 0n });
        }
        return { index: await this.pic.getCyclesBalance(this.silo.indexId), buckets };
    }

    /**
     * An adversary's begin_upload, abandoned at once when admitted. Checked against what the IC and the
     * index guarantee: a refused call moves no cycles (no deposit in the index's books, the index poorer
     * by its own fees at most); an admitted one moves at most what that upload costs its bucket; the index
     * never gives cycles away below its reserve.
     */
    private async adversary(op: Extract<Op, { kind: 'adversary' }>): Promise<boolean> {
        const who = identity(`model-adversary-${op.who}`);
        const data = bytes(op.size, op.who + 7);
        const chunkSize = 4 * KIB;
        const args = { name: 'a', content_type: 'application/octet-stream', size: BigInt(op.size), sha256: sha256(data), chunk_size: chunkSize, visibility: { private: null }, checkpoints: [] };
        const before = await this.cyclesSnapshot();
        const result = await attempt(() => this.silo.index(who).begin_upload(args));
        if (!result.ok) fail(`the adversary's begin_upload was rejected: ${result.reject}`);
        const r = result.value;
        const kind = errKind(r);
        const mine = [...this.abandoned.values()].filter((a) => a.who === op.who);
        const used = mine.reduce((n, a) => n + this.charge({ data: new Uint8Array(Number(a.size)) }), 0n);
        const overSessions = mine.length >= MODEL_CONFIG.max_open_sessions_per_owner;
        const overQuota = !overSessions && used + this.charge({ data }) > MODEL_CONFIG.quota_bytes;
        let admittedCost = 0n;
        if (kind === 'Ok') {
            if (overQuota || overSessions) fail(`the adversary was admitted ${op.size} bytes with ${mine.length} sessions holding ${used} of a quota of ${MODEL_CONFIG.quota_bytes}`);
            admittedCost = uploadCost(BigInt(op.size), chunkCount(BigInt(op.size), chunkSize));
            const ticket = r.Ok as UploadTicket;
            if (op.abandon) {
                // Opened and left: it holds quota and bucket bytes like any session until the expiry sweep frees it.
                this.abandoned.set(ticket.session_id, { bucket: ticket.bucket.toText(), size: BigInt(op.size), who: op.who, openedAt: await this.now() });
            } else {
                const aborted = await this.silo.index(who).abort_upload(ticket.session_id);
                if (errKind(aborted) !== 'Ok') fail(`the adversary's abort_upload failed: ${json(aborted)}`);
                this.deleting.set(ticket.session_id, { bucket: ticket.bucket.toText(), size: BigInt(op.size) });
            }
        } else if (kind === 'LimitExceeded') {
            if (!overSessions) fail(`the adversary got LimitExceeded with ${mine.length} sessions open: ${json(r)}`);
        } else if (kind === 'QuotaExceeded') {
            if (!overQuota) fail(`the adversary got QuotaExceeded for ${op.size} bytes within its quota: ${json(r)}`);
        } else if (kind === 'BucketUnavailable') {
            if (!this.anyDown()) fail(`the adversary's begin_upload: ${json(r)} while every bucket is up`);
            this.deleting.set(-BigInt(this.step) - 1_000_000n, { bucket: r.Err.BucketUnavailable.bucket.toText(), size: BigInt(op.size) });
        } else if (kind === 'InsufficientCycles') {
            if (!this.anyDown()) fail(`the adversary's begin_upload: ${json(r)} while every bucket is up and funded`);
        } else fail(`the adversary's begin_upload gave ${json(r)}`);

        const after = await this.cyclesSnapshot();
        let moved = 0n;
        for (const [b, was] of before.buckets) {
            const now = after.buckets.get(b)!;
            // A maintenance run that read this bucket meanwhile may have topped it up on its own account.
            if (now.observedAt !== was.observedAt) continue;
            const deposited = now.toppedUp - was.toppedUp;
            // (Its balance itself may rise meanwhile: refunds of cycles it reserved for the replies to its own calls.)
            moved += deposited;
        }
        if (moved > admittedCost) fail(`a begin_upload (${kind}) moved ${moved} cycles into buckets; the work it admitted costs ${admittedCost}`);
        const reserve = BigInt(this.reserve);
        if (after.index < reserve && after.index + FEE_MARGIN < before.index) fail(`the index gave cycles away below its reserve: ${before.index} → ${after.index} (reserve ${reserve})`);
        if (kind !== 'Ok' && before.index - after.index > FEE_MARGIN) fail(`a refused begin_upload (${kind}) cost the index ${before.index - after.index} cycles`);
        return true;
    }

    /** The index runs out of cycles: calls are refused, nothing changes; then it is topped up. */
    private async drainIndex(caller: number): Promise<boolean> {
        const replica = this.pic.replica;
        if (replica === undefined) return false;
        const index = replica.getCanister(this.silo.indexId)!;
        const saved = index.cycles;
        index.cycles = 1_000_000_000n;
        const before = await attempt(() => this.index(caller).begin_upload({ name: 'x', content_type: '', size: 10n, sha256: new Uint8Array(32), chunk_size: 1024, visibility: { private: null }, checkpoints: [] }));
        if (before.ok) fail(`a frozen index answered begin_upload: ${json(before.value)}`);
        const s = this.nth(this.sessions.values(), caller);
        if (s !== undefined) {
            const finished = await attempt(() => this.index(s.owner).finish_upload(s.id));
            if (finished.ok) fail(`a frozen index answered finish_upload: ${json(finished.value)}`);
        }
        await this.pic.addCycles(this.silo.indexId, saved);
        return true;
    }

    // -------------------------------------------------------------- invariants

    async check(full: boolean): Promise<void> {
        this.report.invariantChecks++;
        if (this.traps.length > 0) fail(`a canister trapped: ${this.traps.join('; ')}`);
        if (full) await this.drain();
        const stats = (await this.silo.admin.stats()) as Stats;
        const committed = [...this.assets.values()].reduce((n, a) => n + BigInt(a.data.length), 0n);
        const left = [...this.abandoned.values()];
        const reservedByOwners = [...this.sessions.values()].reduce((n, s) => n + this.charge(s), 0n) + left.reduce((n, a) => n + this.charge({ data: new Uint8Array(Number(a.size)) }), 0n);
        const reservedSizes = [...this.sessions.values()].reduce((n, s) => n + BigInt(s.data.length), 0n) + left.reduce((n, a) => n + a.size, 0n);
        const totals = { assets: BigInt(this.assets.size), stored_bytes: committed, open_sessions: BigInt(this.sessions.size + this.abandoned.size) };
        const actual = { assets: stats.assets, stored_bytes: stats.stored_bytes, open_sessions: stats.open_sessions };
        if (json(actual) !== json(totals)) fail(`index stats ${json(actual)}, the model ${json(totals)}`);
        // The index never gives cycles away below its reserve (it starts far above it and is drained only inside one step).
        if (stats.index_cycles.balance < this.reserve) fail(`the index holds ${stats.index_cycles.balance} cycles, below its reserve of ${this.reserve}`);
        if (stats.reserved_bytes !== reservedByOwners && stats.reserved_bytes !== reservedSizes) {
            fail(`index reserves ${stats.reserved_bytes} bytes, the model ${reservedByOwners}`);
        }
        for (const info of (await this.silo.admin.buckets()) as BucketInfo[]) {
            const b = info.id.toText();
            const used = [...this.assets.values()].filter((a) => a.bucket === b).reduce((n, a) => n + BigInt(a.data.length), 0n);
            const reserved =
                [...this.sessions.values()].filter((s) => s.bucket === b).reduce((n, s) => n + BigInt(s.data.length), 0n) +
                left.filter((a) => a.bucket === b).reduce((n, a) => n + a.size, 0n);
            // A deleted asset's bytes stay used until its chunks are gone (exactly so once tasks drained).
            const freeing = [...this.deleting.values()].filter((d) => d.bucket === b).reduce((n, d) => n + d.size, 0n);
            if (info.used_bytes < used || info.used_bytes > used + freeing || info.reserved_bytes !== reserved) {
                fail(`bucket ${b} accounts ${info.used_bytes} used / ${info.reserved_bytes} reserved, the model ${used} (+ up to ${freeing} being deleted) / ${reserved}`);
            }
        }
        // Each owner's used bytes, as the quota check sees them: a begin_upload just over the quota is refused with them.
        const owner = this.step % USERS.length;
        const owners = full ? USERS.map((_, i) => i) : [owner];
        for (const o of owners) await this.checkUsage(o);
        // Assets: all of them in a full check (downloaded whole), else those never read whole yet and a
        // rotating few (described, and one chunk read back and compared).
        const assets = [...this.assets.values()];
        const rotating = new Set(full ? assets : [...assets.filter((a) => !a.verified), ...rotate(assets, this.step, 3)]);
        for (const a of rotating) {
            if (this.down(a.bucket)) continue;
            const r = await this.index(a.owner).get_asset(a.id);
            if (!('Ok' in r) || r.Ok.size !== BigInt(a.data.length) || Buffer.compare(Buffer.from(r.Ok.sha256), Buffer.from(sha256(a.data))) !== 0) fail(`get_asset ${a.id} gave ${json(r)}`);
            if (full || !a.verified) await this.download(a, a.owner);
            else if (a.chunkCount > 0) {
                const i = this.step % a.chunkCount;
                const chunk = await this.bucketActor(a.bucket, a.owner).get_chunk(a.id, i);
                if (await this.noticePending(a, chunk)) continue;
                const expected = a.data.subarray(i * a.chunkSize, Math.min(a.data.length, (i + 1) * a.chunkSize));
                if (!('Ok' in chunk) || Buffer.compare(Buffer.from(chunk.Ok), Buffer.from(expected)) !== 0) fail(`chunk ${i} of asset ${a.id} reads ${json(chunk)}`);
            }
        }
        // Nothing uncommitted is visible: open sessions and dead ids (all in a full check, else the latest)
        // read as no asset, at the index and at the bucket.
        const gone = [...this.gone.keys()];
        const invisible = [...this.sessions.keys(), ...(full ? gone : gone.slice(-3))];
        for (const id of invisible) {
            const r = await this.index(0).get_asset(id);
            if (errKind(r) !== 'AssetNotFound') fail(`uncommitted or removed ${id} is visible: ${json(r)}`);
        }
        for (const s of this.sessions.values()) {
            if (this.down(s.bucket) || s.chunks.length === 0 || !s.held.some((h) => h !== undefined)) continue;
            const r = await this.bucketActor(s.bucket, s.owner).get_chunk(s.id, s.held.findIndex((h) => h !== undefined));
            if (errKind(r) !== 'AssetNotFound') fail(`a chunk of open session ${s.id} reads as an asset: ${json(r)}`);
        }
        if (full) {
            for (let o = 0; o < USERS.length; o++) await this.list(o, o, 3);
            await this.list(1, 0, 2);
            await this.checkBuckets();
        }
        if (this.traps.length > 0) fail(`a canister trapped: ${this.traps.join('; ')}`);
    }

    private async checkUsage(owner: number): Promise<void> {
        const expected = this.usedBy(owner);
        const probe = {
            name: 'usage probe',
            content_type: '',
            size: MODEL_CONFIG.quota_bytes + 1n,
            sha256: new Uint8Array(32),
            chunk_size: 4 * KIB,
            visibility: { private: null },
            checkpoints: []
        };
        const r = await this.index(owner).begin_upload(probe);
        if (errKind(r) === 'LimitExceeded') return; // the session cap answers first; usage is checked at the next step
        if (errKind(r) !== 'QuotaExceeded') {
            if ('Ok' in r) await this.index(owner).abort_upload(r.Ok.session_id);
            fail(`a begin_upload over the quota gave ${json(r)}`);
        }
        if (r.Err.QuotaExceeded.used !== expected) fail(`${USERS[owner]} uses ${r.Err.QuotaExceeded.used} bytes by the index, ${expected} by the model`);
    }

    /** Runs the index's maintenance once, after the timer's run in progress (if any) completes. */
    private async maintain(): Promise<void> {
        for (let attempt = 0; ; attempt++) {
            const r = await this.silo.admin.admin_run_maintenance();
            if (errKind(r) === 'Ok') return;
            if (errKind(r) !== 'Busy' || attempt >= 20) fail(`admin_run_maintenance failed: ${json(r)}`);
            await this.pic.tick(5);
        }
    }

    /** Heals every fault and runs the index's maintenance until no bucket task is left. */
    private async drain(): Promise<void> {
        this.report.drains++;
        for (const b of [...this.stopped]) {
            await this.pic.startCanister({ canisterId: this.principal(b), sender: ADMIN });
            this.stopped.delete(b);
        }
        for (const b of [...this.faulty]) {
            await this.upgradeBucketTo(b, canisterWasm('bucket'));
            this.faulty.delete(b);
        }
        if (this.drained.size > 0) await this.refuel(true);
        for (let round = 0; ; round++) {
            const stats = (await this.silo.admin.stats()) as Stats;
            if (stats.pending_bucket_tasks === 0) {
                this.deleting.clear();
                for (const a of this.assets.values()) a.noticed = true;
                break;
            }
            if (round >= 12) fail(`${stats.pending_bucket_tasks} bucket tasks never drain with every bucket up`);
            // Past the longest backoff of a task that failed during a fault.
            await this.pic.advanceTime(round < 6 ? 30_000 : 10 * 60_000);
            await this.pic.tick(3);
            await this.maintain();
        }
        await this.settleExpiry();
    }

    /** Every bucket holds exactly the chunks of the model's open sessions (as sent) and assets: no leftovers. */
    private async checkBuckets(): Promise<void> {
        for (const b of this.buckets) {
            let chunks = 0n;
            let stored = 0n;
            let records = 0n;
            for (const s of this.sessions.values()) {
                if (s.bucket !== b) continue;
                records++;
                s.held.forEach((h, i) => {
                    if (h === undefined) return;
                    chunks++;
                    stored += BigInt(s.chunks[i].length);
                });
            }
            for (const a of this.abandoned.values()) if (a.bucket === b) records++;
            for (const a of this.assets.values()) {
                if (a.bucket !== b) continue;
                records++;
                chunks += BigInt(a.chunkCount);
                stored += BigInt(a.data.length);
            }
            const stats = await this.bucketActor(b, 0).stats();
            const actual = { sessions: stats.sessions, chunks: stats.chunks, stored_bytes: stats.stored_bytes };
            const expected = { sessions: records, chunks, stored_bytes: stored };
            if (json(actual) !== json(expected)) fail(`bucket ${b} holds ${json(actual)}, the model ${json(expected)}`);
        }
    }

    /**
     * Upgrades as an operator (and the index's own rolling upgrade) does: stop, install, start. Stopping
     * waits for the canister's open calls; upgrading a running canister would hand the replies of the old
     * module's calls to the new module's callback table.
     */
    private async upgrade(canister: Principal, install: () => Promise<void>): Promise<void> {
        await this.pic.stopCanister({ canisterId: canister, sender: ADMIN });
        await install();
        await this.pic.startCanister({ canisterId: canister, sender: ADMIN });
    }

    private upgradeBucketTo(bucket: string, wasm: string): Promise<void> {
        return this.upgrade(this.principal(bucket), () => upgradeBucket(this.silo, this.principal(bucket), wasm));
    }

    async tearDown(): Promise<void> {
        await this.pic.tearDown();
    }
}

/** `count` items of `items`, starting at a position that moves with `step`. */
function rotate<T>(items: T[], step: number, count: number): T[] {
    if (items.length <= count) return items;
    return Array.from({ length: count }, (_, i) => items[(step * count + i) % items.length]);
}

export function emptyReport(seed: number): ModelReport {
    return { seed, runs: 0, operations: 0, faults: 0, byKind: {}, skipped: 0, committed: 0, committedBytes: 0, downloads: 0, invariantChecks: 0, drains: 0, injectedTraps: 0 };
}

export interface ModelOptions {
    seed: number;
    runs: number;
    /** Operations per run. */
    steps: number;
    fullCheckEvery?: number;
    /**
     * How long to shrink a failing sequence (ms; 0: not at all). Every attempt deploys anew and replays a
     * shorter sequence, removing operations while the same failure remains.
     */
    shrinkMs?: number;
    /** Stop starting new runs after this long (ms); the run in progress completes. */
    timeLimitMs?: number;
    onRun?: (report: ModelReport) => void;
    /** Told of a failure as soon as it happens, before shrinking (which may take minutes). */
    onFailure?: (message: string) => void;
}

/** A failing run: the sequence up to the failing operation, and what failed. */
interface Failed {
    ops: Op[];
    error: Error;
}

/** Replays `ops` on a fresh deployment; the failure (with the sequence up to it), or null when all held. */
export async function runSequence(ops: Op[], report: ModelReport = emptyReport(0), fullCheckEvery = 10): Promise<Failed | null> {
    const run = await ModelRun.create(report, fullCheckEvery);
    let done = 0;
    try {
        for (const op of ops) {
            await run.apply(op);
            done++;
        }
        await run.check(true);
        return null;
    } catch (error) {
        const e = error instanceof Error ? error : new Error(String(error));
        if (e instanceof Failure) e.message = `step ${done + 1} ${json(ops[done] ?? 'final check')}: ${e.message}`;
        return { ops: ops.slice(0, done + 1), error: e };
    } finally {
        await run.tearDown();
    }
}

/** The same failure: same error class, at the same kind of operation. */
function sameFailure(a: Failed, b: Failed): boolean {
    return a.error.name === b.error.name && a.ops.at(-1)?.kind === b.ops.at(-1)?.kind;
}

/**
 * Delta debugging (ddmin) within `budgetMs`: drops ever smaller slices of the sequence while it still
 * fails the same way. Returns the shortest failing sequence found.
 */
export async function shrinkFailure(failed: Failed, budgetMs: number, fullCheckEvery: number): Promise<Failed> {
    const until = Date.now() + budgetMs;
    let best = failed;
    let parts = 2;
    while (best.ops.length > 1 && Date.now() < until) {
        const size = Math.ceil(best.ops.length / parts);
        let reduced = false;
        for (let at = 0; at < best.ops.length && Date.now() < until; at += size) {
            const candidate = [...best.ops.slice(0, at), ...best.ops.slice(at + size)];
            if (candidate.length === 0) continue;
            let result: Failed | null;
            try {
                result = await runSequence(candidate, emptyReport(0), fullCheckEvery);
            } catch {
                // The deployment itself failed (not the model): keep what was shrunk so far.
                return best;
            }
            if (result !== null && sameFailure(result, failed)) {
                best = result;
                parts = Math.max(parts - 1, 2);
                reduced = true;
                break;
            }
        }
        if (!reduced) {
            if (size <= 1) break;
            parts = Math.min(best.ops.length, parts * 2);
        }
    }
    return best;
}

/** A model failure as reported: its seed, the run, the failing step and the shrunk sequence to replay. */
export class ModelRunFailure extends Error {
    override name = 'ModelFailure';
    constructor(
        readonly seed: number,
        readonly run: number,
        readonly failure: Error,
        readonly shrunk: Op[]
    ) {
        super(
            `seed ${seed}, run ${run}: ${failure.message}\n` +
                `replay: MODEL_SEED=${seed} (run ${run} of that seed), or the shrunk sequence of ${shrunk.length} operations with MODEL_OPS='${json(shrunk)}'`
        );
    }
}

/**
 * Runs `runs` random sequences of seed `seed`. On a failure, shrinks the failing sequence (within
 * `shrinkMs`) and throws a ModelRunFailure naming the seed, the run and the short sequence.
 */
export async function runModel(options: ModelOptions): Promise<ModelReport> {
    const report = emptyReport(options.seed);
    const started = Date.now();
    const every = options.fullCheckEvery ?? 10;
    let failed: Failed | undefined;
    try {
        await fc.assert(
            fc.asyncProperty(fc.array(opArbitrary(), { minLength: options.steps, maxLength: options.steps }), async (ops) => {
                if (options.timeLimitMs !== undefined && Date.now() - started > options.timeLimitMs) return;
                const result = await runSequence(ops, report, every);
                if (result !== null) {
                    failed = result;
                    throw result.error;
                }
                report.runs++;
                options.onRun?.(report);
            }),
            { seed: options.seed, numRuns: options.runs, endOnFailure: true }
        );
    } catch (error) {
        if (failed === undefined) throw error;
        options.onFailure?.(`seed ${options.seed}, run ${report.runs + 1}: ${failed.error.message}\nsequence of ${failed.ops.length} operations: ${json(failed.ops)}`);
        const shrunk = (options.shrinkMs ?? 0) > 0 ? await shrinkFailure(failed, options.shrinkMs!, every) : failed;
        throw new ModelRunFailure(options.seed, report.runs + 1, shrunk.error, shrunk.ops);
    }
    return report;
}

/** Parses a sequence printed by a ModelRunFailure (MODEL_OPS): bigints and bytes are not used by operations. */
export function parseOps(text: string): Op[] {
    return JSON.parse(text) as Op[];
}
