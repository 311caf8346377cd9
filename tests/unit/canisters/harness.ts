/**
 * Runs the index and bucket logic together without a replica: stable maps are in-memory `MemoryMap`s and
 * the index's ports call the bucket logic directly (asynchronously, like inter-canister calls), with
 * hooks to make a bucket unreachable or to hold a call so that other messages can interleave.
 */
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import * as bucketLogic from '../../../canisters/bucket/logic';
import * as verify from '../../../canisters/bucket/verify';
import { BucketSessionRecord, type BucketSession, type BucketState } from '../../../canisters/bucket/state';
import {
    assetSerializer,
    bucketSerializer,
    type BucketApi,
    type Env,
    type IndexState,
    initializeLayout,
    type ManagementApi,
    ownerSerializer,
    type Ports,
    sessionSerializer,
    setConfig,
    startEpoch,
    taskSerializer,
    topUpWindowSerializer,
    upgradeSerializer,
    DEFAULT_CONFIG
} from '../../../canisters/index/state';
import {
    bytesSerializer,
    candidSerializer,
    idIndexKey,
    idIndexPieceKey,
    MemoryMap,
    principalKey,
    principalPageKey,
    u64Key,
    u64ListSerializer,
    u64PairKey,
    u8Key
} from '../../../shared/stable';
import { bucketMethods } from '../../../shared/idl';
import { AssetMeta as AssetMetaRecord, VerifierInfo, VerifyResult } from '../../../shared/types';
import type { AssetMeta, Config } from '../../../shared/types';
import { absorbBlocks, decodeState, encodeState, finalize, sha256 } from '../../../shared/sha256';
import { concatBytes } from '../../../shared/bytes';
import * as bucketAssets from '../../../canisters/bucket/assets';
import { encryptionSerializer, grantKey, grantSerializer, keyUserSerializer, urlSecretSerializer } from '../../../canisters/index/state';

export const INDEX = Principal.fromText('lxzze-o7777-77777-aaaaa-cai');
/** A self-authenticating user principal (29 bytes ending in 0x02), distinct per seed. */
export function user(seed: number): Principal {
    const raw = new Uint8Array(29);
    raw.fill(seed, 0, 28);
    raw[28] = 0x02;
    return Principal.fromUint8Array(raw);
}
export const ALICE = user(1);
export const BOB = user(2);
export const ADMIN = user(3);

export function newIndexState(config: Partial<Config> = {}): IndexState {
    const state: IndexState = {
        meta: new MemoryMap(u8Key, bytesSerializer),
        sessions: new MemoryMap(u64Key, sessionSerializer),
        checkpoints: new MemoryMap(idIndexKey, bytesSerializer),
        assets: new MemoryMap(u64Key, assetSerializer),
        ownerPages: new MemoryMap(principalPageKey, u64ListSerializer),
        owners: new MemoryMap(principalKey, ownerSerializer),
        buckets: new MemoryMap(principalKey, bucketSerializer),
        tasks: new MemoryMap(u64Key, taskSerializer),
        bucketWasm: new MemoryMap(idIndexKey, bytesSerializer),
        upgrades: new MemoryMap(principalKey, upgradeSerializer),
        expired: new MemoryMap(u64Key, u64Key),
        expiries: new MemoryMap(u64PairKey, bytesSerializer),
        taskQueue: new MemoryMap(u64PairKey, bytesSerializer),
        urlSecrets: new MemoryMap(principalKey, urlSecretSerializer),
        topUpBudgets: new MemoryMap(principalKey, topUpWindowSerializer),
        verifier: new MemoryMap(u8Key, candidSerializer(VerifierInfo)),
        keys: {
            encryption: new MemoryMap(u64Key, encryptionSerializer),
            grants: new MemoryMap(grantKey, grantSerializer),
            sharedPages: new MemoryMap(principalPageKey, u64ListSerializer),
            keyUsers: new MemoryMap(principalKey, keyUserSerializer)
        }
    };
    initializeLayout(state);
    // Small chunks and no minimum charge unless a test sets them: the tests' uploads are a few KiB.
    setConfig(state, { ...DEFAULT_CONFIG, min_chunk_size: 64, session_min_charge_bytes: 0n, ...config });
    startEpoch(state);
    return state;
}

export function newBucketState(): BucketState {
    const state: BucketState = {
        meta: new MemoryMap(u8Key, bytesSerializer),
        sessions: new MemoryMap<bigint, BucketSession>(u64Key, candidSerializer(BucketSessionRecord)),
        chunks: new MemoryMap(idIndexKey, bytesSerializer),
        pieces: new MemoryMap(idIndexPieceKey, bytesSerializer),
        presence: new MemoryMap(idIndexKey, bytesSerializer),
        assets: new MemoryMap<bigint, AssetMeta>(u64Key, candidSerializer(AssetMetaRecord)),
        certNodes: new MemoryMap(idIndexKey, bytesSerializer),
        digests: new MemoryMap(idIndexKey, bytesSerializer),
        certJobs: new MemoryMap(u64Key, bytesSerializer)
    };
    bucketLogic.initialize(state, INDEX);
    return state;
}

/** A deferred point in a call: the call waits at `gate` until `open()` is called. */
export class Gate {
    private resolve!: () => void;
    readonly promise = new Promise<void>((r) => (this.resolve = r));
    open(): void {
        this.resolve();
    }
}

export class World {
    now = 1_700_000_000_000_000_000n;
    readonly buckets = new Map<string, BucketState>();
    /** Buckets whose calls fail (as a stopped or trapping canister's would). */
    readonly unreachable = new Set<string>();
    /** When set, the next bucket call of this method waits for the gate. */
    readonly holds = new Map<string, Gate>();
    readonly calls: { method: string; args: unknown[] }[] = [];
    private nextCanister = 100;
    cycles = 100_000_000_000_000n;
    readonly state: IndexState;

    constructor(config: Partial<Config> = {}) {
        this.state = newIndexState(config);
    }

    env(caller: Principal, controllers: Principal[] = [ADMIN]): Env {
        return {
            caller,
            now: this.now,
            self: INDEX,
            isController: (p) => controllers.some((c) => c.toText() === p.toText()),
            cycles: () => this.cycles
        };
    }

    private nextId(): Principal {
        return Principal.fromUint8Array(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, this.nextCanister++, 1, 1]));
    }

    addBucket(): Principal {
        const id = this.nextId();
        this.buckets.set(id.toText(), newBucketState());
        return id;
    }

    bucket(id: Principal): BucketState {
        const b = this.buckets.get(id.toText());
        if (!b) throw new Error(`no bucket ${id.toText()}`);
        return b;
    }

    private async enter(bucket: Principal, method: string, args: unknown[]): Promise<BucketState> {
        this.calls.push({ method, args });
        // Like an inter-canister call, the callee runs in a later message.
        await Promise.resolve();
        const gate = this.holds.get(method);
        if (gate) {
            this.holds.delete(method);
            await gate.promise;
        }
        if (this.unreachable.has(bucket.toText())) throw new Error(`Canister ${bucket.toText()} is stopped`);
        return this.bucket(bucket);
    }

    /** Per bucket, the per-chunk verification state (bucket/verify.ts). */
    readonly verifyStates = new Map<string, verify.VerifyState>();
    /** Timers the buckets set (verify.ts schedules its pump); `runTimers` runs them. */
    readonly timers: (() => Promise<void>)[] = [];
    /** Module hashes `moduleHash` reports, by canister. */
    readonly moduleHashes = new Map<string, Uint8Array>();
    /** Verifiers whose calls fail. */
    readonly verifierDown = new Set<string>();

    verifyState(bucket: Principal): verify.VerifyState {
        let v = this.verifyStates.get(bucket.toText());
        if (v === undefined) {
            v = { plans: new MemoryMap(u64Key, candidSerializer(verify.PlanRecord)), checkpoints: new MemoryMap(idIndexKey, bytesSerializer) };
            this.verifyStates.set(bucket.toText(), v);
        }
        return v;
    }

    /** The verifier canister, modelled with shared/sha256 behind the same Candid. */
    readonly verifyPorts: verify.VerifyPorts = {
        call: async (verifier, method, arg) => {
            this.calls.push({ method: `verifier.${method}`, args: [] });
            await Promise.resolve();
            const gate = this.holds.get(`verifier.${method}`);
            if (gate) {
                this.holds.delete(`verifier.${method}`);
                await gate.promise;
            }
            if (this.verifierDown.has(verifier.toText())) throw new Error(`Canister ${verifier.toText()} is out of cycles`);
            const [state, data] = IDL.decode([IDL.Vec(IDL.Nat8), IDL.Vec(IDL.Nat8)], arg) as unknown as [Uint8Array, Uint8Array];
            const whole = data.length - (data.length % 64);
            const next = absorbBlocks(decodeState(state), data.subarray(0, whole));
            const out = method === 'absorb_chunk' ? encodeState(next) : finalize(next, data.subarray(whole));
            return new Uint8Array(IDL.encode([VerifyResult], [{ Ok: concatBytes([out, sha256(data)]) }]));
        },
        schedule: (_seconds, run) => void this.timers.push(run)
    };

    async runTimers(): Promise<void> {
        while (this.timers.length > 0) await this.timers.shift()!();
    }

    /**
     * Runs a bucket method as the canister would: arguments and reply pass through Candid with the
     * method's types, so the logic gets what Azle gives it (`vec nat64` as a BigUint64Array, `vec nat32`
     * as a Uint32Array, ...) and the index gets what the call returns.
     */
    private async c2c<T>(bucket: Principal, label: string, method: keyof typeof bucketMethods, args: unknown[], run: (state: BucketState, ...decoded: any[]) => T): Promise<T> {
        const func = bucketMethods[method];
        const state = await this.enter(bucket, label, args);
        const decoded = IDL.decode(func.argTypes, IDL.encode(func.argTypes, args));
        const reply = run(state, ...decoded);
        return IDL.decode(func.retTypes, IDL.encode(func.retTypes, [reply]))[0] as T;
    }

    readonly bucketApi: BucketApi = {
        openSession: (b, args) => this.c2c(b, 'openSession', 'c2c_open_session', [args], (s, a) => bucketLogic.openSession(s, { caller: INDEX, now: this.now }, a)),
        sealSession: (b, id) => this.c2c(b, 'sealSession', 'c2c_seal_session', [id], (s, i) => bucketLogic.sealSession(s, i)),
        reopenSession: (b, id, from, drop) => this.c2c(b, 'reopenSession', 'c2c_reopen_session', [id, from, drop], (s, i, f, d) => bucketLogic.reopenSession(s, i, f, d)),
        hashChunk: (b, args) => this.c2c(b, 'hashChunk', 'c2c_hash_chunk', [args], (s, a) => bucketLogic.hashChunk(s, a)),
        commitSession: (b, args) => this.c2c(b, 'commitSession', 'c2c_commit_session', [args], (s, a) => bucketAssets.commitWithMeta(s, a)),
        deleteChunks: (b, id) => this.c2c(b, 'deleteChunks', 'c2c_delete', [id], (s, i) => {
            bucketAssets.forgetMeta(s, i);
            return bucketLogic.deleteChunks(s, i, 2);
        }),
        sessionActivity: (b, ids) => this.c2c(b, 'sessionActivity', 'c2c_session_activity', [ids], (s, i) => ({ Ok: bucketLogic.sessionActivity(s, i) })),
        putAssetMeta: (b, metas) => this.c2c(b, 'putAssetMeta', 'c2c_put_asset_meta', [metas], (s, m) => bucketAssets.putAssetMeta(s, m)),
        setUrlSecret: (b, secret) => this.c2c(b, 'setUrlSecret', 'c2c_set_url_secret', [secret], (s, k) => bucketAssets.setUrlSecret(s, k)),
        planVerification: (b, id, plan) => this.c2c(b, 'planVerification', 'c2c_plan_verification', [id, plan], (s, i, p) => verify.planVerification(s, this.verifyState(b), i, p)),
        // Async on the bucket side (it calls the verifier): the reply is the awaited result.
        verifySession: async (b, id) => {
            const func = bucketMethods.c2c_verify_session;
            const state = await this.enter(b, 'verifySession', [id]);
            const reply = await verify.verifySession(state, this.verifyState(b), this.verifyPorts, id);
            return IDL.decode(func.retTypes, IDL.encode(func.retTypes, [reply]))[0] as never;
        }
    };

    readonly management: ManagementApi = {
        createCanister: async () => {
            this.calls.push({ method: 'createCanister', args: [] });
            return this.nextId();
        },
        installCode: async (canister, mode) => {
            this.calls.push({ method: `installCode:${mode}`, args: [canister] });
            if (this.unreachable.has(canister.toText())) throw new Error('install failed');
            if (mode === 'install') this.buckets.set(canister.toText(), newBucketState());
        },
        stopCanister: async (c) => void this.calls.push({ method: 'stopCanister', args: [c] }),
        startCanister: async (c) => void this.calls.push({ method: 'startCanister', args: [c] }),
        canisterStatus: async (c) => {
            this.calls.push({ method: 'canisterStatus', args: [c] });
            if (this.unreachable.has(c.toText())) throw new Error('canister_status failed');
            return { cycles: this.bucketCycles.get(c.toText()) ?? 10_000_000_000_000n, idle_cycles_burned_per_day: 1_000_000n, freezing_threshold: 2_592_000n };
        },
        depositCycles: async (c, amount) => {
            this.calls.push({ method: 'depositCycles', args: [c, amount] });
            this.cycles -= amount;
            this.bucketCycles.set(c.toText(), (this.bucketCycles.get(c.toText()) ?? 10_000_000_000_000n) + amount);
        },
        moduleHash: async (c) => {
            this.calls.push({ method: 'moduleHash', args: [c] });
            return this.moduleHashes.get(c.toText()) ?? null;
        },
        rawRand: async () => {
            this.calls.push({ method: 'rawRand', args: [] });
            return Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + this.calls.length) & 0xff);
        }
    };
    /** Bucket balances canisterStatus reports (10 T unless set). */
    readonly bucketCycles = new Map<string, bigint>();

    get ports(): Ports {
        return { bucket: this.bucketApi, management: this.management };
    }

    /** put_chunk as bucket/main.ts runs it: verified chunks refused, stored ones queued for verification. */
    put(caller: Principal, bucket: Principal, sessionId: bigint, index: number, bytes: Uint8Array) {
        const types = bucketMethods.put_chunk.argTypes;
        const [id, i, data] = IDL.decode(types, IDL.encode(types, [sessionId, index, bytes])) as [bigint, number, Uint8Array];
        const refused = verify.refusePut(this.verifyState(bucket), id, i);
        if (refused !== null) return refused;
        const result = bucketLogic.putChunk(this.bucket(bucket), { caller, now: this.now }, id, i, data);
        if ('Ok' in result) verify.afterPut(this.bucket(bucket), this.verifyState(bucket), this.verifyPorts, id, i);
        return result;
    }
}

export { bytes, split } from '../../helpers/bytes';
export { unwrap } from '../../helpers/result';
