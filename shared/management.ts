/**
 * Candid types of the IC management canister (`aaaaa-aa`), as in the interface specification's ic.did:
 * used by the replica that implements it and by the index canister that calls it.
 */
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

export const LogVisibility = IDL.Variant({
    controllers: IDL.Null,
    public: IDL.Null,
    allowed_viewers: IDL.Vec(IDL.Principal)
});
export type LogVisibility = { controllers: null } | { public: null } | { allowed_viewers: Principal[] };

export const EnvironmentVariable = IDL.Record({ name: IDL.Text, value: IDL.Text });

export const CanisterSettings = IDL.Record({
    controllers: IDL.Opt(IDL.Vec(IDL.Principal)),
    compute_allocation: IDL.Opt(IDL.Nat),
    memory_allocation: IDL.Opt(IDL.Nat),
    freezing_threshold: IDL.Opt(IDL.Nat),
    reserved_cycles_limit: IDL.Opt(IDL.Nat),
    log_visibility: IDL.Opt(LogVisibility),
    wasm_memory_limit: IDL.Opt(IDL.Nat),
    wasm_memory_threshold: IDL.Opt(IDL.Nat),
    environment_variables: IDL.Opt(IDL.Vec(EnvironmentVariable))
});
export interface CanisterSettings {
    controllers: [] | [Principal[]];
    compute_allocation: [] | [bigint];
    memory_allocation: [] | [bigint];
    freezing_threshold: [] | [bigint];
    reserved_cycles_limit: [] | [bigint];
    log_visibility: [] | [LogVisibility];
    wasm_memory_limit: [] | [bigint];
    wasm_memory_threshold: [] | [bigint];
    environment_variables: [] | [{ name: string; value: string }[]];
}

/** Settings that change nothing; spread and override the fields to set. */
export function emptySettings(): CanisterSettings {
    return {
        controllers: [],
        compute_allocation: [],
        memory_allocation: [],
        freezing_threshold: [],
        reserved_cycles_limit: [],
        log_visibility: [],
        wasm_memory_limit: [],
        wasm_memory_threshold: [],
        environment_variables: []
    };
}

export const DefiniteCanisterSettings = IDL.Record({
    controllers: IDL.Vec(IDL.Principal),
    compute_allocation: IDL.Nat,
    memory_allocation: IDL.Nat,
    freezing_threshold: IDL.Nat,
    reserved_cycles_limit: IDL.Nat,
    log_visibility: LogVisibility,
    wasm_memory_limit: IDL.Nat,
    wasm_memory_threshold: IDL.Nat,
    environment_variables: IDL.Vec(EnvironmentVariable)
});

export const ChunkHash = IDL.Record({ hash: IDL.Vec(IDL.Nat8) });
export type ChunkHash = { hash: Uint8Array };

export const CanisterIdRecord = IDL.Record({ canister_id: IDL.Principal });
export type CanisterIdRecord = { canister_id: Principal };

export const CreateCanisterArgs = IDL.Record({
    settings: IDL.Opt(CanisterSettings),
    sender_canister_version: IDL.Opt(IDL.Nat64)
});
export type CreateCanisterArgs = { settings: [] | [CanisterSettings]; sender_canister_version: [] | [bigint] };

export const UpdateSettingsArgs = IDL.Record({
    canister_id: IDL.Principal,
    settings: CanisterSettings,
    sender_canister_version: IDL.Opt(IDL.Nat64)
});
export type UpdateSettingsArgs = { canister_id: Principal; settings: CanisterSettings; sender_canister_version: [] | [bigint] };

export const UploadChunkArgs = IDL.Record({ canister_id: IDL.Principal, chunk: IDL.Vec(IDL.Nat8) });
export type UploadChunkArgs = { canister_id: Principal; chunk: Uint8Array };

export const CanisterInstallMode = IDL.Variant({
    install: IDL.Null,
    reinstall: IDL.Null,
    upgrade: IDL.Opt(
        IDL.Record({
            skip_pre_upgrade: IDL.Opt(IDL.Bool),
            wasm_memory_persistence: IDL.Opt(IDL.Variant({ keep: IDL.Null, replace: IDL.Null }))
        })
    )
});
export type CanisterInstallMode =
    | { install: null }
    | { reinstall: null }
    | { upgrade: [] | [{ skip_pre_upgrade: [] | [boolean]; wasm_memory_persistence: [] | [{ keep: null } | { replace: null }] }] };

export const InstallCodeArgs = IDL.Record({
    mode: CanisterInstallMode,
    canister_id: IDL.Principal,
    wasm_module: IDL.Vec(IDL.Nat8),
    arg: IDL.Vec(IDL.Nat8),
    sender_canister_version: IDL.Opt(IDL.Nat64)
});
export type InstallCodeArgs = {
    mode: CanisterInstallMode;
    canister_id: Principal;
    wasm_module: Uint8Array;
    arg: Uint8Array;
    sender_canister_version: [] | [bigint];
};

export const InstallChunkedCodeArgs = IDL.Record({
    mode: CanisterInstallMode,
    target_canister: IDL.Principal,
    store_canister: IDL.Opt(IDL.Principal),
    chunk_hashes_list: IDL.Vec(ChunkHash),
    wasm_module_hash: IDL.Vec(IDL.Nat8),
    arg: IDL.Vec(IDL.Nat8),
    sender_canister_version: IDL.Opt(IDL.Nat64)
});
export type InstallChunkedCodeArgs = {
    mode: CanisterInstallMode;
    target_canister: Principal;
    store_canister: [] | [Principal];
    chunk_hashes_list: ChunkHash[];
    wasm_module_hash: Uint8Array;
    arg: Uint8Array;
    sender_canister_version: [] | [bigint];
};

export const UninstallCodeArgs = IDL.Record({ canister_id: IDL.Principal, sender_canister_version: IDL.Opt(IDL.Nat64) });

export const CanisterStatusResult = IDL.Record({
    status: IDL.Variant({ running: IDL.Null, stopping: IDL.Null, stopped: IDL.Null }),
    ready_for_migration: IDL.Bool,
    version: IDL.Nat64,
    settings: DefiniteCanisterSettings,
    module_hash: IDL.Opt(IDL.Vec(IDL.Nat8)),
    memory_size: IDL.Nat,
    memory_metrics: IDL.Record({
        wasm_memory_size: IDL.Nat,
        stable_memory_size: IDL.Nat,
        global_memory_size: IDL.Nat,
        wasm_binary_size: IDL.Nat,
        custom_sections_size: IDL.Nat,
        canister_history_size: IDL.Nat,
        wasm_chunk_store_size: IDL.Nat,
        snapshots_size: IDL.Nat
    }),
    cycles: IDL.Nat,
    reserved_cycles: IDL.Nat,
    idle_cycles_burned_per_day: IDL.Nat,
    query_stats: IDL.Record({
        num_calls_total: IDL.Nat,
        num_instructions_total: IDL.Nat,
        request_payload_bytes_total: IDL.Nat,
        response_payload_bytes_total: IDL.Nat
    })
});
export type CanisterStatusResult = {
    status: { running: null } | { stopping: null } | { stopped: null };
    version: bigint;
    module_hash: [] | [Uint8Array];
    memory_size: bigint;
    cycles: bigint;
    settings: { controllers: Principal[]; freezing_threshold: bigint; log_visibility: LogVisibility };
    idle_cycles_burned_per_day: bigint;
};

export const ProvisionalCreateCanisterWithCyclesArgs = IDL.Record({
    amount: IDL.Opt(IDL.Nat),
    settings: IDL.Opt(CanisterSettings),
    specified_id: IDL.Opt(IDL.Principal),
    sender_canister_version: IDL.Opt(IDL.Nat64)
});
export const ProvisionalTopUpCanisterArgs = IDL.Record({ canister_id: IDL.Principal, amount: IDL.Nat });

export const CanisterLogRecord = IDL.Record({ idx: IDL.Nat64, timestamp_nanos: IDL.Nat64, content: IDL.Vec(IDL.Nat8) });
export const FetchCanisterLogsArgs = IDL.Record({ canister_id: IDL.Principal });
export const FetchCanisterLogsResult = IDL.Record({ canister_log_records: IDL.Vec(CanisterLogRecord) });
export type FetchCanisterLogsResult = { canister_log_records: { idx: bigint; timestamp_nanos: bigint; content: Uint8Array }[] };

/**
 * Cycles `vetkd_derive_key` charges per key id, on the IC and in Silo's replica: 10 B cycles on a 13-node
 * subnet (dfinity/ic `VETKD_FEE`), scaled to the subnet that holds the key; `key_1` is on the 34-node
 * fiduciary subnet. A canister attaches at least this (the rest is refunded); Azle has no
 * `ic0.cost_vetkd_derive_key`, so canisters take it from here.
 */
export const VETKD_DERIVE_KEY_FEES = {
    dfx_test_key: 10_000_000_000n,
    test_key_1: 10_000_000_000n,
    key_1: 26_153_846_153n
} as const;
export type VetKdKeyName = keyof typeof VETKD_DERIVE_KEY_FEES;

/** What `vetkd_derive_key` with key `name` costs, or undefined for a key id no network holds (own keys only: `toString` is none). */
export function vetkdDeriveKeyFee(name: string): bigint | undefined {
    return Object.prototype.hasOwnProperty.call(VETKD_DERIVE_KEY_FEES, name) ? VETKD_DERIVE_KEY_FEES[name as VetKdKeyName] : undefined;
}

export const VetKdCurve = IDL.Variant({ bls12_381_g2: IDL.Null });
export type VetKdCurve = { bls12_381_g2: null };
export const VetKdKeyId = IDL.Record({ curve: VetKdCurve, name: IDL.Text });
export type VetKdKeyId = { curve: VetKdCurve; name: string };

export const VetKdPublicKeyArgs = IDL.Record({
    canister_id: IDL.Opt(IDL.Principal),
    context: IDL.Vec(IDL.Nat8),
    key_id: VetKdKeyId
});
/** `canister_id` defaults to the caller; an empty `context` gives the canister's own key. */
export type VetKdPublicKeyArgs = { canister_id: [] | [Principal]; context: Uint8Array; key_id: VetKdKeyId };
export const VetKdPublicKeyResult = IDL.Record({ public_key: IDL.Vec(IDL.Nat8) });
export type VetKdPublicKeyResult = { public_key: Uint8Array };

export const VetKdDeriveKeyArgs = IDL.Record({
    input: IDL.Vec(IDL.Nat8),
    context: IDL.Vec(IDL.Nat8),
    transport_public_key: IDL.Vec(IDL.Nat8),
    key_id: VetKdKeyId
});
/** Derives the vetKey of `input` under the caller's key for `context`, encrypted to `transport_public_key`. */
export type VetKdDeriveKeyArgs = { input: Uint8Array; context: Uint8Array; transport_public_key: Uint8Array; key_id: VetKdKeyId };
export const VetKdDeriveKeyResult = IDL.Record({ encrypted_key: IDL.Vec(IDL.Nat8) });
export type VetKdDeriveKeyResult = { encrypted_key: Uint8Array };

/** Argument and result types of each management method (arguments as one tuple, like Candid). */
export const ManagementMethods = {
    create_canister: { args: [CreateCanisterArgs], result: [CanisterIdRecord] },
    provisional_create_canister_with_cycles: { args: [ProvisionalCreateCanisterWithCyclesArgs], result: [CanisterIdRecord] },
    provisional_top_up_canister: { args: [ProvisionalTopUpCanisterArgs], result: [] },
    update_settings: { args: [UpdateSettingsArgs], result: [] },
    upload_chunk: { args: [UploadChunkArgs], result: [ChunkHash] },
    clear_chunk_store: { args: [CanisterIdRecord], result: [] },
    stored_chunks: { args: [CanisterIdRecord], result: [IDL.Vec(ChunkHash)] },
    install_code: { args: [InstallCodeArgs], result: [] },
    install_chunked_code: { args: [InstallChunkedCodeArgs], result: [] },
    uninstall_code: { args: [UninstallCodeArgs], result: [] },
    start_canister: { args: [CanisterIdRecord], result: [] },
    stop_canister: { args: [CanisterIdRecord], result: [] },
    canister_status: { args: [CanisterIdRecord], result: [CanisterStatusResult] },
    delete_canister: { args: [CanisterIdRecord], result: [] },
    deposit_cycles: { args: [CanisterIdRecord], result: [] },
    raw_rand: { args: [], result: [IDL.Vec(IDL.Nat8)] },
    fetch_canister_logs: { args: [FetchCanisterLogsArgs], result: [FetchCanisterLogsResult] },
    vetkd_public_key: { args: [VetKdPublicKeyArgs], result: [VetKdPublicKeyResult] },
    vetkd_derive_key: { args: [VetKdDeriveKeyArgs], result: [VetKdDeriveKeyResult] }
} satisfies Record<string, { args: IDL.Type[]; result: IDL.Type[] }>;
export type ManagementMethod = keyof typeof ManagementMethods;
