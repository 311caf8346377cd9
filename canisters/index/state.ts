/** The index's durable state (stable maps), its records, and the ports through which it calls out. */
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import {
    DEFAULT_MIN_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    DEFAULT_BUCKET_CAPACITY_BYTES,
    DEFAULT_BUCKET_CYCLES,
    DEFAULT_CYCLES_TOPUP_AMOUNT,
    DEFAULT_CYCLES_TOPUP_THRESHOLD,
    DEFAULT_INDEX_CYCLES_RESERVE,
    DEFAULT_FULL_THRESHOLD_PERCENT,
    DEFAULT_HASH_SLICE_BYTES,
    DEFAULT_QUOTA_BYTES,
    DEFAULT_SESSION_TTL_NS,
    DEFAULT_SWEEP_INTERVAL_SECONDS,
    INDEX_LAYOUT_VERSION
} from '../../shared/constants';
import type { KvMap } from '../../shared/stable';
import { candidSerializer, checkLayoutVersion, PRINCIPAL_KEY_BYTES, principalKey, readU64, writeLayoutVersion, writeU64 } from '../../shared/stable';
import {
    Asset,
    BucketInfo,
    EncryptionInfo,
    type EncryptionInfo as EncryptionInfoT,
    ConfigUpdate as ConfigUpdateType,
    sessionInfoFields,
    type SessionInfo,
    Visibility,
    type Asset as AssetT,
    type BucketInfo as BucketInfoT,
    type CommitSessionArgs,
    type Config as ConfigT,
    type ConfigUpdate,
    type DeleteProgress,
    type HashChunkArgs,
    type HashChunkResult,
    type OpenSessionArgs,
    type AssetMeta,
    type Result,
    type SessionActivity,
    type Visibility as VisibilityT,
    type VerificationPlan,
    type VerifierInfo,
    type VerifyProgress
} from '../../shared/types';


/** A bucket's URL secret (urls.ts mints the tokens keyed with it). */
export const UrlSecretRecord = IDL.Record({ secret: IDL.Vec(IDL.Nat8), delivered: IDL.Bool });
export interface UrlSecretRecord {
    secret: Uint8Array;
    /** The bucket acknowledged the secret: tokens keyed with it may be minted. */
    delivered: boolean;
}
export const urlSecretSerializer = candidSerializer<UrlSecretRecord>(UrlSecretRecord);

/** End-to-end encryption (keys.ts): an encrypted asset's format and readers, each reader's wrapped key, each user's derivations. */

export const EncryptionRecord = IDL.Record({ info: EncryptionInfo, readers: IDL.Vec(IDL.Principal) });
export interface EncryptionRecord {
    info: EncryptionInfoT;
    /** Whom the asset is shared with, in the order shared (the owner is not listed). */
    readers: Principal[];
}

export const GrantRecord = IDL.Record({ wrapped_key: IDL.Vec(IDL.Nat8), page: IDL.Opt(IDL.Nat32) });
export interface GrantRecord {
    wrapped_key: Uint8Array;
    /** The reader's shared-with page listing the asset (absent for the owner's own grant). */
    page: [] | [number];
}

export const KeyUserRecord = IDL.Variant({
    user: IDL.Record({ shared_pages: IDL.Nat32, window_start: IDL.Nat64, derived: IDL.Nat32 }),
    key: IDL.Record({ name: IDL.Text, public_key: IDL.Opt(IDL.Vec(IDL.Nat8)) })
});
export type KeyUserRecord =
    | { user: { shared_pages: number; window_start: bigint; derived: number } }
    | { key: { name: string; public_key: [] | [Uint8Array] } };

export interface KeyState {
    encryption: KvMap<bigint, EncryptionRecord>;
    grants: KvMap<[bigint, Principal], GrantRecord>;
    sharedPages: KvMap<[Principal, number], bigint[]>;
    /** Per principal; the management canister's entry (it never calls the index) holds the vetKD key. */
    keyUsers: KvMap<Principal, KeyUserRecord>;
}

export const encryptionSerializer = candidSerializer<EncryptionRecord>(EncryptionRecord);
export const grantSerializer = candidSerializer<GrantRecord>(GrantRecord);
export const keyUserSerializer = candidSerializer<KeyUserRecord>(KeyUserRecord);

/** (asset id, principal): 38 bytes, the grants of one asset adjacent. */
export const grantKey = {
    toBytes([id, principal]: [bigint, Principal]): Uint8Array {
        const out = new Uint8Array(8 + PRINCIPAL_KEY_BYTES);
        writeU64(out, 0, id);
        out.set(principalKey.toBytes(principal), 8);
        return out;
    },
    fromBytes: (bytes: Uint8Array): [bigint, Principal] => [readU64(bytes, 0), principalKey.fromBytes(bytes.subarray(8))]
};

/** Calls to the management canister's vetKD methods; each rejects with the system's message when it fails. */
export interface VetKdApi {
    publicKey(keyName: string, context: Uint8Array): Promise<Uint8Array>;
    /** Attaches `fee` cycles (what the key's `vetkd_derive_key` charges). */
    deriveKey(keyName: string, input: Uint8Array, context: Uint8Array, transportPublicKey: Uint8Array, fee: bigint): Promise<Uint8Array>;
}

/** A session as the index stores it: what `upload_session` shows, plus what only the index needs. */
export const SessionRecord = IDL.Record({
    ...sessionInfoFields,
    sha256: IDL.Vec(IDL.Nat8),
    has_checkpoints: IDL.Bool,
    /** The rolling SHA-256 state (shared/sha256 encoding) after `verified_bytes`, a multiple of 64. */
    hash_state: IDL.Vec(IDL.Nat8),
    /** Who holds the finish lock: the boot epoch and a token; a lock from an older epoch is stale. */
    finish_epoch: IDL.Nat64,
    finish_token: IDL.Nat64,
    /** Bytes of the owner's quota the session holds: its size, or the minimum charge (absent: its size). */
    quota_charge: IDL.Opt(IDL.Nat64),
    /** finish_upload calls that failed verification so far (absent: none). */
    failed_finishes: IDL.Opt(IDL.Nat32)
});
export interface SessionRecord extends SessionInfo {
    sha256: Uint8Array;
    has_checkpoints: boolean;
    hash_state: Uint8Array;
    finish_epoch: bigint;
    finish_token: bigint;
    quota_charge: [] | [bigint];
    failed_finishes: [] | [number];
}

/** An asset as stored: the public record plus the owner page that lists it. */
export const AssetRecord = IDL.Record({ asset: Asset, page: IDL.Nat32 });
export interface AssetRecord {
    asset: AssetT;
    page: number;
}

export const OwnerRecord = IDL.Record({
    committed_bytes: IDL.Nat64,
    reserved_bytes: IDL.Nat64,
    asset_count: IDL.Nat64,
    /** Pages of asset ids in `ownerPages`; new ids go to the last page. */
    pages: IDL.Nat32,
    /** Upload sessions the owner has open (absent in layout v1 records: counted by the v2 migration). */
    open_sessions: IDL.Opt(IDL.Nat32)
});
export interface OwnerRecord {
    committed_bytes: bigint;
    reserved_bytes: bigint;
    asset_count: bigint;
    pages: number;
    open_sessions: [] | [number];
}

export const TaskKind = IDL.Variant({
    /** `bytes`: what the bucket's used_bytes keeps counting until the chunks are gone (absent: nothing). */
    delete_chunks: IDL.Record({ bucket: IDL.Principal, id: IDL.Nat64, bytes: IDL.Opt(IDL.Nat64) }),
    notify_commit: IDL.Record({ bucket: IDL.Principal, session_id: IDL.Nat64, owner: IDL.Principal, visibility: Visibility })
});
export type TaskKind =
    | { delete_chunks: { bucket: Principal; id: bigint; bytes: [] | [bigint] } }
    | { notify_commit: { bucket: Principal; session_id: bigint; owner: Principal; visibility: VisibilityT } };

export const TaskRecord = IDL.Record({
    id: IDL.Nat64,
    kind: TaskKind,
    attempts: IDL.Nat32,
    next_attempt_at: IDL.Nat64,
    last_error: IDL.Opt(IDL.Text)
});
export interface TaskRecord {
    id: bigint;
    kind: TaskKind;
    attempts: number;
    next_attempt_at: bigint;
    last_error: [] | [string];
}

export const UpgradeRecord = IDL.Record({
    target_hash: IDL.Vec(IDL.Nat8),
    attempts: IDL.Nat32,
    done: IDL.Bool,
    error: IDL.Opt(IDL.Text),
    next_attempt_at: IDL.Nat64
});
export interface UpgradeRecord {
    target_hash: Uint8Array;
    attempts: number;
    done: boolean;
    error: [] | [string];
    next_attempt_at: bigint;
}

/** A bucket's deposits in its current budget window (cycles.ts, `topUpBudget`). */
export const TopUpWindow = IDL.Record({ started_at: IDL.Nat64, given: IDL.Nat });
export interface TopUpWindow {
    started_at: bigint;
    given: bigint;
}

export interface IndexState {
    meta: KvMap<number, Uint8Array>;
    sessions: KvMap<bigint, SessionRecord>;
    /** (session id, chunk index) → the client's 32-byte SHA-256 chaining value after that chunk. */
    checkpoints: KvMap<[bigint, number], Uint8Array>;
    assets: KvMap<bigint, AssetRecord>;
    ownerPages: KvMap<[Principal, number], bigint[]>;
    owners: KvMap<Principal, OwnerRecord>;
    buckets: KvMap<Principal, BucketInfoT>;
    tasks: KvMap<bigint, TaskRecord>;
    /** (generation, chunk index) → a piece of an uploaded bucket module. */
    bucketWasm: KvMap<[bigint, number], Uint8Array>;
    upgrades: KvMap<Principal, UpgradeRecord>;
    /** Sessions the expiry timer removed → when, so later calls can say `SessionExpired`. */
    expired: KvMap<bigint, bigint>;
    /** (expires_at, session id) for every session: the sweep reads the earliest few, never all. */
    expiries: KvMap<[bigint, bigint], Uint8Array>;
    /** (next_attempt_at, task id) for every task: the timer runs the earliest due few. */
    taskQueue: KvMap<[bigint, bigint], Uint8Array>;
    /** Bucket → its URL token secret and whether the bucket has it (urls.ts). */
    urlSecrets: KvMap<Principal, UrlSecretRecord>;
    /** Bucket → the cycles the index deposited into it in the current budget window (cycles.ts). */
    topUpBudgets: KvMap<Principal, TopUpWindow>;
    /** The verifier canister the index trusts (verification.ts); absent or empty: buckets hash in-canister. */
    verifier?: KvMap<number, VerifierInfo>;
    /** Encrypted assets' formats, wrapped keys, shared-with lists and vetKD use (keys.ts). */
    keys?: KeyState;
}

export const sessionSerializer = candidSerializer<SessionRecord>(SessionRecord);
export const assetSerializer = candidSerializer<AssetRecord>(AssetRecord);
export const ownerSerializer = candidSerializer<OwnerRecord>(OwnerRecord);
export const bucketSerializer = candidSerializer<BucketInfoT>(BucketInfo);
export const taskSerializer = candidSerializer<TaskRecord>(TaskRecord);
export const upgradeSerializer = candidSerializer<UpgradeRecord>(UpgradeRecord);
export const topUpWindowSerializer = candidSerializer<TopUpWindow>(TopUpWindow);

/** What an index method knows about the message it runs in. */
export interface Env {
    caller: Principal;
    now: bigint;
    self: Principal;
    isController(p: Principal): boolean;
    /** The index's cycles balance. */
    cycles(): bigint;
}

/**
 * Calls to a bucket. Each resolves to the bucket's Result, and rejects (throws) when the call itself
 * fails: the bucket is stopped, trapped, missing or out of cycles.
 */
export interface BucketApi {
    openSession(bucket: Principal, args: OpenSessionArgs): Promise<Result<null>>;
    sealSession(bucket: Principal, sessionId: bigint): Promise<Result<null>>;
    reopenSession(bucket: Principal, sessionId: bigint, from: number, dropChunk: boolean): Promise<Result<null>>;
    hashChunk(bucket: Principal, args: HashChunkArgs): Promise<Result<HashChunkResult>>;
    commitSession(bucket: Principal, args: CommitSessionArgs): Promise<Result<null>>;
    deleteChunks(bucket: Principal, id: bigint): Promise<Result<DeleteProgress>>;
    sessionActivity(bucket: Principal, ids: bigint[]): Promise<Result<SessionActivity[]>>;
    putAssetMeta(bucket: Principal, metas: AssetMeta[]): Promise<Result<number>>;
    setUrlSecret(bucket: Principal, secret: Uint8Array): Promise<Result<null>>;
    planVerification(bucket: Principal, sessionId: bigint, plan: VerificationPlan): Promise<Result<null>>;
    verifySession(bucket: Principal, sessionId: bigint): Promise<Result<VerifyProgress>>;
}

/** Calls to the management canister; each rejects with the system's message when it fails. */
export interface ManagementApi {
    createCanister(controllers: Principal[], cycles: bigint): Promise<Principal>;
    installCode(canister: Principal, mode: 'install' | 'upgrade', wasm: Uint8Array, arg: Uint8Array): Promise<void>;
    stopCanister(canister: Principal): Promise<void>;
    startCanister(canister: Principal): Promise<void>;
    /** The canister's balance, idle burn and freezing threshold (`canister_status`; the index must control it). */
    canisterStatus(canister: Principal): Promise<{ cycles: bigint; idle_cycles_burned_per_day: bigint; freezing_threshold: bigint }>;
    /** Sends `amount` of the index's cycles to the canister. */
    depositCycles(canister: Principal, amount: bigint): Promise<void>;
    /** 32 random bytes from `raw_rand`. */
    rawRand(): Promise<Uint8Array>;
    /** The SHA-256 of the module a canister the index controls runs (null: none installed). */
    moduleHash(canister: Principal): Promise<Uint8Array | null>;
}

export interface Ports {
    bucket: BucketApi;
    management: ManagementApi;
    /** The management canister's vetKD methods (keys.ts). */
    vetkd?: VetKdApi;
}

// ------------------------------------------------------------------ meta entries

export const MetaKey = {
    layoutVersion: 0,
    nextId: 1,
    config: 2,
    bootEpoch: 3,
    nextToken: 4,
    activeWasmGeneration: 5,
    activeWasmHash: 6,
    activeWasmSize: 7,
    nextWasmGeneration: 8,
    /** A bucket canister created but not yet installed: the next creation installs it instead. */
    pendingBucket: 9,
    /** Set while a bucket is being created (holds the boot epoch); stale after an upgrade. */
    creatingBucket: 10,
    nextTaskId: 11,
    /** Running totals (u64) that stats() reads instead of scanning every owner. */
    totalAssets: 12,
    totalCommittedBytes: 13,
    totalReservedBytes: 14,
    /** When begin_upload last created a bucket (rate limit). */
    lastBucketCreatedAt: 15,
    /** Maintenance lease: (boot epoch, expiry time); a run that trapped cannot hold it past either. */
    maintenanceLease: 16,
    /** When the bucket creation in flight started (with `creatingBucket`). */
    creatingBucketAt: 17
} as const;

/**
 * The settings are stored as a ConfigUpdate, every field optional: a field added by a later version is
 * absent from what an earlier one stored and takes its default, where a required field would fail to
 * decode. (Layout v1 stored a Config record; Candid decodes its values into the optional fields.)
 */
const configSerializer = candidSerializer<ConfigUpdate>(ConfigUpdateType);

export const DEFAULT_CONFIG: ConfigT = {
    quota_bytes: DEFAULT_QUOTA_BYTES,
    session_ttl_ns: DEFAULT_SESSION_TTL_NS,
    bucket_capacity_bytes: DEFAULT_BUCKET_CAPACITY_BYTES,
    full_threshold_percent: DEFAULT_FULL_THRESHOLD_PERCENT,
    bucket_cycles: DEFAULT_BUCKET_CYCLES,
    sweep_interval_seconds: DEFAULT_SWEEP_INTERVAL_SECONDS,
    auto_create_buckets: true,
    hash_slice_bytes: DEFAULT_HASH_SLICE_BYTES,
    bucket_controllers: [],
    cycles_topup_threshold: DEFAULT_CYCLES_TOPUP_THRESHOLD,
    cycles_topup_amount: DEFAULT_CYCLES_TOPUP_AMOUNT,
    index_cycles_reserve: DEFAULT_INDEX_CYCLES_RESERVE,
    min_chunk_size: DEFAULT_MIN_CHUNK_SIZE,
    max_open_sessions_per_owner: 64,
    max_assets_per_owner: 1_000_000n,
    session_min_charge_bytes: BigInt(DEFAULT_MIN_CHUNK_SIZE),
    max_failed_finishes: 5,
    bucket_creation_interval_seconds: 600
};

export function getU64(state: IndexState, key: number): bigint {
    const bytes = state.meta.get(key);
    return bytes === undefined ? 0n : readU64(bytes, 0);
}

export function setU64(state: IndexState, key: number, value: bigint): void {
    const bytes = new Uint8Array(8);
    writeU64(bytes, 0, value);
    state.meta.insert(key, bytes);
}

/** Returns the current value of a counter and stores the next. */
export function takeNext(state: IndexState, key: number, first = 1n): bigint {
    const current = state.meta.containsKey(key) ? getU64(state, key) : first;
    setU64(state, key, current + 1n);
    return current;
}

export function getConfig(state: IndexState): ConfigT {
    const bytes = state.meta.get(MetaKey.config);
    return bytes === undefined ? DEFAULT_CONFIG : applyConfigUpdate(DEFAULT_CONFIG, configSerializer.fromBytes(bytes));
}

export function setConfig(state: IndexState, config: ConfigT): void {
    const stored = Object.fromEntries(Object.entries(config).map(([key, value]) => [key, [value]])) as unknown as ConfigUpdate;
    state.meta.insert(MetaKey.config, configSerializer.toBytes(stored));
}

function applyConfigUpdate(config: ConfigT, update: ConfigUpdate): ConfigT {
    const next = { ...config } as Record<string, unknown>;
    for (const [key, value] of Object.entries(update)) {
        if ((value as unknown[]).length === 1) next[key] = (value as unknown[])[0];
    }
    return next as unknown as ConfigT;
}

/** Applies `update` to the stored settings and saves them; returns why they are unusable (saving nothing), or null. */
export function updateConfig(state: IndexState, update: ConfigUpdate): string | null {
    const config = applyConfigUpdate(getConfig(state), update);
    const invalid = validateConfig(config);
    if (invalid === null) setConfig(state, config);
    return invalid;
}

/** Why a configuration is unusable, or null. */
function validateConfig(config: ConfigT): string | null {
    if (config.full_threshold_percent < 1 || config.full_threshold_percent > 100) return 'full_threshold_percent must be between 1 and 100';
    if (config.hash_slice_bytes % 64 !== 0) return 'hash_slice_bytes must be a multiple of 64';
    if (config.sweep_interval_seconds < 1) return 'sweep_interval_seconds must be at least 1';
    if (config.session_ttl_ns < 1_000_000_000n) return 'session_ttl_ns must be at least one second';
    if (config.bucket_controllers.length > 9) return 'at most 9 extra bucket controllers (the index is the tenth)';
    if (config.min_chunk_size < 64 || config.min_chunk_size % 64 !== 0 || config.min_chunk_size > MAX_CHUNK_SIZE) {
        return `min_chunk_size must be a multiple of 64 between 64 and ${MAX_CHUNK_SIZE}`;
    }
    return null;
}

export function initializeLayout(state: IndexState): void {
    writeLayoutVersion(state.meta, MetaKey.layoutVersion, INDEX_LAYOUT_VERSION);
}

/** After an upgrade: a reason to refuse to start on an unknown stable memory layout, or null. */
export function checkLayout(state: IndexState): string | null {
    return checkLayoutVersion(state.meta, MetaKey.layoutVersion, INDEX_LAYOUT_VERSION, 'index');
}

/** Marks a new instance of the index code: locks taken by an earlier instance become stale. */
export function startEpoch(state: IndexState): bigint {
    return takeNext(state, MetaKey.bootEpoch) + 1n;
}

export function currentEpoch(state: IndexState): bigint {
    return getU64(state, MetaKey.bootEpoch);
}
