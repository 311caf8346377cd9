/**
 * The Candid services of the index and the bucket, as IDL factories for actors (client, tests, CLI).
 * Built from the same types the canisters declare their methods with.
 */
import type { IDL as IDLNamespace } from '@dfinity/candid';
import { IDL } from '@dfinity/candid';

import {
    Asset,
    AssetAccess,
    AssetMeta,
    AssetPage,
    AssetUrl,
    BeginUploadArgs,
    BucketInfo,
    BucketStats,
    Config,
    ConfigUpdate,
    HashChunkArgs,
    HashChunkResult,
    HttpRequest,
    HttpResponse,
    CommitSessionArgs,
    DeleteProgress,
    OpenSessionArgs,
    ListAssetsArgs,
    ListSharedArgs,
    Result,
    SessionActivity,
    SessionInfo,
    Stats,
    UnitResult,
    UpgradeStatus,
    UploadEncryptionArgs,
    UploadStatus,
    UploadTicket,
    VerificationPlan,
    VerifierInfo,
    VerifyProgress,
    VerifyResult
} from './types';

export const indexMethods = {
    begin_upload: IDL.Func([BeginUploadArgs], [Result(UploadTicket)], []),
    finish_upload: IDL.Func([IDL.Nat64], [Result(Asset)], []),
    abort_upload: IDL.Func([IDL.Nat64], [UnitResult], []),
    upload_session: IDL.Func([IDL.Nat64], [Result(SessionInfo)], ['query']),
    get_asset: IDL.Func([IDL.Nat64], [Result(Asset)], ['query']),
    list_assets: IDL.Func([ListAssetsArgs], [Result(AssetPage)], ['query']),
    delete_asset: IDL.Func([IDL.Nat64], [UnitResult], []),
    buckets: IDL.Func([], [IDL.Vec(BucketInfo)], ['query']),
    stats: IDL.Func([], [Stats], ['query']),
    config: IDL.Func([], [Config], ['query']),
    bucket_upgrade_status: IDL.Func([], [UpgradeStatus], ['query']),
    admin_set_config: IDL.Func([ConfigUpdate], [Result(Config)], []),
    admin_register_bucket: IDL.Func([IDL.Principal, IDL.Opt(IDL.Nat64)], [Result(BucketInfo)], []),
    admin_begin_bucket_wasm: IDL.Func([], [Result(IDL.Nat64)], []),
    admin_put_bucket_wasm: IDL.Func([IDL.Nat64, IDL.Nat32, IDL.Vec(IDL.Nat8)], [UnitResult], []),
    admin_commit_bucket_wasm: IDL.Func([IDL.Nat64, IDL.Vec(IDL.Nat8)], [UnitResult], []),
    admin_create_bucket: IDL.Func([], [Result(BucketInfo)], []),
    admin_upgrade_buckets: IDL.Func([], [Result(UpgradeStatus)], []),
    admin_run_maintenance: IDL.Func([], [UnitResult], []),
    /** Where an asset is served over HTTP; for a private asset (owner only), a URL with a token valid `ttl_seconds`. */
    asset_url: IDL.Func([IDL.Nat64, IDL.Opt(IDL.Nat32)], [Result(AssetUrl)], []),
    /** Uses this verifier (checked against the module hash) for per-chunk verification; none: hash in the buckets. */
    admin_set_verifier: IDL.Func([IDL.Opt(VerifierInfo)], [UnitResult], []),
    verifier: IDL.Func([], [IDL.Opt(VerifierInfo)], ['query']),
    // End-to-end encryption (canisters/index/keys.ts).
    /** Marks an open upload session (owner only) as encrypted and stores the owner's wrapped data key. */
    set_upload_encryption: IDL.Func([IDL.Nat64, UploadEncryptionArgs], [UnitResult], []),
    /** The vetKD public key (derivation context of Silo's files) the clients wrap data keys under. */
    encryption_public_key: IDL.Func([], [Result(IDL.Vec(IDL.Nat8))], []),
    /** The caller's vetKey (input: the caller's principal), encrypted to `transport_public_key`; rate limited, the index pays. */
    derive_user_key: IDL.Func([IDL.Vec(IDL.Nat8)], [Result(IDL.Vec(IDL.Nat8))], []),
    /** Lets `reader` obtain the asset's data key (`wrapped_key`: wrapped to the reader); owner only. */
    share: IDL.Func([IDL.Nat64, IDL.Principal, IDL.Vec(IDL.Nat8)], [UnitResult], []),
    /** Stops releasing the asset's data key to `reader`; owner only. */
    unshare: IDL.Func([IDL.Nat64, IDL.Principal], [UnitResult], []),
    /** An encrypted asset's record, format and the caller's wrapped key (owner: and its readers). */
    asset_access: IDL.Func([IDL.Nat64], [Result(AssetAccess)], ['query']),
    /** Encrypted assets shared with the caller, in the order they were shared. */
    list_shared_with_me: IDL.Func([ListSharedArgs], [Result(AssetPage)], ['query']),
    /** Which vetKD key the index derives with (`dfx_test_key`, `test_key_1`, `key_1`); controllers only. */
    admin_set_vetkd_key: IDL.Func([IDL.Text], [UnitResult], [])
};

export const bucketMethods = {
    put_chunk: IDL.Func([IDL.Nat64, IDL.Nat32, IDL.Vec(IDL.Nat8)], [UnitResult], []),
    upload_status: IDL.Func([IDL.Nat64], [Result(UploadStatus)], ['query']),
    get_chunk: IDL.Func([IDL.Nat64, IDL.Nat32], [Result(IDL.Vec(IDL.Nat8))], ['query']),
    stats: IDL.Func([], [BucketStats], ['query']),
    c2c_open_session: IDL.Func([OpenSessionArgs], [UnitResult], []),
    c2c_seal_session: IDL.Func([IDL.Nat64], [UnitResult], []),
    c2c_reopen_session: IDL.Func([IDL.Nat64, IDL.Nat32, IDL.Bool], [UnitResult], []),
    c2c_hash_chunk: IDL.Func([HashChunkArgs], [Result(HashChunkResult)], []),
    c2c_commit_session: IDL.Func([CommitSessionArgs], [UnitResult], []),
    c2c_delete: IDL.Func([IDL.Nat64], [Result(DeleteProgress)], []),
    c2c_session_activity: IDL.Func([IDL.Vec(IDL.Nat64)], [Result(IDL.Vec(SessionActivity))], ['query']),
    http_request: IDL.Func([HttpRequest], [HttpResponse], ['query']),
    /** Records the HTTP metadata of committed assets (backfill); returns how many were recorded. */
    c2c_put_asset_meta: IDL.Func([IDL.Vec(AssetMeta)], [Result(IDL.Nat32)], []),
    /** Sets the key that private assets' URL tokens are checked with. */
    c2c_set_url_secret: IDL.Func([IDL.Vec(IDL.Nat8)], [UnitResult], []),
    c2c_plan_verification: IDL.Func([IDL.Nat64, VerificationPlan], [UnitResult], []),
    c2c_verify_session: IDL.Func([IDL.Nat64], [Result(VerifyProgress)], [])
};

/** The verifier canister (canisters/verifier): a native SHA-256 over bytes its callers send. */
export const verifierMethods = {
    absorb: IDL.Func([IDL.Vec(IDL.Nat8), IDL.Vec(IDL.Nat8)], [VerifyResult], []),
    digest: IDL.Func([IDL.Vec(IDL.Nat8), IDL.Vec(IDL.Nat8)], [VerifyResult], []),
    /** As absorb, then the SHA-256 of the data alone (72 bytes): the chunk digest a bucket certifies its HTTP response with. */
    absorb_chunk: IDL.Func([IDL.Vec(IDL.Nat8), IDL.Vec(IDL.Nat8)], [VerifyResult], []),
    /** As digest, then the SHA-256 of the data alone (64 bytes). */
    digest_chunk: IDL.Func([IDL.Vec(IDL.Nat8), IDL.Vec(IDL.Nat8)], [VerifyResult], [])
};

export const indexIdlFactory: IDLNamespace.InterfaceFactory = () => IDL.Service(indexMethods);
export const bucketIdlFactory: IDLNamespace.InterfaceFactory = () => IDL.Service(bucketMethods);
export const verifierIdlFactory: IDLNamespace.InterfaceFactory = () => IDL.Service(verifierMethods);
