/**
 * Silo's Candid types, defined once: the canisters declare their methods with them, the client and the
 * tests encode and decode with them. Each IDL value has a TypeScript type of the same name.
 */
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

export const Visibility = IDL.Variant({ public: IDL.Null, private: IDL.Null });
export type Visibility = { public: null } | { private: null };

/** Every expected failure, as a variant the client turns into a named Error subclass. */
export const SiloError = IDL.Variant({
    Unauthorized: IDL.Text,
    InvalidArgument: IDL.Text,
    QuotaExceeded: IDL.Record({ limit: IDL.Nat64, used: IDL.Nat64, requested: IDL.Nat64 }),
    NoCapacity: IDL.Text,
    SessionNotFound: IDL.Nat64,
    SessionExpired: IDL.Nat64,
    SessionClosed: IDL.Record({ session_id: IDL.Nat64, state: IDL.Text }),
    ChunkOutOfRange: IDL.Record({ index: IDL.Nat32, chunk_count: IDL.Nat32 }),
    WrongChunkLength: IDL.Record({ index: IDL.Nat32, expected: IDL.Nat32, actual: IDL.Nat32 }),
    /** `missing` lists at most 1,000 indexes; `count` is the total. */
    MissingChunks: IDL.Record({ missing: IDL.Vec(IDL.Nat32), count: IDL.Nat32 }),
    ChecksumMismatch: IDL.Record({ chunk_index: IDL.Nat32 }),
    HashMismatch: IDL.Record({ expected: IDL.Vec(IDL.Nat8), actual: IDL.Vec(IDL.Nat8) }),
    BucketUnavailable: IDL.Record({ bucket: IDL.Principal, reason: IDL.Text }),
    Busy: IDL.Text,
    AssetNotFound: IDL.Nat64,
    /** The upload's bucket cannot pay for it (`needed` cycles, `available` above its freezing reserve) and the index could not top it up. */
    InsufficientCycles: IDL.Record({ canister: IDL.Principal, available: IDL.Nat, needed: IDL.Nat }),
    /** A per-owner or per-upload cap (`what` names it, README lists them): `requested` is over `limit`. */
    LimitExceeded: IDL.Record({ what: IDL.Text, limit: IDL.Nat64, requested: IDL.Nat64 }),
    /** Not now: `what` may happen again at `retry_at` (nanoseconds since the epoch). */
    RateLimited: IDL.Record({ what: IDL.Text, retry_at: IDL.Nat64 }),
    /** The session failed verification `attempts` times and was aborted; upload again. */
    FinishAttemptsExhausted: IDL.Record({ session_id: IDL.Nat64, attempts: IDL.Nat32 })
});
export type SiloError =
    | { Unauthorized: string }
    | { InvalidArgument: string }
    | { QuotaExceeded: { limit: bigint; used: bigint; requested: bigint } }
    | { NoCapacity: string }
    | { SessionNotFound: bigint }
    | { SessionExpired: bigint }
    | { SessionClosed: { session_id: bigint; state: string } }
    | { ChunkOutOfRange: { index: number; chunk_count: number } }
    | { WrongChunkLength: { index: number; expected: number; actual: number } }
    | { MissingChunks: { missing: number[]; count: number } }
    | { ChecksumMismatch: { chunk_index: number } }
    | { HashMismatch: { expected: Uint8Array; actual: Uint8Array } }
    | { BucketUnavailable: { bucket: Principal; reason: string } }
    | { Busy: string }
    | { AssetNotFound: bigint }
    | { InsufficientCycles: { canister: Principal; available: bigint; needed: bigint } }
    | { LimitExceeded: { what: string; limit: bigint; requested: bigint } }
    | { RateLimited: { what: string; retry_at: bigint } }
    | { FinishAttemptsExhausted: { session_id: bigint; attempts: number } };

export type Result<T> = { Ok: T } | { Err: SiloError };
export function Result(ok: IDL.Type): IDL.VariantClass {
    return IDL.Variant({ Ok: ok, Err: SiloError });
}
export const UnitResult = Result(IDL.Null);

// ------------------------------------------------------------------ index: uploads and assets

export const BeginUploadArgs = IDL.Record({
    name: IDL.Text,
    content_type: IDL.Text,
    size: IDL.Nat64,
    sha256: IDL.Vec(IDL.Nat8),
    chunk_size: IDL.Nat32,
    visibility: Visibility,
    /** SHA-256 chaining state (32 bytes) after each full chunk, in order; optional. */
    checkpoints: IDL.Opt(IDL.Vec(IDL.Vec(IDL.Nat8)))
});
export interface BeginUploadArgs {
    name: string;
    content_type: string;
    size: bigint;
    sha256: Uint8Array;
    chunk_size: number;
    visibility: Visibility;
    checkpoints: [] | [Uint8Array[]];
}

export const UploadTicket = IDL.Record({
    session_id: IDL.Nat64,
    bucket: IDL.Principal,
    chunk_size: IDL.Nat32,
    chunk_count: IDL.Nat32,
    expires_at: IDL.Nat64
});
export interface UploadTicket {
    session_id: bigint;
    bucket: Principal;
    chunk_size: number;
    chunk_count: number;
    expires_at: bigint;
}

export const SessionState = IDL.Variant({ opening: IDL.Null, open: IDL.Null, finishing: IDL.Null });
export type SessionState = { opening: null } | { open: null } | { finishing: null };

/** The fields of SessionInfo, which the index's stored session record extends. */
export const sessionInfoFields = {
    session_id: IDL.Nat64,
    owner: IDL.Principal,
    name: IDL.Text,
    content_type: IDL.Text,
    size: IDL.Nat64,
    chunk_size: IDL.Nat32,
    chunk_count: IDL.Nat32,
    bucket: IDL.Principal,
    visibility: Visibility,
    state: SessionState,
    /** Bytes already read back from the bucket and hashed by `finish_upload`. */
    verified_bytes: IDL.Nat64,
    created_at: IDL.Nat64,
    expires_at: IDL.Nat64
};
export const SessionInfo = IDL.Record(sessionInfoFields);
export interface SessionInfo {
    session_id: bigint;
    owner: Principal;
    name: string;
    content_type: string;
    size: bigint;
    chunk_size: number;
    chunk_count: number;
    bucket: Principal;
    visibility: Visibility;
    state: SessionState;
    verified_bytes: bigint;
    created_at: bigint;
    expires_at: bigint;
}

export const Asset = IDL.Record({
    id: IDL.Nat64,
    owner: IDL.Principal,
    name: IDL.Text,
    content_type: IDL.Text,
    size: IDL.Nat64,
    sha256: IDL.Vec(IDL.Nat8),
    chunk_size: IDL.Nat32,
    chunk_count: IDL.Nat32,
    bucket: IDL.Principal,
    visibility: Visibility,
    created_at: IDL.Nat64
});
export interface Asset {
    id: bigint;
    owner: Principal;
    name: string;
    content_type: string;
    size: bigint;
    sha256: Uint8Array;
    chunk_size: number;
    chunk_count: number;
    bucket: Principal;
    visibility: Visibility;
    created_at: bigint;
}

export const ListAssetsArgs = IDL.Record({
    /** Whose assets; the caller's when absent. Others' private assets are never listed. */
    owner: IDL.Opt(IDL.Principal),
    cursor: IDL.Opt(IDL.Nat64),
    limit: IDL.Opt(IDL.Nat32)
});
export interface ListAssetsArgs {
    owner: [] | [Principal];
    cursor: [] | [bigint];
    limit: [] | [number];
}
export const AssetPage = IDL.Record({ assets: IDL.Vec(Asset), next_cursor: IDL.Opt(IDL.Nat64) });
export interface AssetPage {
    assets: Asset[];
    next_cursor: [] | [bigint];
}

// ------------------------------------------------------------------ index: buckets and administration

export const BucketStatus = IDL.Variant({ active: IDL.Null, full: IDL.Null });
export type BucketStatus = { active: null } | { full: null };

/** A canister's cycles as the index last saw them (`canister_status`), and how long they last at the current burn. */
export const CyclesReport = IDL.Record({
    /** The balance at `observed_at`, plus what the index deposited since. */
    balance: IDL.Nat,
    observed_at: IDL.Nat64,
    /** Cycles burned per day: measured between the last two observations, at least the idle burn. */
    burn_per_day: IDL.Nat,
    /** What the canister must keep to stay above its freezing threshold (for the index: its configured reserve). */
    freezing_reserve: IDL.Nat,
    /** Days until the balance falls to `freezing_reserve` at `burn_per_day`; none while nothing burns. */
    runway_days: IDL.Opt(IDL.Float64),
    /** Cycles the index has deposited in this canister in all. */
    topped_up: IDL.Nat,
    /** Below the top-up threshold, and the index could not bring it back above (see `error`). */
    low: IDL.Bool,
    /** Why the last observation or top-up failed, if it did. */
    error: IDL.Opt(IDL.Text)
});
export interface CyclesReport {
    balance: bigint;
    observed_at: bigint;
    burn_per_day: bigint;
    freezing_reserve: bigint;
    runway_days: [] | [number];
    topped_up: bigint;
    low: boolean;
    error: [] | [string];
}

export const BucketInfo = IDL.Record({
    id: IDL.Principal,
    capacity_bytes: IDL.Nat64,
    used_bytes: IDL.Nat64,
    reserved_bytes: IDL.Nat64,
    status: BucketStatus,
    created_by_index: IDL.Bool,
    created_at: IDL.Nat64,
    /** SHA-256 of the module the index last installed on it, if it did. */
    module_hash: IDL.Opt(IDL.Vec(IDL.Nat8)),
    last_upgrade_error: IDL.Opt(IDL.Text),
    /** The bucket's cycles, once the index has looked (an opt field, so records stored before it decode). */
    cycles: IDL.Opt(CyclesReport)
});
export interface BucketInfo {
    id: Principal;
    capacity_bytes: bigint;
    used_bytes: bigint;
    reserved_bytes: bigint;
    status: BucketStatus;
    created_by_index: boolean;
    created_at: bigint;
    module_hash: [] | [Uint8Array];
    last_upgrade_error: [] | [string];
    cycles: [] | [CyclesReport];
}

export const Config = IDL.Record({
    quota_bytes: IDL.Nat64,
    session_ttl_ns: IDL.Nat64,
    bucket_capacity_bytes: IDL.Nat64,
    full_threshold_percent: IDL.Nat8,
    bucket_cycles: IDL.Nat,
    sweep_interval_seconds: IDL.Nat32,
    auto_create_buckets: IDL.Bool,
    /** Bytes `finish_upload` asks a bucket to hash per call (a multiple of 64); 0 means a whole chunk. */
    hash_slice_bytes: IDL.Nat32,
    /** Extra controllers of the buckets the index creates (the index always controls them). */
    bucket_controllers: IDL.Vec(IDL.Principal),
    /** The index tops a bucket up once its cycles above its freezing reserve fall below this. */
    cycles_topup_threshold: IDL.Nat,
    /** Cycles the index deposits per top-up (more if that does not reach the threshold). */
    cycles_topup_amount: IDL.Nat,
    /** Cycles the index keeps for itself: it never tops up or creates buckets below this. */
    index_cycles_reserve: IDL.Nat,
    /** Smallest chunk_size begin_upload accepts for an upload of more than one chunk. */
    min_chunk_size: IDL.Nat32,
    /** Upload sessions one owner may have open at once. */
    max_open_sessions_per_owner: IDL.Nat32,
    /** Assets (committed, plus sessions open) one owner may have. */
    max_assets_per_owner: IDL.Nat64,
    /** Each session reserves at least this many bytes of its owner's quota, whatever its size. */
    session_min_charge_bytes: IDL.Nat64,
    /** finish_upload calls that may fail verification before the session is aborted. */
    max_failed_finishes: IDL.Nat32,
    /** begin_upload creates at most one bucket per this many seconds. */
    bucket_creation_interval_seconds: IDL.Nat32
});
export interface Config {
    quota_bytes: bigint;
    session_ttl_ns: bigint;
    bucket_capacity_bytes: bigint;
    full_threshold_percent: number;
    bucket_cycles: bigint;
    sweep_interval_seconds: number;
    auto_create_buckets: boolean;
    hash_slice_bytes: number;
    bucket_controllers: Principal[];
    cycles_topup_threshold: bigint;
    cycles_topup_amount: bigint;
    index_cycles_reserve: bigint;
    min_chunk_size: number;
    max_open_sessions_per_owner: number;
    max_assets_per_owner: bigint;
    session_min_charge_bytes: bigint;
    max_failed_finishes: number;
    bucket_creation_interval_seconds: number;
}

export const ConfigUpdate = IDL.Record({
    quota_bytes: IDL.Opt(IDL.Nat64),
    session_ttl_ns: IDL.Opt(IDL.Nat64),
    bucket_capacity_bytes: IDL.Opt(IDL.Nat64),
    full_threshold_percent: IDL.Opt(IDL.Nat8),
    bucket_cycles: IDL.Opt(IDL.Nat),
    sweep_interval_seconds: IDL.Opt(IDL.Nat32),
    auto_create_buckets: IDL.Opt(IDL.Bool),
    hash_slice_bytes: IDL.Opt(IDL.Nat32),
    bucket_controllers: IDL.Opt(IDL.Vec(IDL.Principal)),
    cycles_topup_threshold: IDL.Opt(IDL.Nat),
    cycles_topup_amount: IDL.Opt(IDL.Nat),
    index_cycles_reserve: IDL.Opt(IDL.Nat),
    min_chunk_size: IDL.Opt(IDL.Nat32),
    max_open_sessions_per_owner: IDL.Opt(IDL.Nat32),
    max_assets_per_owner: IDL.Opt(IDL.Nat64),
    session_min_charge_bytes: IDL.Opt(IDL.Nat64),
    max_failed_finishes: IDL.Opt(IDL.Nat32),
    bucket_creation_interval_seconds: IDL.Opt(IDL.Nat32)
});
export type ConfigUpdate = { [K in keyof Config]: [] | [Config[K]] };

/** A ConfigUpdate that changes nothing; spread and override the fields to set. */
export function emptyConfigUpdate(): ConfigUpdate {
    return {
        quota_bytes: [],
        session_ttl_ns: [],
        bucket_capacity_bytes: [],
        full_threshold_percent: [],
        bucket_cycles: [],
        sweep_interval_seconds: [],
        auto_create_buckets: [],
        hash_slice_bytes: [],
        bucket_controllers: [],
        cycles_topup_threshold: [],
        cycles_topup_amount: [],
        index_cycles_reserve: [],
        min_chunk_size: [],
        max_open_sessions_per_owner: [],
        max_assets_per_owner: [],
        session_min_charge_bytes: [],
        max_failed_finishes: [],
        bucket_creation_interval_seconds: []
    };
}

/** The index's init argument: settings that differ from the defaults. */
export const IndexInitArgs = ConfigUpdate;

export const Stats = IDL.Record({
    assets: IDL.Nat64,
    stored_bytes: IDL.Nat64,
    open_sessions: IDL.Nat64,
    reserved_bytes: IDL.Nat64,
    buckets: IDL.Nat32,
    pending_bucket_tasks: IDL.Nat32,
    bucket_wasm_hash: IDL.Opt(IDL.Vec(IDL.Nat8)),
    cycles: IDL.Nat,
    /** The index's own cycles, burn and runway; `low` once its balance is below `index_cycles_reserve`. */
    index_cycles: CyclesReport,
    /** Buckets whose last report is `low`. */
    low_cycles_buckets: IDL.Nat32
});
export interface Stats {
    assets: bigint;
    stored_bytes: bigint;
    open_sessions: bigint;
    reserved_bytes: bigint;
    buckets: number;
    pending_bucket_tasks: number;
    bucket_wasm_hash: [] | [Uint8Array];
    cycles: bigint;
    index_cycles: CyclesReport;
    low_cycles_buckets: number;
}

export const UpgradeStatus = IDL.Record({
    target_hash: IDL.Opt(IDL.Vec(IDL.Nat8)),
    pending: IDL.Vec(IDL.Principal),
    failed: IDL.Vec(IDL.Record({ bucket: IDL.Principal, error: IDL.Text, attempts: IDL.Nat32 })),
    upgraded: IDL.Vec(IDL.Principal)
});
export interface UpgradeStatus {
    target_hash: [] | [Uint8Array];
    pending: Principal[];
    failed: { bucket: Principal; error: string; attempts: number }[];
    upgraded: Principal[];
}

// ------------------------------------------------------------------ bucket

export const BucketInitArgs = IDL.Record({ index: IDL.Principal });
export interface BucketInitArgs {
    index: Principal;
}

export const OpenSessionArgs = IDL.Record({
    session_id: IDL.Nat64,
    owner: IDL.Principal,
    size: IDL.Nat64,
    chunk_size: IDL.Nat32,
    chunk_count: IDL.Nat32,
    visibility: Visibility
});
export interface OpenSessionArgs {
    session_id: bigint;
    owner: Principal;
    size: bigint;
    chunk_size: number;
    chunk_count: number;
    visibility: Visibility;
}

export const BucketSessionState = IDL.Variant({ open: IDL.Null, sealed: IDL.Null, committed: IDL.Null, deleting: IDL.Null });
export type BucketSessionState = { open: null } | { sealed: null } | { committed: null } | { deleting: null };

export const UploadStatus = IDL.Record({
    session_id: IDL.Nat64,
    state: BucketSessionState,
    chunk_count: IDL.Nat32,
    /** Indexes of the chunks the bucket holds, ascending. */
    received: IDL.Vec(IDL.Nat32),
    bytes_received: IDL.Nat64
});
export interface UploadStatus {
    session_id: bigint;
    state: BucketSessionState;
    chunk_count: number;
    received: number[];
    bytes_received: bigint;
}

export const HashChunkArgs = IDL.Record({
    session_id: IDL.Nat64,
    index: IDL.Nat32,
    /** Where in the chunk to start and how many bytes to hash (0: to the end); multiples of 64 but the final part. */
    offset: IDL.Nat32,
    length: IDL.Nat32,
    /** The encoded SHA-256 chaining state to continue from (see shared/sha256). */
    state: IDL.Vec(IDL.Nat8)
});
export interface HashChunkArgs {
    session_id: bigint;
    index: number;
    offset: number;
    length: number;
    state: Uint8Array;
}
export const HashChunkResult = IDL.Record({
    state: IDL.Vec(IDL.Nat8),
    /** Bytes after the last whole 64-byte block of the final chunk: the index finalizes with them. */
    tail: IDL.Vec(IDL.Nat8)
});
export interface HashChunkResult {
    state: Uint8Array;
    tail: Uint8Array;
}

/** What a bucket needs to serve a committed asset over HTTP, beyond what its session record holds. */
export const AssetMeta = IDL.Record({
    id: IDL.Nat64,
    name: IDL.Text,
    content_type: IDL.Text,
    sha256: IDL.Vec(IDL.Nat8)
});
export interface AssetMeta {
    id: bigint;
    name: string;
    content_type: string;
    sha256: Uint8Array;
}

export const CommitSessionArgs = IDL.Record({
    session_id: IDL.Nat64,
    owner: IDL.Principal,
    visibility: Visibility,
    /** Absent only from an index older than HTTP serving: its maintenance pushes the metadata later. */
    meta: IDL.Opt(AssetMeta)
});
export interface CommitSessionArgs {
    session_id: bigint;
    owner: Principal;
    visibility: Visibility;
    meta: [] | [AssetMeta];
}

export const DeleteProgress = IDL.Record({ remaining: IDL.Nat32 });
export interface DeleteProgress {
    remaining: number;
}

export const SessionActivity = IDL.Record({ session_id: IDL.Nat64, last_activity: IDL.Opt(IDL.Nat64) });
export interface SessionActivity {
    session_id: bigint;
    last_activity: [] | [bigint];
}

export const BucketStats = IDL.Record({
    index: IDL.Principal,
    sessions: IDL.Nat64,
    chunks: IDL.Nat64,
    stored_bytes: IDL.Nat64,
    layout_version: IDL.Nat32
});
export interface BucketStats {
    index: Principal;
    sessions: bigint;
    chunks: bigint;
    stored_bytes: bigint;
    layout_version: number;
}

// ------------------------------------------------------------------ HTTP serving (issue 12)

/** What `asset_url` returns: where the asset is served, and the token of a private asset's URL. */
export const AssetUrl = IDL.Record({
    bucket: IDL.Principal,
    /** `/a/<id>/<name>`, with `?token=...` for a private asset. */
    path: IDL.Text,
    token: IDL.Opt(IDL.Text),
    /** When the token stops working (ns since the epoch); absent for public assets. */
    expires_at: IDL.Opt(IDL.Nat64)
});
export interface AssetUrl {
    bucket: Principal;
    path: string;
    token: [] | [string];
    expires_at: [] | [bigint];
}

/** The HTTP gateway protocol's request and response (`http_request`). */
export const HeaderField = IDL.Tuple(IDL.Text, IDL.Text);
export type HeaderField = [string, string];

export const HttpRequest = IDL.Record({
    method: IDL.Text,
    url: IDL.Text,
    headers: IDL.Vec(HeaderField),
    body: IDL.Vec(IDL.Nat8),
    certificate_version: IDL.Opt(IDL.Nat16)
});
export interface HttpRequest {
    method: string;
    url: string;
    headers: HeaderField[];
    body: Uint8Array;
    certificate_version: [] | [number];
}

/**
 * No `streaming_strategy` and no `upgrade`: both are `opt` in the protocol, so a gateway decodes their
 * absence as null. Large files are served as 206 parts that the gateway fetches with `Range` instead.
 */
export const HttpResponse = IDL.Record({
    status_code: IDL.Nat16,
    headers: IDL.Vec(HeaderField),
    body: IDL.Vec(IDL.Nat8)
});
export interface HttpResponse {
    status_code: number;
    headers: HeaderField[];
    body: Uint8Array;
}

// ------------------------------------------------------------------ verifier (issue 14)

/** The verifier canister's error: its argument was malformed (bad Candid, state or alignment). */
export const VerifyError = IDL.Variant({ InvalidArgument: IDL.Text });
export type VerifyError = { InvalidArgument: string };
/** `absorb` answers a 40-byte state, `digest` a 32-byte SHA-256. */
export const VerifyResult = IDL.Variant({ Ok: IDL.Vec(IDL.Nat8), Err: VerifyError });
export type VerifyResult = { Ok: Uint8Array } | { Err: VerifyError };

/** What a bucket needs to verify a session's chunks one by one, as they arrive. */
export const VerificationPlan = IDL.Record({
    verifier: IDL.Principal,
    /** The declared SHA-256 of the whole upload: the last chunk must finish to it. */
    sha256: IDL.Vec(IDL.Nat8),
    /** The chaining value after each full chunk (the client's checkpoints). */
    checkpoints: IDL.Vec(IDL.Vec(IDL.Nat8))
});
export interface VerificationPlan {
    verifier: Principal;
    sha256: Uint8Array;
    checkpoints: Uint8Array[];
}

/** Where a session's per-chunk verification stands (`c2c_verify_session`). */
export const VerifyProgress = IDL.Variant({
    /** Every chunk matched, the last one the declared digest, all through this verifier. */
    done: IDL.Record({ verifier: IDL.Principal }),
    pending: IDL.Record({ verified: IDL.Nat32, remaining: IDL.Nat32 }),
    /** This chunk did not hash to its checkpoint (or the digest); the bucket dropped it. */
    mismatch: IDL.Nat32,
    /** The verifier could not be reached or refused the call. */
    unavailable: IDL.Text,
    /** The session has no plan: verify it sequentially. */
    no_plan: IDL.Null
});
export type VerifyProgress =
    | { done: { verifier: Principal } }
    | { pending: { verified: number; remaining: number } }
    | { mismatch: number }
    | { unavailable: string }
    | { no_plan: null };

/** The verifier the index uses, and the module hash it was checked against. */
export const VerifierInfo = IDL.Record({ canister: IDL.Principal, module_hash: IDL.Vec(IDL.Nat8) });
export interface VerifierInfo {
    canister: Principal;
    module_hash: Uint8Array;
}

// ------------------------------------------------------------------ end-to-end encryption (issue 21)

/** The `content_type` of every encrypted asset: buckets serve its ciphertext as this, never as the plaintext's type. */
export const ENCRYPTED_CONTENT_TYPE = 'application/vnd.silo.encrypted';

/** The encryption format version clients write and the index accepts (client/encryption.ts describes it). */
export const ENCRYPTION_VERSION = 1;
/** Bytes an AES-GCM tag adds to each chunk of an encrypted asset. */
export const ENCRYPTION_TAG_BYTES = 16;
/** Random bytes per file at the start of each chunk's 12-byte nonce. */
export const ENCRYPTION_NONCE_PREFIX_BYTES = 8;

/**
 * The ciphertext size (what Silo stores and verifies) of `plaintextSize` bytes encrypted in chunks of
 * `chunkSize` (more than ENCRYPTION_TAG_BYTES): each chunk loses the tag's bytes; an empty file is one chunk.
 */
export function ciphertextSize(plaintextSize: bigint, chunkSize: number): bigint {
    const perChunk = BigInt(chunkSize - ENCRYPTION_TAG_BYTES);
    const chunks = plaintextSize === 0n ? 1n : (plaintextSize + perChunk - 1n) / perChunk;
    return plaintextSize + chunks * BigInt(ENCRYPTION_TAG_BYTES);
}

/**
 * What a client needs to decrypt an encrypted asset (client/encryption.ts has the format): stored by the
 * index beside the asset, never read by a canister. The asset's own `size`, `sha256` and `chunk_size`
 * describe the ciphertext; each chunk carries `chunk_size - 16` bytes of plaintext and a 16-byte tag.
 */
export const EncryptionInfo = IDL.Record({
    /** The format version (1: AES-256-GCM per chunk, the data key wrapped with vetKeys IBE). */
    version: IDL.Nat16,
    plaintext_size: IDL.Nat64,
    /** The plaintext's MIME type (the asset's `content_type` is ENCRYPTED_CONTENT_TYPE). */
    content_type: IDL.Text,
    /** Random per file: the first 8 bytes of every chunk's 12-byte nonce, the chunk index the last 4. */
    nonce_prefix: IDL.Vec(IDL.Nat8)
});
export interface EncryptionInfo {
    version: number;
    plaintext_size: bigint;
    content_type: string;
    nonce_prefix: Uint8Array;
}

/** `set_upload_encryption`: marks an open upload session as encrypted, with the owner's wrapped data key. */
export const UploadEncryptionArgs = IDL.Record({
    info: EncryptionInfo,
    /** The file's data key, IBE-encrypted to the owner's principal under `encryption_public_key`. */
    owner_key: IDL.Vec(IDL.Nat8)
});
export interface UploadEncryptionArgs {
    info: EncryptionInfo;
    owner_key: Uint8Array;
}

/** `asset_access`: an encrypted asset as its caller (owner or reader) may see it. */
export const AssetAccess = IDL.Record({
    asset: Asset,
    encryption: EncryptionInfo,
    /** The data key wrapped to the caller's principal: only the caller's own vetKey opens it. */
    wrapped_key: IDL.Vec(IDL.Nat8),
    /** Whom the asset is shared with: the owner sees them all, a reader none. */
    readers: IDL.Vec(IDL.Principal)
});
export interface AssetAccess {
    asset: Asset;
    encryption: EncryptionInfo;
    wrapped_key: Uint8Array;
    readers: Principal[];
}

export const ListSharedArgs = IDL.Record({ cursor: IDL.Opt(IDL.Nat64), limit: IDL.Opt(IDL.Nat32) });
export interface ListSharedArgs {
    cursor: [] | [bigint];
    limit: [] | [number];
}
