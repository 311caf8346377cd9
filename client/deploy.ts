/**
 * Deploys Silo (an index and a first bucket) through the management canister, over any transport: the
 * embedded replica on first run, a local `dfx start` replica, or the IC. The index receives the bucket
 * module too, so it can create more buckets when these fill up.
 */
import { IDL } from '@dfinity/candid';
import type { _SERVICE as ManagementService } from '@dfinity/ic-management/dist/candid/ic-management';
import { idlFactory as managementIdlFactory } from '@dfinity/ic-management/dist/candid/ic-management.idl.js';
import { Principal } from '@dfinity/principal';

import { WASM_PIECE_BYTES } from '../shared/constants';
import { indexIdlFactory } from '../shared/idl';
import { installModule, type Installer } from '../shared/install';
import { emptySettings } from '../shared/management';
import { sha256 } from '../shared/sha256';
import { BucketInitArgs, type ConfigUpdate, emptyConfigUpdate, IndexInitArgs } from '../shared/types';
import { fromVariant } from './errors';
import type { Transport } from './transport';

type Service = Record<string, (...args: any[]) => Promise<any>>;

/** Options of {@link deploySilo}. */
export interface DeployOptions {
    /** The index and bucket modules (raw or gzipped Wasm). */
    indexWasm: Uint8Array;
    bucketWasm: Uint8Array;
    /**
     * The verifier module (uncompressed Wasm, so its module hash is the SHA-256 of these bytes everywhere).
     * When given, a verifier canister is created, installed and registered with the index, which then
     * verifies chunks at native speed; without it, buckets hash in-canister (slower, ~5× the cycles).
     */
    verifierWasm?: Uint8Array;
    /** Existing canisters to install into; created with provisional cycles when absent (local replicas). */
    indexId?: Principal;
    bucketId?: Principal;
    verifierId?: Principal;
    /** Cycles for each canister created here (default 10 T, local replicas only). */
    cycles?: bigint;
    /** Index settings that differ from the defaults. */
    config?: Partial<ConfigUpdate>;
    /** The vetKD key the index derives encrypted files' keys with (`key_1` on the IC; default `dfx_test_key`, local replicas). */
    vetkdKey?: 'dfx_test_key' | 'test_key_1' | 'key_1';
    /** Reports each step. */
    onStep?: (message: string) => void;
}

export const indexInitArg = (config: Partial<ConfigUpdate> = {}): Uint8Array => new Uint8Array(IDL.encode([IndexInitArgs], [{ ...emptyConfigUpdate(), ...config }]));
export const bucketInitArg = (index: Principal): Uint8Array => new Uint8Array(IDL.encode([BucketInitArgs], [{ index }]));

/**
 * Creates (or takes) the index and a first bucket, installs both, registers the bucket and hands the
 * index the bucket module. The caller becomes a controller of both; the index controls the bucket.
 */
export async function deploySilo(transport: Transport, options: DeployOptions): Promise<{ indexId: Principal; bucketId: Principal; verifierId?: Principal }> {
    const step = options.onStep ?? (() => {});
    // The management canister's interface as @dfinity/ic-management publishes it.
    const management = transport.actor<ManagementService>(managementIdlFactory, Principal.managementCanister());
    const me = transport.principal;
    const create = async (controllers: Principal[]): Promise<Principal> => {
        const settings = { ...emptySettings(), controllers: [controllers] as [Principal[]] };
        const result = await management.provisional_create_canister_with_cycles({
            amount: [options.cycles ?? 10_000_000_000_000n],
            settings: [settings],
            specified_id: [],
            sender_canister_version: []
        });
        return result.canister_id;
    };

    const indexId = options.indexId ?? (await create([me]));
    step(`index canister ${indexId.toText()}`);
    await installModule(management as unknown as Installer, indexId, options.indexWasm, indexInitArg(options.config), { install: null });
    step('index installed');

    const bucketId = options.bucketId ?? (await create([me, indexId]));
    if (options.bucketId !== undefined) {
        // An existing canister: make the index one of its controllers so it can upgrade it later.
        const status = await management.canister_status({ canister_id: bucketId });
        const controllers = status.settings.controllers;
        if (!controllers.some((c) => c.toText() === indexId.toText())) {
            await management.update_settings({
                canister_id: bucketId,
                settings: { ...emptySettings(), controllers: [[...controllers, indexId]] },
                sender_canister_version: []
            });
        }
    }
    step(`bucket canister ${bucketId.toText()}`);
    await installModule(management as unknown as Installer, bucketId, options.bucketWasm, bucketInitArg(indexId), { install: null });
    step('bucket installed');

    const index = transport.actor<Service>(indexIdlFactory, indexId);
    check(await index.admin_register_bucket(bucketId, []));
    if (options.vetkdKey !== undefined) check(await index.admin_set_vetkd_key(options.vetkdKey));
    await uploadBucketModule(index, options.bucketWasm);
    step('bucket module stored in the index');
    if (options.verifierWasm === undefined) return { indexId, bucketId };

    // The index must control the verifier: it reads the module hash before trusting it, and again at each finish.
    const verifierId = options.verifierId ?? (await create([me, indexId]));
    step(`verifier canister ${verifierId.toText()}`);
    await installModule(management as unknown as Installer, verifierId, options.verifierWasm, new Uint8Array(), { install: null });
    check(await index.admin_set_verifier([{ canister: verifierId, module_hash: sha256(options.verifierWasm) }]));
    step('verifier installed and registered');
    return { indexId, bucketId, verifierId };
}

/**
 * Hands the index the module it installs in the buckets it creates: begins a new module, sends it in
 * pieces of at most {@link WASM_PIECE_BYTES} (the most `admin_put_bucket_wasm` takes) and commits it
 * with its SHA-256. The caller must be a controller of the index.
 *
 * @param index - an actor on the index canister (`indexIdlFactory`), calling as a controller
 * @param module - the bucket module (raw or gzipped Wasm)
 * @throws the SiloError subclass (see errors.ts) of the first `Err` the index returns
 */
export async function uploadBucketModule(index: Service, module: Uint8Array): Promise<void> {
    const generation = await index.admin_begin_bucket_wasm();
    check(generation);
    for (let i = 0, offset = 0; offset < module.length; i++, offset += WASM_PIECE_BYTES) {
        check(await index.admin_put_bucket_wasm(generation.Ok, i, module.subarray(offset, offset + WASM_PIECE_BYTES)));
    }
    check(await index.admin_commit_bucket_wasm(generation.Ok, sha256(module)));
}

function check(result: { Err?: unknown }): void {
    if ('Err' in result) throw fromVariant(result.Err as never);
}

