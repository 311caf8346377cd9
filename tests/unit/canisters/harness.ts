/**
 * Runs the index and bucket logic together without a replica: stable maps are in-memory `MemoryMap`s and
 * the index's ports call the bucket logic directly (asynchronously, like inter-canister calls), with
 * hooks to make a bucket unreachable or to hold a call so that other messages can interleave.
 */
import { Principal } from '@dfinity/principal';

import * as bucketLogic from '../../../canisters/bucket/logic';
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
import { AssetMeta as AssetMetaRecord } from '../../../shared/types';
import type { AssetMeta, Config } from '../../../shared/types';
import * as bucketAssets from '../../../canisters/bucket/assets';
import { urlSecretSerializer } from '../../../canisters/index/urls';

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
        urlSecrets: new MemoryMap(principalKey, urlSecretSerializer)
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
        pieces: new MemoryMap(idIndexPieceKey, bytesSerializer),
        assets: new MemoryMap<bigint, AssetMeta>(u64Key, candidSerializer(AssetMetaRecord))
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

    readonly bucketApi: BucketApi = {
        openSession: async (b, args) => bucketLogic.openSession(await this.enter(b, 'openSession', [args]), { caller: INDEX, now: this.now }, args),
        sealSession: async (b, id) => bucketLogic.sealSession(await this.enter(b, 'sealSession', [id]), id),
        reopenSession: async (b, id, from, drop) => bucketLogic.reopenSession(await this.enter(b, 'reopenSession', [id, from, drop]), id, from, drop),
        hashChunk: async (b, args) => bucketLogic.hashChunk(await this.enter(b, 'hashChunk', [args]), args),
        commitSession: async (b, args) => bucketAssets.commitWithMeta(await this.enter(b, 'commitSession', [args]), args),
        deleteChunks: async (b, id) => {
            const state = await this.enter(b, 'deleteChunks', [id]);
            bucketAssets.forgetMeta(state, id);
            return bucketLogic.deleteChunks(state, id, 2);
        },
        sessionActivity: async (b, ids) => ({ Ok: bucketLogic.sessionActivity(await this.enter(b, 'sessionActivity', [ids]), ids) }),
        putAssetMeta: async (b, metas) => bucketAssets.putAssetMeta(await this.enter(b, 'putAssetMeta', [metas]), metas),
        setUrlSecret: async (b, secret) => bucketAssets.setUrlSecret(await this.enter(b, 'setUrlSecret', [secret]), secret)
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
        rawRand: async () => {
            this.calls.push({ method: 'rawRand', args: [] });
            return Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + this.calls.length) & 0xff);
        }
    };

    get ports(): Ports {
        return { bucket: this.bucketApi, management: this.management };
    }

    put(caller: Principal, bucket: Principal, sessionId: bigint, index: number, bytes: Uint8Array) {
        return bucketLogic.putChunk(this.bucket(bucket), { caller, now: this.now }, sessionId, index, bytes);
    }
}

export { bytes, split } from '../../helpers/bytes';
export { unwrap } from '../../helpers/result';
