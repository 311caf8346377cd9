/** One canister's state and the transactional execution of its code. */
import { Principal } from '@dfinity/principal';

import type { CostModel } from './costs';
import { Execution, Trap } from './execution';
import type { CallContext, OutgoingCall } from './execution';
import { ErrorCode, Errors } from './errors';
import { principalText } from './ids';
import { CanisterInstance } from './instance';
import { MAX_LOG_BYTES, MAX_PAYLOAD_BYTES, MAX_QUERY_REPLY_BYTES } from './limits';
import { DEFAULT_SYSTEM_API_OVERHEAD, InstructionLimitExceeded, instructionLimitFor, Meter, SYSTEM_API_OVERHEAD, SYSTEM_API_PER_BYTE } from './metering';
import { StableMemory } from './stable_memory';
import { createSystemApi } from './system_api';
import type { CompiledModule } from './wasm/prepare';

export type CanisterStatus = 'running' | 'stopping' | 'stopped';
export type LogVisibility = { controllers: null } | { public: null } | { allowed_viewers: Principal[] };

export interface LogRecord {
    idx: bigint;
    timestampNanos: bigint;
    content: Uint8Array;
}

export interface CanisterSettings {
    computeAllocation: bigint;
    memoryAllocation: bigint;
    freezingThreshold: bigint;
    reservedCyclesLimit: bigint;
    wasmMemoryLimit: bigint;
    logVisibility: LogVisibility;
}

/** Where the wall time of one `Canister.run` went, in milliseconds (for the replica's overhead figures). */
export interface ExecutionTiming {
    /** Heap checkpoint and stable memory transaction start, before the Wasm code runs. */
    setup: number;
    /** The Wasm code itself (including the System API calls it makes). */
    entry: number;
    /** Commit or rollback of heap and stable memory, cost settlement. */
    settle: number;
}

/** Called after each execution when set: what ran, what it used, where the time went. */
export type ExecutionObserver = (canister: Canister, exec: Execution, trap: Trap | null, timing: ExecutionTiming) => void;

export interface ExecutionOutcome {
    trap: Trap | null;
    exec: Execution;
}

export class Canister {
    controllers: Principal[];
    settings: CanisterSettings = {
        computeAllocation: 0n,
        memoryAllocation: 0n,
        freezingThreshold: 2_592_000n,
        reservedCyclesLimit: 5_000_000_000_000n,
        wasmMemoryLimit: 3n * 1024n * 1024n * 1024n,
        logVisibility: { controllers: null }
    };
    cycles: bigint;
    /** Cycles the cost model has charged this canister so far (executions, calls, ingress, storage). */
    cyclesBurned = 0n;
    /** When memory and allocations were last charged (ns), or null before the first round. */
    idleChargedAt: bigint | null = null;
    status: CanisterStatus = 'running';
    module: CompiledModule | null = null;
    instance: CanisterInstance | null = null;
    readonly stable = new StableMemory();
    version = 0n;
    certifiedData = new Uint8Array();
    globalTimer = 0n;
    readonly callContexts = new Map<number, CallContext>();
    readonly logs: LogRecord[] = [];
    private logBytes = 0;
    private nextLogIdx = 0n;
    /** Chunks uploaded with `upload_chunk`, by hex SHA-256. */
    readonly chunkStore = new Map<string, Uint8Array>();
    /** Instructions left to the install_code message in progress (its steps share one limit), or null. */
    installBudget: bigint | null = null;
    /** Sees every execution of this canister (benchmarks, tests); null when nobody watches. */
    observer: ExecutionObserver | null = null;
    /** The execution now running on this canister, if any. */
    exec: Execution | null = null;
    readonly limits = { maxQueryReplyBytes: MAX_QUERY_REPLY_BYTES };
    private readonly systemApi: Record<string, (...args: any[]) => any>;
    echoLogs = false;
    /** Free the heap copy after each execution: less memory, one allocation per message (see ReplicaOptions). */
    releaseSnapshots = false;

    constructor(
        readonly id: Principal,
        controllers: Principal[],
        cycles: bigint,
        readonly costs: CostModel,
        /** Decides whether an outgoing call may be enqueued; 0 means yes, otherwise call_perform's error code. */
        private readonly outgoingCallCheck: (canister: Canister, call: OutgoingCall, pendingToCallee: number) => number
    ) {
        this.controllers = controllers;
        this.cycles = cycles;
        this.systemApi = createSystemApi(this);
    }

    get idText(): string {
        return principalText(this.id);
    }

    isController(p: Principal): boolean {
        const text = p.toText();
        return this.controllers.some((c) => c.toText() === text);
    }

    hasExport(name: string): boolean {
        return this.module?.exportedFunctions.includes(name) ?? false;
    }

    /**
     * Creates a fresh instance of `module` (a new heap); the old one is returned for rollback. Nothing
     * changes when instantiation throws.
     */
    instantiate(module: CompiledModule): CanisterInstance | null {
        const previous = this.instance;
        this.instance = new CanisterInstance(module, { ic0: this.systemApi });
        this.module = module;
        return previous;
    }

    /** Cycles the canister may spend without going below its freezing threshold reserve. */
    liquidCycles(): bigint {
        return this.cycles - this.costs.freezingReserve(this);
    }

    memoryBytes(): bigint {
        return BigInt(this.instance?.heapBytes ?? 0) + BigInt(this.stable.size) * 65536n;
    }

    growStable(pages: number): number {
        return this.stable.grow(pages);
    }

    checkOutgoingCall(exec: Execution, call: OutgoingCall): number {
        if (call.argSize > MAX_PAYLOAD_BYTES) return 2;
        // Calls of a composite query are not enqueued (the query's call graph runs them at once) and cost nothing.
        if (!exec.replicated) return 0;
        const callee = principalText(call.callee);
        const pending = exec.calls.reduce((n, c) => (principalText(c.callee) === callee ? n + 1 : n), 0);
        return this.outgoingCallCheck(this, call, pending);
    }

    /** The fixed instructions of a System API call (charged before it does anything). */
    chargeSystemCall(exec: Execution, name: string): void {
        exec.meter?.charge(SYSTEM_API_OVERHEAD[name] ?? DEFAULT_SYSTEM_API_OVERHEAD);
        this.costs.chargeSystemCall(exec, name);
    }

    /** The per-byte instructions of a System API call that moves `bytes` bytes. */
    chargeBytes(exec: Execution, name: string, bytes: number): void {
        exec.meter?.charge((SYSTEM_API_PER_BYTE[name] ?? 0) * bytes);
        this.costs.chargeBytes(exec, name, bytes);
    }

    /** Instructions charged directly (logging, dirty pages). */
    chargeInstructions(exec: Execution, instructions: number): void {
        exec.meter?.charge(instructions);
    }

    /** Bytes the log can take before its oldest records are dropped. */
    get logBytesRemaining(): number {
        return Math.max(0, MAX_LOG_BYTES - this.logBytes);
    }

    /**
     * Appends a log record, dropping the oldest beyond 4 KiB. `keep = false` (non-replicated executions,
     * whose logs the IC does not collect) only echoes it.
     */
    log(content: Uint8Array, time: bigint, keep = true): void {
        if (keep) {
            this.logs.push({ idx: this.nextLogIdx++, timestampNanos: time, content });
            this.logBytes += content.length;
            while (this.logBytes > MAX_LOG_BYTES && this.logs.length > 1) {
                this.logBytes -= this.logs.shift()!.content.length;
            }
        }
        if (this.echoLogs) console.log(`[${this.idText}] ${new TextDecoder().decode(content)}`);
    }

    /** The index the next log record will get. */
    get nextLogIndex(): bigint {
        return this.nextLogIdx;
    }

    /** Puts back the log of a checkpoint: its records and the index the next record gets. */
    restoreLogs(records: LogRecord[], nextIndex: bigint): void {
        this.logs.splice(0, this.logs.length, ...records);
        this.logBytes = records.reduce((n, r) => n + r.content.length, 0);
        this.nextLogIdx = nextIndex;
    }

    /** Deletes the log records with an index below `before` (all of them by default). */
    clearLogs(before = this.nextLogIdx): void {
        const kept = this.logs.filter((r) => r.idx >= before);
        this.logs.splice(0, this.logs.length, ...kept);
        this.logBytes = kept.reduce((n, r) => n + r.content.length, 0);
    }

    /**
     * Runs `entry` as one execution. Heap, stable memory, globals, cycles, the global timer and certified
     * data are restored when it traps, and also when it succeeds in a context whose changes never persist
     * (queries, inspect_message). Logs are kept either way, as on the IC.
     */
    run(exec: Execution, entry: (instance: CanisterInstance) => void): ExecutionOutcome {
        const instance = this.instance;
        if (instance === null) throw new Error(`canister ${this.idText} has no instance`);
        if (this.exec !== null) throw new Error(`re-entrant execution on canister ${this.idText}`);
        const t0 = this.observer === null ? 0 : performance.now();
        let t1 = 0;
        let t2 = 0;
        instance.checkpoint();
        this.stable.begin();
        const saved = { cycles: this.cycles, burned: this.cyclesBurned, timer: this.globalTimer, certified: this.certifiedData };
        this.exec = exec;
        let limit = instructionLimitFor(exec.kind);
        if (exec.options.instructionLimit !== undefined && exec.options.instructionLimit < limit) limit = exec.options.instructionLimit;
        const installStep = this.installBudget !== null && (exec.kind === 'I' || exec.kind === 'G' || exec.kind === 's');
        // Never negative: each step deducts at most its limit, which is at most what was left.
        if (installStep && this.installBudget! < limit) limit = this.installBudget!;
        const meter = new Meter(limit, instance.counter, instance.exceededFlag);
        exec.meter = meter;
        let trap: Trap | null = null;
        try {
            this.costs.beginExecution(exec, this);
            if (this.observer !== null) t1 = performance.now();
            entry(instance);
            if (exec.pending !== null && !exec.discardsState) {
                // A call left under construction is discarded when the execution ends; its cycles return.
                this.cycles += exec.pending.cycles;
                exec.pending = null;
            }
        } catch (error) {
            trap =
                meter.exceeded() || error instanceof InstructionLimitExceeded
                    ? new Trap(Errors.instructionLimit(this.idText, limit).message, false, 522)
                    : toTrap(error);
            if (trap === null) {
                // Not the canister's fault: a bug in the replica. Undo the execution and surface it.
                this.exec = null;
                this.instance!.rollback();
                this.stable.rollback();
                Object.assign(this, { cycles: saved.cycles, cyclesBurned: saved.burned, globalTimer: saved.timer, certifiedData: saved.certified });
                throw error;
            }
        } finally {
            if (this.observer !== null) t2 = performance.now();
            this.exec = null;
            // Read before any rollback: re-creating the instance resets its counter.
            const used = meter.used();
            exec.instructions = used > limit ? limit : used;
            exec.meter = null;
            if (installStep) this.installBudget! -= exec.instructions;
        }
        // A callback the table does not hold (a one-way call's response) ran no code: nothing to log, as on the IC.
        if (trap !== null && trap.errorCode !== ErrorCode.CanisterFunctionNotFound) {
            this.log(new TextEncoder().encode(`[TRAP]: ${trap.message}`), exec.time, exec.replicated);
        }
        if (trap !== null || exec.discardsState) {
            this.instance!.rollback();
            this.stable.rollback();
            this.cycles = saved.cycles;
            this.cyclesBurned = saved.burned;
            this.globalTimer = saved.timer;
            this.certifiedData = saved.certified;
        } else {
            this.stable.commit();
        }
        if (this.releaseSnapshots) this.instance!.releaseSnapshot();
        if (trap !== null) {
            // Nothing of a trapped execution leaves the canister: no reply, no calls.
            exec.response = null;
            exec.calls.length = 0;
        }
        this.costs.endExecution(exec, this, trap);
        if (this.observer !== null) this.observer(this, exec, trap, { setup: t1 - t0, entry: t2 - t1, settle: performance.now() - t2 });
        return { trap, exec };
    }
}

/** Turns whatever escaped the Wasm code into a trap with the replica's wording; null for replica bugs. */
export function toTrap(error: unknown): Trap | null {
    if (error instanceof Trap) return error;
    if (error instanceof WebAssembly.RuntimeError) {
        const m = error.message;
        if (/unreachable/.test(m)) return new Trap('unreachable');
        if (/out of bounds memory|memory access out of bounds/.test(m)) return new Trap('heap out of bounds');
        if (/divide by zero|remainder by zero/.test(m)) return new Trap('integer division by 0');
        if (/integer overflow|float unrepresentable/.test(m)) return new Trap('integer overflow');
        if (/table index is out of bounds|index out of bounds/.test(m)) return new Trap('table index out of bounds');
        if (/null function or function signature mismatch|signature mismatch|null function/.test(m)) return new Trap('indirect call signature mismatch');
        return new Trap(m);
    }
    if (error instanceof RangeError && /call stack/.test(error.message)) return new Trap('stack overflow');
    if (error instanceof Error && error.name === 'InstructionLimitExceeded') {
        return new Trap(error.message, false, 522);
    }
    return null;
}
