/**
 * Silo index canister: upload sessions and their rolling SHA-256 state, the bucket registry and the
 * atomic asset index. Each method checks its caller and delegates to the plain functions beside it.
 */
import { IDL } from '@dfinity/candid';
import {
    canisterCycleBalance,
    canisterSelf,
    clearTimer,
    init,
    inspectMessage,
    isController,
    msgArgData,
    msgCaller,
    msgMethodName,
    postUpgrade,
    setTimerInterval,
    StableBTreeMap,
    time,
    trap
} from 'azle';
import type { Principal } from 'azle';

import { candidQuery, candidUpdate } from '../runtime/endpoints';
import { decodeCandid } from '../../shared/candid_codec';
import { indexMethods } from '../../shared/idl';
import { IndexInitArgs, VerifierInfo } from '../../shared/types';
import { bytesSerializer, candidSerializer, idIndexKey, principalKey, principalPageKey, u64Key, u64ListSerializer, u64PairKey, u8Key } from '../../shared/stable';
import type {
    Asset,
    AssetAccess,
    AssetPage,
    AssetUrl,
    BeginUploadArgs,
    BucketInfo,
    Config,
    ConfigUpdate,
    ListAssetsArgs,
    ListSharedArgs,
    Result,
    SessionInfo,
    Stats,
    UpgradeStatus,
    UploadEncryptionArgs,
    UploadTicket,
    VerifierInfo as VerifierInfoT
} from '../../shared/types';
import { deleteAsset, getAsset, listAssets } from './assets';
import {
    activeWasmHash,
    beginBucketWasm,
    commitBucketWasm,
    createBucket,
    putBucketWasmPiece,
    registerBucket,
    runUpgrades,
    scheduleUpgrades,
    upgradeRefusal,
    upgradeStatus
} from './buckets';
import { indexCycles, lowBuckets } from './cycles';
import { inspectIndexMessage } from './inspect';
import {
    assetAccess,
    deriveUserKey,
    encryptionPublicKey,
    listSharedWithMe,
    setUploadEncryption,
    setVetKdKey,
    share,
    unshare
} from './keys';
import { runMaintenance } from './maintenance';
import { migrateLayout, totals } from './schedule';
import { IndexMemory } from './memory';
import { ports } from './ports';
import {
    assetSerializer,
    bucketSerializer,
    encryptionSerializer,
    type Env,
    getConfig,
    grantKey,
    grantSerializer,
    type IndexState,
    initializeLayout,
    keyUserSerializer,
    ownerSerializer,
    sessionSerializer,
    startEpoch,
    taskSerializer,
    topUpWindowSerializer,
    updateConfig,
    upgradeSerializer,
    urlSecretSerializer
} from './state';
import { abortUpload, beginUpload, finishUpload, sessionInfo } from './uploads';
import { assetUrl } from './urls';
import { currentVerifier, setVerifier } from './verification';

const state: IndexState = {
    meta: new StableBTreeMap(IndexMemory.meta, u8Key, bytesSerializer),
    sessions: new StableBTreeMap(IndexMemory.sessions, u64Key, sessionSerializer),
    checkpoints: new StableBTreeMap(IndexMemory.checkpoints, idIndexKey, bytesSerializer),
    assets: new StableBTreeMap(IndexMemory.assets, u64Key, assetSerializer),
    ownerPages: new StableBTreeMap(IndexMemory.ownerPages, principalPageKey, u64ListSerializer),
    owners: new StableBTreeMap(IndexMemory.owners, principalKey, ownerSerializer),
    buckets: new StableBTreeMap(IndexMemory.buckets, principalKey, bucketSerializer),
    tasks: new StableBTreeMap(IndexMemory.tasks, u64Key, taskSerializer),
    bucketWasm: new StableBTreeMap(IndexMemory.bucketWasm, idIndexKey, bytesSerializer),
    upgrades: new StableBTreeMap(IndexMemory.upgrades, principalKey, upgradeSerializer),
    expired: new StableBTreeMap(IndexMemory.expired, u64Key, u64Key),
    expiries: new StableBTreeMap(IndexMemory.expiries, u64PairKey, bytesSerializer),
    taskQueue: new StableBTreeMap(IndexMemory.taskQueue, u64PairKey, bytesSerializer),
    urlSecrets: new StableBTreeMap(IndexMemory.urlSecrets, principalKey, urlSecretSerializer),
    topUpBudgets: new StableBTreeMap(IndexMemory.topUpBudgets, principalKey, topUpWindowSerializer),
    verifier: new StableBTreeMap(IndexMemory.verifier, u8Key, candidSerializer<VerifierInfoT>(VerifierInfo)),
    keys: {
        encryption: new StableBTreeMap(IndexMemory.encryption, u64Key, encryptionSerializer),
        grants: new StableBTreeMap(IndexMemory.grants, grantKey, grantSerializer),
        sharedPages: new StableBTreeMap(IndexMemory.sharedPages, principalPageKey, u64ListSerializer),
        keyUsers: new StableBTreeMap(IndexMemory.keyUsers, principalKey, keyUserSerializer)
    }
};

function env(): Env {
    return { caller: msgCaller(), now: time(), self: canisterSelf(), isController, cycles: canisterCycleBalance };
}

function controllerOnly<T>(method: string, run: () => T): T | { Err: { Unauthorized: string } } {
    if (!isController(msgCaller())) return { Err: { Unauthorized: `${method} may be called only by a controller of the index` } };
    return run();
}

async function maintenance(): Promise<void> {
    await runMaintenance(state, env(), ports);
}

/** The maintenance timer, and the interval it was armed with. */
let timer: { id: bigint; seconds: number } | undefined;

/** Arms the maintenance timer at the configured interval, replacing one armed with another. */
function startMaintenance(): void {
    const seconds = getConfig(state).sweep_interval_seconds;
    if (timer?.seconds === seconds) return;
    if (timer !== undefined) clearTimer(timer.id);
    timer = { id: setTimerInterval(seconds, maintenance), seconds };
}

/** Applies the settings given at install or upgrade, starts a new epoch and the maintenance timer. */
function start(update: ConfigUpdate): void {
    const invalid = updateConfig(state, update);
    if (invalid !== null) trap(`invalid configuration: ${invalid}`);
    // A new epoch makes finish locks held by the previous code instance stale.
    startEpoch(state);
    startMaintenance();
}

const m = indexMethods;

export default class {
    @init([IndexInitArgs])
    init(update: ConfigUpdate): void {
        initializeLayout(state);
        start(update);
    }

    /** Takes the init argument too (Azle requires it): settings given there are applied. */
    @postUpgrade([IndexInitArgs])
    postUpgrade(update: ConfigUpdate): void {
        const refusal = upgradeRefusal(state, time()) ?? migrateLayout(state);
        if (refusal !== null) trap(refusal);
        start(update);
    }

    /** Drops ingress calls that could only be refused (see inspect.ts); manual: arguments are decoded only if needed. */
    @inspectMessage({ manual: true })
    inspect_message(): boolean {
        const method = msgMethodName();
        const arg = msgArgData();
        const func = (m as Record<string, IDL.FuncClass>)[method];
        const reason = inspectIndexMessage(state, {
            caller: msgCaller(),
            method,
            argBytes: arg.length,
            isController,
            decode: () => decodeCandid(func.argTypes, arg)
        });
        return reason === null;
    }

    @candidUpdate(m.begin_upload)
    async begin_upload(args: BeginUploadArgs): Promise<Result<UploadTicket>> {
        return beginUpload(state, env(), ports, args);
    }

    @candidUpdate(m.finish_upload)
    async finish_upload(sessionId: bigint): Promise<Result<Asset>> {
        return finishUpload(state, env(), ports, sessionId);
    }

    @candidUpdate(m.abort_upload)
    async abort_upload(sessionId: bigint): Promise<Result<null>> {
        return abortUpload(state, env(), ports, sessionId);
    }

    @candidQuery(m.upload_session)
    upload_session(sessionId: bigint): Result<SessionInfo> {
        return sessionInfo(state, env(), sessionId);
    }

    @candidQuery(m.get_asset)
    get_asset(id: bigint): Result<Asset> {
        return getAsset(state, env(), id);
    }

    @candidQuery(m.list_assets)
    list_assets(args: ListAssetsArgs): Result<AssetPage> {
        return listAssets(state, env(), args);
    }

    @candidUpdate(m.delete_asset)
    async delete_asset(id: bigint): Promise<Result<null>> {
        return deleteAsset(state, env(), ports, id);
    }

    @candidQuery(m.buckets)
    buckets(): BucketInfo[] {
        return state.buckets.items().map(([, b]) => b);
    }

    @candidQuery(m.stats)
    stats(): Stats {
        const sum = totals(state);
        const hash = activeWasmHash(state);
        return {
            assets: sum.assets,
            stored_bytes: sum.committed,
            open_sessions: BigInt(state.sessions.len()),
            reserved_bytes: sum.reserved,
            buckets: Number(state.buckets.len()),
            pending_bucket_tasks: Number(state.tasks.len()),
            bucket_wasm_hash: hash === undefined ? [] : [hash],
            cycles: canisterCycleBalance(),
            index_cycles: indexCycles(state, env()),
            low_cycles_buckets: lowBuckets(state)
        };
    }

    @candidQuery(m.config)
    config(): Config {
        return getConfig(state);
    }

    @candidQuery(m.bucket_upgrade_status)
    bucket_upgrade_status(): UpgradeStatus {
        return upgradeStatus(state);
    }

    @candidUpdate(m.admin_set_config)
    admin_set_config(update: ConfigUpdate): Result<Config> {
        return controllerOnly('admin_set_config', () => {
            const invalid = updateConfig(state, update);
            if (invalid !== null) return { Err: { InvalidArgument: invalid } };
            startMaintenance();
            return { Ok: getConfig(state) };
        });
    }

    @candidUpdate(m.admin_register_bucket)
    admin_register_bucket(bucket: Principal, capacity: [] | [bigint]): Result<BucketInfo> {
        return controllerOnly('admin_register_bucket', () =>
            registerBucket(state, env(), bucket, capacity[0] ?? getConfig(state).bucket_capacity_bytes, false)
        );
    }

    @candidUpdate(m.admin_begin_bucket_wasm)
    admin_begin_bucket_wasm(): Result<bigint> {
        return controllerOnly('admin_begin_bucket_wasm', () => ({ Ok: beginBucketWasm(state) }));
    }

    @candidUpdate(m.admin_put_bucket_wasm)
    admin_put_bucket_wasm(generation: bigint, index: number, bytes: Uint8Array): Result<null> {
        return controllerOnly('admin_put_bucket_wasm', () => putBucketWasmPiece(state, generation, index, bytes));
    }

    @candidUpdate(m.admin_commit_bucket_wasm)
    admin_commit_bucket_wasm(generation: bigint, sha256: Uint8Array): Result<null> {
        return controllerOnly('admin_commit_bucket_wasm', () => commitBucketWasm(state, generation, sha256));
    }

    @candidUpdate(m.admin_create_bucket)
    async admin_create_bucket(): Promise<Result<BucketInfo>> {
        return controllerOnly('admin_create_bucket', () => createBucket(state, env(), ports));
    }

    @candidUpdate(m.admin_upgrade_buckets)
    async admin_upgrade_buckets(): Promise<Result<UpgradeStatus>> {
        return controllerOnly('admin_upgrade_buckets', async () => {
            const scheduled = scheduleUpgrades(state, env());
            if ('Err' in scheduled) return scheduled;
            await runUpgrades(state, env(), ports);
            return { Ok: upgradeStatus(state) };
        });
    }

    @candidUpdate(m.asset_url)
    async asset_url(id: bigint, ttlSeconds: [] | [number]): Promise<Result<AssetUrl>> {
        return assetUrl(state, env(), ports, id, ttlSeconds[0]);
    }

    @candidQuery(m.verifier)
    verifier(): [] | [VerifierInfoT] {
        const v = currentVerifier(state.verifier!);
        return v === null ? [] : [v];
    }

    @candidUpdate(m.admin_set_verifier)
    async admin_set_verifier(info: [] | [VerifierInfoT]): Promise<Result<null>> {
        return controllerOnly('admin_set_verifier', () => setVerifier(state.verifier!, ports, info));
    }

    @candidUpdate(m.admin_run_maintenance)
    async admin_run_maintenance(): Promise<Result<null>> {
        return controllerOnly('admin_run_maintenance', async () => {
            const ran = await runMaintenance(state, env(), ports);
            return ran ? { Ok: null } : { Err: { Busy: 'a maintenance run is in progress' } };
        });
    }

    @candidUpdate(m.set_upload_encryption)
    set_upload_encryption(sessionId: bigint, args: UploadEncryptionArgs): Result<null> {
        return setUploadEncryption(state, env(), sessionId, args);
    }

    @candidUpdate(m.encryption_public_key)
    async encryption_public_key(): Promise<Result<Uint8Array>> {
        return encryptionPublicKey(state, env(), ports.vetkd!);
    }

    @candidUpdate(m.derive_user_key)
    async derive_user_key(transportPublicKey: Uint8Array): Promise<Result<Uint8Array>> {
        return deriveUserKey(state, env(), ports.vetkd!, transportPublicKey);
    }

    @candidUpdate(m.share)
    share(id: bigint, reader: Principal, wrappedKey: Uint8Array): Result<null> {
        return share(state, env(), id, reader, wrappedKey);
    }

    @candidUpdate(m.unshare)
    unshare(id: bigint, reader: Principal): Result<null> {
        return unshare(state, env(), id, reader);
    }

    @candidQuery(m.asset_access)
    asset_access(id: bigint): Result<AssetAccess> {
        return assetAccess(state, env(), id);
    }

    @candidQuery(m.list_shared_with_me)
    list_shared_with_me(args: ListSharedArgs): Result<AssetPage> {
        return listSharedWithMe(state, env(), args);
    }

    @candidUpdate(m.admin_set_vetkd_key)
    admin_set_vetkd_key(name: string): Result<null> {
        return controllerOnly('admin_set_vetkd_key', () => setVetKdKey(state, name));
    }
}
