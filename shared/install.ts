/**
 * Installing a module through the management canister: in one install_code call when it fits a message,
 * otherwise through the target's chunk store (upload_chunk + install_chunked_code). One implementation
 * for every caller: the replica's PicJS API, the client's deploy, and the index creating buckets.
 */
import type { Principal } from '@dfinity/principal';

import type { CanisterInstallMode, ChunkHash } from './management';
import { sha256 } from './sha256';

/** The largest install_code payload sent whole (PicJS's figure, under the 2 MiB message limit). */
export const MAX_INSTALL_CODE_PAYLOAD = 1_850_000;
/** The management canister's chunk size limit. */
export const INSTALL_CHUNK_BYTES = 1024 * 1024;

/** The management methods installing needs, however the caller reaches them. */
export interface Installer {
    install_code(args: { mode: CanisterInstallMode; canister_id: Principal; wasm_module: Uint8Array; arg: Uint8Array; sender_canister_version: [] }): Promise<unknown>;
    clear_chunk_store(args: { canister_id: Principal }): Promise<unknown>;
    upload_chunk(args: { canister_id: Principal; chunk: Uint8Array }): Promise<ChunkHash>;
    install_chunked_code(args: {
        mode: CanisterInstallMode;
        target_canister: Principal;
        store_canister: [];
        chunk_hashes_list: ChunkHash[];
        wasm_module_hash: Uint8Array;
        arg: Uint8Array;
        sender_canister_version: [];
    }): Promise<unknown>;
}

export async function installModule(management: Installer, canisterId: Principal, wasm: Uint8Array, arg: Uint8Array, mode: CanisterInstallMode): Promise<void> {
    if (wasm.length + arg.length <= MAX_INSTALL_CODE_PAYLOAD) {
        await management.install_code({ mode, canister_id: canisterId, wasm_module: wasm, arg, sender_canister_version: [] });
        return;
    }
    await management.clear_chunk_store({ canister_id: canisterId });
    const hashes: ChunkHash[] = [];
    for (let offset = 0; offset < wasm.length; offset += INSTALL_CHUNK_BYTES) {
        hashes.push(await management.upload_chunk({ canister_id: canisterId, chunk: wasm.subarray(offset, offset + INSTALL_CHUNK_BYTES) }));
    }
    await management.install_chunked_code({
        mode,
        target_canister: canisterId,
        store_canister: [],
        chunk_hashes_list: hashes,
        wasm_module_hash: sha256(wasm),
        arg,
        sender_canister_version: []
    });
    await management.clear_chunk_store({ canister_id: canisterId });
}
