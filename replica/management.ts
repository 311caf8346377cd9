/** The management canister `aaaaa-aa`: canister lifecycle, settings, chunked code, cycles, randomness, logs, vetKD. */
import { createHash } from 'node:crypto';

import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { concatBytes } from '../shared/bytes';
import { decodeCandid } from '../shared/candid_codec';
import {
    type CanisterInstallMode,
    type CanisterSettings,
    type ChunkHash,
    type InstallChunkedCodeArgs,
    type InstallCodeArgs,
    type LogVisibility,
    type ManagementMethod,
    ManagementMethods
} from '../shared/management';
import { checkCandidBounds } from './candid_bounds';
import type { Canister } from './canister';
import { ErrorCode, Errors, UserError, userErrorResponse } from './errors';
import type { CallOrigin, Response } from './execution';
import { MANAGEMENT_CANISTER_ID } from './ids';
import { MAX_CHUNK_BYTES, MAX_STORED_CHUNKS } from './limits';
import type { Message, Replica } from './replica';
import { VetKd } from './vetkd';

/** Cycles a canister created with `provisional_create_canister_with_cycles` gets when no amount is given. */
export const DEFAULT_PROVISIONAL_CYCLES = 100_000_000_000_000n;

/** Methods that only canisters may call (never accepted as ingress). */
const CANISTER_ONLY = new Set<string>(['create_canister', 'raw_rand', 'deposit_cycles', 'vetkd_public_key', 'vetkd_derive_key']);

/** A reply (refunding `refund`, by default all attached cycles), a user error, a system reject without an error code, or an answer to come later. */
type Outcome = { reply: unknown[]; refund?: bigint } | UserError | { reject: Response } | 'deferred';
type RequestMessage = Extract<Message, { kind: 'request' }>;

export class ManagementCanister {
    private readonly stopWaiters = new Map<string, { origin: CallOrigin; cycles: bigint }[]>();
    private randomness = createHash('sha256').update('silo replica raw_rand').digest();
    private readonly vetkd: VetKd;

    constructor(private readonly replica: Replica) {
        this.vetkd = new VetKd(replica.vetkdKeys);
    }

    handleRequest(message: RequestMessage): void {
        const outcome = this.dispatch(message);
        if (outcome === 'deferred') return;
        if (outcome instanceof UserError) {
            this.replica.deliver(message.origin, userErrorResponse(outcome), message.cycles);
            return;
        }
        if ('reject' in outcome) {
            this.replica.deliver(message.origin, outcome.reject, message.cycles);
            return;
        }
        const method = message.method as ManagementMethod;
        const data = new Uint8Array(IDL.encode(ManagementMethods[method].result, outcome.reply));
        this.replica.deliver(message.origin, { type: 'reply', data }, outcome.refund ?? message.cycles);
    }

    /** Query calls to the management canister: only `fetch_canister_logs` is one. */
    handleQuery(sender: Principal, method: string, arg: Uint8Array): Response {
        if (method !== 'fetch_canister_logs') return userErrorResponse(Errors.unknownManagementMethod(method));
        let args: { canister_id: Principal };
        try {
            checkCandidBounds(arg);
            [args] = decodeCandid(ManagementMethods.fetch_canister_logs.args, arg) as [typeof args];
        } catch (error) {
            return userErrorResponse(Errors.invalidPayload(method, (error as Error).message));
        }
        const canister = this.replica.getCanister(args.canister_id);
        if (canister === undefined) return userErrorResponse(Errors.canisterNotFound(args.canister_id.toText()));
        if (!this.mayReadLogs(canister, sender)) {
            return userErrorResponse(new UserError(ErrorCode.CanisterRejectedMessage, `Caller ${sender.toText()} is not allowed to access canister logs`));
        }
        const records = canister.logs.map((r) => ({ idx: r.idx, timestamp_nanos: r.timestampNanos, content: r.content }));
        return { type: 'reply', data: new Uint8Array(IDL.encode(ManagementMethods.fetch_canister_logs.result, [{ canister_log_records: records }])) };
    }

    private mayReadLogs(canister: Canister, sender: Principal): boolean {
        const visibility = canister.settings.logVisibility;
        if ('public' in visibility) return true;
        if (canister.isController(sender)) return true;
        return 'allowed_viewers' in visibility && visibility.allowed_viewers.some((p) => p.toText() === sender.toText());
    }

    /** The stop requests waiting for their canister to stop, by canister (for a checkpoint). */
    waiting(): [string, { origin: CallOrigin; cycles: bigint }[]][] {
        return [...this.stopWaiters];
    }

    restoreWaiting(waiting: [string, { origin: CallOrigin; cycles: bigint }[]][]): void {
        this.stopWaiters.clear();
        for (const [id, waiters] of waiting) this.stopWaiters.set(id, waiters);
    }

    /** Called by the replica when a stopping canister has no more open call contexts. */
    stopped(canister: Canister): void {
        const waiters = this.stopWaiters.get(canister.idText) ?? [];
        this.stopWaiters.delete(canister.idText);
        const data = new Uint8Array(IDL.encode([], []));
        for (const w of waiters) this.replica.deliver(w.origin, { type: 'reply', data }, w.cycles);
    }

    private dispatch(message: RequestMessage): Outcome {
        const { method, sender, origin } = message;
        if (!(method in ManagementMethods)) return Errors.unknownManagementMethod(method);
        if (origin.type === 'ingress' && CANISTER_ONLY.has(method)) {
            return new UserError(ErrorCode.CanisterRejectedMessage, `Only canisters can call ic00 method ${method}`);
        }
        if (method === 'fetch_canister_logs') {
            return new UserError(ErrorCode.CanisterRejectedMessage, 'ic00 method fetch_canister_logs can be called only as a query');
        }
        let args: any[];
        try {
            checkCandidBounds(message.arg);
            args = decodeCandid(ManagementMethods[method as ManagementMethod].args, message.arg) as any[];
        } catch (error) {
            return Errors.invalidPayload(method, (error as Error).message);
        }
        const a = args[0];
        switch (method as ManagementMethod) {
            case 'create_canister': {
                const settings: CanisterSettings | undefined = a.settings[0];
                const fee = this.replica.costs.canisterCreationFee();
                if (message.cycles < fee) {
                    return new UserError(
                        ErrorCode.InsufficientCyclesForCreateCanister,
                        `Creating a canister requires a fee of ${fee} that is deducted from the canister's initial balance but only ${message.cycles} cycles were received with the create_canister request.`
                    );
                }
                const created = this.replica.createCanister([sender], message.cycles - fee);
                const invalid = this.applySettings(created, settings);
                if (invalid) {
                    this.replica.deleteCanister(created);
                    return invalid;
                }
                return { reply: [{ canister_id: created.id }], refund: 0n };
            }
            case 'provisional_create_canister_with_cycles': {
                let created: Canister;
                try {
                    created = this.replica.createCanister([sender], a.amount[0] ?? DEFAULT_PROVISIONAL_CYCLES, a.specified_id[0]);
                } catch (error) {
                    if (error instanceof UserError) return error;
                    throw error;
                }
                const invalid = this.applySettings(created, a.settings[0]);
                if (invalid) {
                    this.replica.deleteCanister(created);
                    return invalid;
                }
                return { reply: [{ canister_id: created.id }] };
            }
            case 'provisional_top_up_canister': {
                const target = this.replica.getCanister(a.canister_id);
                if (target === undefined) return Errors.canisterNotFound(a.canister_id.toText());
                target.cycles += a.amount;
                return { reply: [] };
            }
            case 'deposit_cycles': {
                const target = this.replica.getCanister(a.canister_id);
                if (target === undefined) return Errors.canisterNotFound(a.canister_id.toText());
                target.cycles += message.cycles;
                return { reply: [], refund: 0n };
            }
            case 'raw_rand': {
                // Deterministic per replica (a hash chain), so tests are reproducible; fresh for every call.
                this.randomness = createHash('sha256').update(this.randomness).digest();
                return { reply: [new Uint8Array(this.randomness)] };
            }
            case 'vetkd_public_key':
                return this.vetkd.publicKey(sender, a, message.cycles);
            case 'vetkd_derive_key':
                return this.vetkd.deriveKey(sender, a, message.cycles);
        }

        // Every other method acts on one canister and needs its controller (some also accept the canister itself).
        const targetId: Principal = method === 'install_chunked_code' ? a.target_canister : a.canister_id;
        const target = this.replica.getCanister(targetId);
        if (target === undefined) return Errors.canisterNotFound(targetId.toText());
        const selfAllowed = ['upload_chunk', 'clear_chunk_store', 'stored_chunks', 'canister_status'].includes(method);
        if (!target.isController(sender) && !(selfAllowed && sender.toText() === target.idText)) {
            return Errors.notController(target.idText, target.controllers.map((c) => c.toText()), sender.toText());
        }

        switch (method as ManagementMethod) {
            case 'update_settings': {
                const invalid = this.applySettings(target, a.settings);
                if (invalid) return invalid;
                target.version += 1n;
                return { reply: [] };
            }
            case 'upload_chunk': {
                const chunk: Uint8Array = a.chunk;
                if (chunk.length > MAX_CHUNK_BYTES) {
                    return new UserError(ErrorCode.InvalidManagementPayload, `Wasm chunk size ${chunk.length} exceeds the maximum chunk size of ${MAX_CHUNK_BYTES} bytes.`);
                }
                const hash = createHash('sha256').update(chunk).digest();
                const key = hash.toString('hex');
                if (!target.chunkStore.has(key) && target.chunkStore.size >= MAX_STORED_CHUNKS) {
                    return new UserError(ErrorCode.InvalidManagementPayload, `Wasm chunk store of canister ${target.idText} is full (${MAX_STORED_CHUNKS} chunks).`);
                }
                target.chunkStore.set(key, new Uint8Array(chunk));
                return { reply: [{ hash: new Uint8Array(hash) }] };
            }
            case 'clear_chunk_store':
                target.chunkStore.clear();
                return { reply: [] };
            case 'stored_chunks':
                return { reply: [[...target.chunkStore.keys()].map((k) => ({ hash: Uint8Array.from(Buffer.from(k, 'hex')) }))] };
            case 'install_code': {
                const install = a as InstallCodeArgs;
                return this.install(target, install.mode, install.wasm_module, install.arg, sender);
            }
            case 'install_chunked_code': {
                const install = a as InstallChunkedCodeArgs;
                const store = install.store_canister[0] === undefined ? target : this.replica.getCanister(install.store_canister[0]);
                if (store === undefined) return Errors.canisterNotFound(install.store_canister[0]!.toText());
                if (store !== target && !store.isController(sender) && sender.toText() !== store.idText) {
                    return Errors.notController(store.idText, store.controllers.map((c) => c.toText()), sender.toText());
                }
                const wasm = this.assemble(store, install.chunk_hashes_list);
                if (wasm instanceof UserError) return wasm;
                const actual = createHash('sha256').update(wasm).digest('hex');
                if (actual !== Buffer.from(install.wasm_module_hash).toString('hex')) {
                    return new UserError(
                        ErrorCode.InvalidManagementPayload,
                        `Wasm module hash ${Buffer.from(install.wasm_module_hash).toString('hex')} does not match the hash ${actual} of the assembled chunks.`
                    );
                }
                return this.install(target, install.mode, wasm, install.arg, sender);
            }
            case 'uninstall_code':
                this.replica.uninstallCode(target);
                return { reply: [] };
            case 'start_canister': {
                if (target.status === 'stopping') {
                    const waiters = this.stopWaiters.get(target.idText) ?? [];
                    this.stopWaiters.delete(target.idText);
                    for (const w of waiters) this.replica.deliver(w.origin, userErrorResponse(Errors.stoppingCancelled(target.idText)), w.cycles);
                }
                target.status = 'running';
                target.version += 1n;
                return { reply: [] };
            }
            case 'stop_canister': {
                if (target.status === 'stopped') {
                    target.version += 1n;
                    return { reply: [] };
                }
                target.status = 'stopping';
                target.version += 1n;
                const waiters = this.stopWaiters.get(target.idText) ?? [];
                waiters.push({ origin: message.origin, cycles: message.cycles });
                this.stopWaiters.set(target.idText, waiters);
                this.replica.checkStopped(target);
                return 'deferred';
            }
            case 'canister_status':
                return { reply: [this.status(target)] };
            case 'delete_canister': {
                if (sender.toText() === target.idText) return Errors.cannotDeleteItself(target.idText);
                if (target.status !== 'stopped') return Errors.notStoppedForDelete(target.idText);
                this.replica.deleteCanister(target);
                return { reply: [] };
            }
        }
        return Errors.unknownManagementMethod(method);
    }

    private install(target: Canister, mode: CanisterInstallMode, wasm: Uint8Array, arg: Uint8Array, sender: Principal): Outcome {
        const error = this.replica.installCode(target, mode, wasm, arg, sender);
        return error ?? { reply: [] };
    }

    private assemble(store: Canister, hashes: ChunkHash[]): Uint8Array | UserError {
        const parts: Uint8Array[] = [];
        for (const { hash } of hashes) {
            const key = Buffer.from(hash).toString('hex');
            const chunk = store.chunkStore.get(key);
            if (chunk === undefined) {
                return new UserError(ErrorCode.InvalidManagementPayload, `Chunk ${key} is not in the chunk store of canister ${store.idText}.`);
            }
            parts.push(chunk);
        }
        return concatBytes(parts);
    }

    private applySettings(canister: Canister, settings: CanisterSettings | undefined): UserError | null {
        if (settings === undefined) return null;
        const controllers = settings.controllers[0];
        if (controllers !== undefined && controllers.length > 10) {
            return new UserError(ErrorCode.CanisterContractViolation, `Could not validate the settings: Invalid settings: ${controllers.length} controllers, at most 10 allowed.`);
        }
        const compute = settings.compute_allocation[0];
        if (compute !== undefined && compute > 100n) {
            return new UserError(ErrorCode.CanisterContractViolation, `Could not validate the settings: compute allocation ${compute} must be between 0 and 100.`);
        }
        if (controllers !== undefined) canister.controllers = controllers.map((p) => Principal.fromUint8Array(p.toUint8Array()));
        const s = canister.settings;
        if (compute !== undefined) s.computeAllocation = compute;
        if (settings.memory_allocation[0] !== undefined) s.memoryAllocation = settings.memory_allocation[0];
        if (settings.freezing_threshold[0] !== undefined) s.freezingThreshold = settings.freezing_threshold[0];
        if (settings.reserved_cycles_limit[0] !== undefined) s.reservedCyclesLimit = settings.reserved_cycles_limit[0];
        if (settings.wasm_memory_limit[0] !== undefined) s.wasmMemoryLimit = settings.wasm_memory_limit[0];
        if (settings.log_visibility[0] !== undefined) s.logVisibility = settings.log_visibility[0] as LogVisibility;
        return null;
    }

    status(canister: Canister): unknown {
        const s = canister.settings;
        return {
            status: { [canister.status]: null },
            ready_for_migration: false,
            version: canister.version,
            settings: {
                controllers: canister.controllers,
                compute_allocation: s.computeAllocation,
                memory_allocation: s.memoryAllocation,
                freezing_threshold: s.freezingThreshold,
                reserved_cycles_limit: s.reservedCyclesLimit,
                log_visibility: s.logVisibility,
                wasm_memory_limit: s.wasmMemoryLimit,
                wasm_memory_threshold: 0n,
                environment_variables: []
            },
            module_hash: canister.module === null ? [] : [canister.module.moduleHash],
            memory_size: canister.memoryBytes(),
            memory_metrics: {
                wasm_memory_size: BigInt(canister.instance?.heapBytes ?? 0),
                stable_memory_size: BigInt(canister.stable.size) * 65536n,
                global_memory_size: 0n,
                wasm_binary_size: BigInt(canister.module?.original.length ?? 0),
                custom_sections_size: 0n,
                canister_history_size: 0n,
                wasm_chunk_store_size: BigInt([...canister.chunkStore.values()].reduce((n, c) => n + c.length, 0)),
                snapshots_size: 0n
            },
            cycles: canister.cycles,
            reserved_cycles: 0n,
            idle_cycles_burned_per_day: this.replica.costs.idleCyclesPerDay(canister),
            query_stats: { num_calls_total: 0n, num_instructions_total: 0n, request_payload_bytes_total: 0n, response_payload_bytes_total: 0n }
        };
    }
}

export { MANAGEMENT_CANISTER_ID };
