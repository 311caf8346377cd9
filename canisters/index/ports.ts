/**
 * The index's real calls to buckets and the management canister, made with Azle's `call` on raw bytes
 * and encoded and decoded by the cached codec (see shared/candid_codec.ts): Azle's own encoding would
 * rebuild both type tables on every call.
 */
import type { IDL } from '@dfinity/candid';
import { call } from 'azle';
import type { Principal } from 'azle';

import { decodeCandid, encodeCandid } from '../../shared/candid_codec';
import { bucketMethods } from '../../shared/idl';
import { installModule, type Installer } from '../../shared/install';
import { emptySettings, type ManagementMethod, ManagementMethods } from '../../shared/management';
import { BUCKET_FREEZING_THRESHOLD_SECONDS, BUCKET_RESERVED_CYCLES_LIMIT } from './cycles';
import type { BucketApi, ManagementApi, Ports, VetKdApi } from './state';

type BucketMethod = keyof typeof bucketMethods;

/** One call with Candid arguments and a single Candid result; `argTypes` and `retTypes` must be long-lived lists. */
async function candidCall<T>(canister: Principal | string, method: string, argTypes: readonly IDL.Type[], retTypes: readonly IDL.Type[], args: unknown[], cycles?: bigint): Promise<T> {
    const reply: Uint8Array = await call(canister, method, { raw: true, args: encodeCandid(argTypes, args), cycles });
    return decodeCandid(retTypes, reply)[0] as T;
}

function callBucket<T>(bucket: Principal, method: BucketMethod, args: unknown[]): Promise<T> {
    const func = bucketMethods[method];
    return candidCall(bucket, method, func.argTypes, func.retTypes, args);
}

const bucketApi: BucketApi = {
    openSession: (bucket, args) => callBucket(bucket, 'c2c_open_session', [args]),
    sealSession: (bucket, id) => callBucket(bucket, 'c2c_seal_session', [id]),
    reopenSession: (bucket, id, from, drop) => callBucket(bucket, 'c2c_reopen_session', [id, from, drop]),
    hashChunk: (bucket, args) => callBucket(bucket, 'c2c_hash_chunk', [args]),
    commitSession: (bucket, args) => callBucket(bucket, 'c2c_commit_session', [args]),
    deleteChunks: (bucket, id) => callBucket(bucket, 'c2c_delete', [id]),
    sessionActivity: (bucket, ids) => callBucket(bucket, 'c2c_session_activity', [ids]),
    putAssetMeta: (bucket, metas) => callBucket(bucket, 'c2c_put_asset_meta', [metas]),
    setUrlSecret: (bucket, secret) => callBucket(bucket, 'c2c_set_url_secret', [secret]),
    planVerification: (bucket, id, plan) => callBucket(bucket, 'c2c_plan_verification', [id, plan]),
    verifySession: (bucket, id) => callBucket(bucket, 'c2c_verify_session', [id])
};

/** Calls a management canister method with its Candid types from shared/management. */
function management<T>(method: ManagementMethod, arg: unknown, cycles?: bigint): Promise<T> {
    const types = ManagementMethods[method];
    return candidCall('aaaaa-aa', method, types.args, types.result, [arg], cycles);
}

const installer: Installer = {
    install_code: (args) => management('install_code', args),
    clear_chunk_store: (args) => management('clear_chunk_store', args),
    upload_chunk: (args) => management('upload_chunk', args),
    install_chunked_code: (args) => management('install_chunked_code', args)
};

const managementApi: ManagementApi = {
    async createCanister(controllers, cycles) {
        const settings = {
            ...emptySettings(),
            controllers: [controllers],
            freezing_threshold: [BUCKET_FREEZING_THRESHOLD_SECONDS],
            reserved_cycles_limit: [BUCKET_RESERVED_CYCLES_LIMIT]
        };
        const result = await management<{ canister_id: Principal }>('create_canister', { settings: [settings], sender_canister_version: [] }, cycles);
        return result.canister_id;
    },
    installCode: (canister, mode, wasm, arg) => installModule(installer, canister, wasm, arg, mode === 'install' ? { install: null } : { upgrade: [] }),
    async stopCanister(canister) {
        await management('stop_canister', { canister_id: canister });
    },
    async startCanister(canister) {
        await management('start_canister', { canister_id: canister });
    },
    async canisterStatus(canister) {
        const status = await management<{ cycles: bigint; idle_cycles_burned_per_day: bigint; settings: { freezing_threshold: bigint } }>('canister_status', { canister_id: canister });
        return { cycles: status.cycles, idle_cycles_burned_per_day: status.idle_cycles_burned_per_day, freezing_threshold: status.settings.freezing_threshold };
    },
    async depositCycles(canister, amount) {
        await management('deposit_cycles', { canister_id: canister }, amount);
    },
    async moduleHash(canister) {
        const status = await management<{ module_hash: [] | [Uint8Array] }>('canister_status', { canister_id: canister });
        return status.module_hash[0] ?? null;
    },
    rawRand: () => candidCall('aaaaa-aa', 'raw_rand', ManagementMethods.raw_rand.args, ManagementMethods.raw_rand.result, [])
};

const vetkdApi: VetKdApi = {
    async publicKey(name, context) {
        const result = await management<{ public_key: Uint8Array }>('vetkd_public_key', { canister_id: [], context, key_id: { curve: { bls12_381_g2: null }, name } });
        return result.public_key;
    },
    async deriveKey(name, input, context, transportPublicKey, fee) {
        const result = await management<{ encrypted_key: Uint8Array }>(
            'vetkd_derive_key',
            { input, context, transport_public_key: transportPublicKey, key_id: { curve: { bls12_381_g2: null }, name } },
            fee
        );
        return result.encrypted_key;
    }
};

export const ports: Ports = { bucket: bucketApi, management: managementApi, vetkd: vetkdApi };
