/** The index's real calls to buckets and the management canister, made with Azle's `call`. */
import { call } from 'azle';
import type { Principal } from 'azle';

import { bucketMethods } from '../../shared/idl';
import {
    CanisterIdRecord,
    CreateCanisterArgs,
    emptySettings,
    InstallChunkedCodeArgs,
    InstallCodeArgs,
    UploadChunkArgs,
    ChunkHash
} from '../../shared/management';
import { sha256 } from '../../shared/sha256';
import type { BucketApi, ManagementApi, Ports } from './state';

/** Largest module sent whole in one install_code call; larger ones go through the chunk store. */
const MAX_DIRECT_INSTALL_BYTES = 1_900_000;
const INSTALL_CHUNK_BYTES = 1024 * 1024;

type BucketMethod = keyof typeof bucketMethods;

function callBucket<T>(bucket: Principal, method: BucketMethod, args: unknown[]): Promise<T> {
    const func = bucketMethods[method];
    return call(bucket, method, { paramIdlTypes: func.argTypes, returnIdlType: func.retTypes[0], args });
}

const bucketApi: BucketApi = {
    openSession: (bucket, args) => callBucket(bucket, 'c2c_open_session', [args]),
    sealSession: (bucket, id) => callBucket(bucket, 'c2c_seal_session', [id]),
    reopenSession: (bucket, id, from, drop) => callBucket(bucket, 'c2c_reopen_session', [id, from, drop]),
    hashChunk: (bucket, args) => callBucket(bucket, 'c2c_hash_chunk', [args]),
    commitSession: (bucket, args) => callBucket(bucket, 'c2c_commit_session', [args]),
    deleteChunks: (bucket, id) => callBucket(bucket, 'c2c_delete', [id]),
    sessionActivity: (bucket, ids) => callBucket(bucket, 'c2c_session_activity', [ids])
};

const MGMT = 'aaaaa-aa';
const managementApi: ManagementApi = {
    async createCanister(controllers, cycles) {
        const result: { canister_id: Principal } = await call(MGMT, 'create_canister', {
            paramIdlTypes: [CreateCanisterArgs],
            returnIdlType: CanisterIdRecord,
            args: [{ settings: [{ ...emptySettings(), controllers: [controllers] }], sender_canister_version: [] }],
            cycles
        });
        return result.canister_id;
    },
    async installCode(canister, mode, wasm, arg) {
        const installMode = mode === 'install' ? { install: null } : { upgrade: [] };
        if (wasm.length <= MAX_DIRECT_INSTALL_BYTES) {
            await call(MGMT, 'install_code', {
                paramIdlTypes: [InstallCodeArgs],
                args: [{ mode: installMode, canister_id: canister, wasm_module: wasm, arg, sender_canister_version: [] }]
            });
            return;
        }
        // A module larger than one inter-canister message goes through the target's chunk store.
        await call(MGMT, 'clear_chunk_store', { paramIdlTypes: [CanisterIdRecord], args: [{ canister_id: canister }] });
        const hashes: { hash: Uint8Array }[] = [];
        for (let offset = 0; offset < wasm.length; offset += INSTALL_CHUNK_BYTES) {
            hashes.push(
                await call(MGMT, 'upload_chunk', {
                    paramIdlTypes: [UploadChunkArgs],
                    returnIdlType: ChunkHash,
                    args: [{ canister_id: canister, chunk: wasm.subarray(offset, offset + INSTALL_CHUNK_BYTES) }]
                })
            );
        }
        await call(MGMT, 'install_chunked_code', {
            paramIdlTypes: [InstallChunkedCodeArgs],
            args: [
                {
                    mode: installMode,
                    target_canister: canister,
                    store_canister: [],
                    chunk_hashes_list: hashes,
                    wasm_module_hash: sha256(wasm),
                    arg,
                    sender_canister_version: []
                }
            ]
        });
        await call(MGMT, 'clear_chunk_store', { paramIdlTypes: [CanisterIdRecord], args: [{ canister_id: canister }] });
    },
    async stopCanister(canister) {
        await call(MGMT, 'stop_canister', { paramIdlTypes: [CanisterIdRecord], args: [{ canister_id: canister }] });
    },
    async startCanister(canister) {
        await call(MGMT, 'start_canister', { paramIdlTypes: [CanisterIdRecord], args: [{ canister_id: canister }] });
    }
};

export const ports: Ports = { bucket: bucketApi, management: managementApi };
