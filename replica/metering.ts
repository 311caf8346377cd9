/**
 * Instruction accounting of one execution: the Wasm code's own instructions (counted by the
 * instrumentation, `wasm/instrument.ts`), plus the fixed and per-byte charges of System API calls, against
 * the IC's per-message limits. Figures are the IC's for application subnets (dfinity/ic
 * `rs/config/src/subnet_config.rs`, `rs/embedders/src/wasmtime_embedder/system_api_complexity.rs` and
 * `system_api.rs`); cycles are a separate matter (`fees.ts`, `metered_costs.ts`).
 */
import type { ContextKind } from './execution';

const B = 1_000_000_000n;

/** Instructions one execution may use, by context (the IC's limits; install shares 300 B across its steps). */
export const INSTRUCTION_LIMITS = {
    /** Update calls, callbacks, cleanup, timers and heartbeats (with deterministic time slicing). */
    update: 40n * B,
    /** Queries, replicated or not, and composite queries. */
    query: 5n * B,
    /** install_code: start, canister_init, pre_upgrade and post_upgrade together. */
    install: 300n * B,
    /** canister_inspect_message. */
    inspect: 200_000_000n
} as const;

export function instructionLimitFor(kind: ContextKind): bigint {
    switch (kind) {
        case 'I':
        case 'G':
        case 's':
            return INSTRUCTION_LIMITS.install;
        case 'RQ':
        case 'NRQ':
        case 'CQ':
        case 'CRy':
        case 'CRt':
        case 'CC':
            return INSTRUCTION_LIMITS.query;
        case 'F':
            return INSTRUCTION_LIMITS.inspect;
        default:
            return INSTRUCTION_LIMITS.update;
    }
}

/**
 * Fixed instructions charged per System API call (`overhead::*` of the IC). Functions not listed cost the
 * common 500.
 */
export const SYSTEM_API_OVERHEAD: Record<string, number> = {
    call_new: 1_500,
    call_perform: 5_000,
    debug_print: 100,
    is_controller: 1_000,
    performance_counter: 200,
    stable64_read: 20,
    stable64_write: 20,
    stable64_size: 20,
    stable64_grow: 100,
    cycles_burn128: 100,
    cost_call: 500
};
export const DEFAULT_SYSTEM_API_OVERHEAD = 500;

/**
 * Instructions per byte of System API calls that move data. Copies into or out of the heap cost 1 per
 * byte; payloads that leave the sandbox (replies, rejects, call arguments) cost 50 per byte (the IC's
 * BYTE_TRANSMISSION_COST_FACTOR). Logging is handled by {@link loggingBytes}.
 */
export const SYSTEM_API_PER_BYTE: Record<string, number> = {
    msg_arg_data_copy: 1,
    msg_caller_copy: 1,
    msg_reject_msg_copy: 1,
    msg_method_name_copy: 1,
    canister_self_copy: 1,
    certified_data_set: 1,
    is_controller: 1,
    call_new: 1,
    stable64_read: 1,
    stable64_write: 1,
    msg_reply_data_append: 50,
    msg_reject: 50,
    call_data_append: 50
};

/** Instructions for each 4 KiB stable memory page an execution dirties for the first time. */
export const DIRTY_PAGE_OVERHEAD = 1_000;
export const OS_PAGE_BYTES = 4096;

/**
 * Bytes charged for logging `length` bytes (debug_print, trap): twice what the 4 KiB log allocates (add
 * the new record, drop the oldest) plus 50 per byte transmitted to the replica. Debug printing itself is
 * off on application subnets, so it adds nothing.
 */
export function loggingBytes(length: number, capacity: number, remaining: number): number {
    return 2 * Math.min(length, capacity) + 50 * Math.min(length, Math.max(0, remaining));
}

export class InstructionLimitExceeded extends Error {
    override name = 'InstructionLimitExceeded';
}

/**
 * The counter of one execution. With an instrumented module the count lives in the module's exported
 * global (instructions *left*, counting down, as on the IC); without instrumentation only System API
 * charges are counted, in `fallback`.
 */
export class Meter {
    private fallback = 0n;
    constructor(
        /** Instructions this execution may use. */
        readonly limit: bigint,
        private readonly counter: WebAssembly.Global | null,
        private readonly flag: WebAssembly.Global | null
    ) {
        if (counter !== null) counter.value = limit;
        if (flag !== null) flag.value = 0;
    }

    /** Instructions used so far (performance_counter 0). */
    used(): bigint {
        if (this.counter === null) return this.fallback;
        const left = this.counter.value as bigint;
        return this.limit - left;
    }

    /** True when the instrumented code stopped itself because the counter went below zero. */
    exceeded(): boolean {
        return this.flag !== null && this.flag.value === 1;
    }

    /** Charges `n` instructions from outside the Wasm code; throws when the limit is passed. */
    charge(n: number): void {
        if (n <= 0) return;
        if (this.counter === null) {
            this.fallback += BigInt(n);
            if (this.fallback > this.limit) throw new InstructionLimitExceeded('instruction limit');
            return;
        }
        const left = (this.counter.value as bigint) - BigInt(n);
        this.counter.value = left;
        if (left < 0n) throw new InstructionLimitExceeded('instruction limit');
    }
}
