/**
 * Runs the index and bucket logic together without a replica: stable maps are in-memory `MemoryMap`s and
 * the index's ports call the bucket logic directly (asynchronously, like inter-canister calls), with
 * hooks to make a bucket unreachable or to hold a call so that other messages can interleave.
 */
import { Principal } from '@dfinity/principal';

import { IDL } from '@dfinity/candid';

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
    u8Key
} from '../../../shared/stable';
import { absorbBlocks, decodeState, encodeState, finalize } from '../../../shared/sha256';
import { type Config, VerifierInfo, VerifyResult } from '../../../shared/types';

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
        verifier: new MemoryMap(u8Key, candidSerializer(VerifierInfo))
    };
    initializeLayout(state);
    setConfig(state, { ...DEFAULT_CONFIG, ...config });
    startEpoch(state);
    return state;
}

export function newBucketState(): BucketState {
    const state: BucketState = {
        meta: new MemoryMap(u8Key, bytesSerializer),
        sessions: new MemoryMap<bigint, BucketSession>(u64Key, candidSerializer(BucketSessionRecord)),
        chunks: new MemoryMap(idIndexKey, bytesSerializer),
        pieces: new MemoryMap(idIndexPieceKey, bytesSerializer)
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
            const out = method === 'absorb' ? encodeState(next) : finalize(next, data.subarray(whole));
            return new Uint8Array(IDL.encode([VerifyResult], [{ Ok: out }]));
        },
        schedule: (_seconds, run) => void this.timers.push(run)
    };

    async runTimers(): Promise<void> {
        while (this.timers.length > 0) await this.timers.shift()!();
    }

    readonly bucketApi: BucketApi = {
        openSession: async (b, args) => bucketLogic.openSession(await this.enter(b, 'openSession', [args]), { caller: INDEX, now: this.now }, args),
        sealSession: async (b, id) => bucketLogic.sealSession(await this.enter(b, 'sealSession', [id]), id),
        reopenSession: async (b, id, from, drop) => bucketLogic.reopenSession(await this.enter(b, 'reopenSession', [id, from, drop]), id, from, drop),
        hashChunk: async (b, args) => bucketLogic.hashChunk(await this.enter(b, 'hashChunk', [args]), args),
        commitSession: async (b, args) => bucketLogic.commitSession(await this.enter(b, 'commitSession', [args]), args),
        deleteChunks: async (b, id) => bucketLogic.deleteChunks(await this.enter(b, 'deleteChunks', [id]), id, 2),
        sessionActivity: async (b, ids) => ({ Ok: bucketLogic.sessionActivity(await this.enter(b, 'sessionActivity', [ids]), ids) }),
        planVerification: async (b, id, plan) => verify.planVerification(await this.enter(b, 'planVerification', [id]), this.verifyState(b), id, plan),
        verifySession: async (b, id) => verify.verifySession(await this.enter(b, 'verifySession', [id]), this.verifyState(b), this.verifyPorts, id)
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
        moduleHash: async (c) => {
            this.calls.push({ method: 'moduleHash', args: [c] });
            return this.moduleHashes.get(c.toText()) ?? null;
        }
    };

    get ports(): Ports {
        return { bucket: this.bucketApi, management: this.management };
    }

    /** put_chunk as bucket/main.ts runs it: verified chunks refused, stored ones queued for verification. */
    put(caller: Principal, bucket: Principal, sessionId: bigint, index: number, bytes: Uint8Array) {
        const refused = verify.refusePut(this.verifyState(bucket), sessionId, index);
        if (refused !== null) return refused;
        const result = bucketLogic.putChunk(this.bucket(bucket), { caller, now: this.now }, sessionId, index, bytes);
        if ('Ok' in result) verify.afterPut(this.bucket(bucket), this.verifyState(bucket), this.verifyPorts, sessionId, index);
        return result;
    }
}

export { bytes, split } from '../../helpers/bytes';
export { unwrap } from '../../helpers/result';
