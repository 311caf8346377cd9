/**
 * The replica: one application subnet that executes canister Wasm with the IC's message semantics.
 *
 * Messages travel through one FIFO queue, so requests between two canisters are delivered in the order
 * they were sent. `tick()` is one round: due system tasks (global timers, heartbeats) run, expired
 * best-effort calls are rejected, then every message queued before the round began is executed.
 * Each execution is a transaction on its canister (see `Canister.run`).
 */
import { Principal } from '@dfinity/principal';

import { concatBytes } from '../shared/bytes';
import { Canister, toTrap } from './canister';
import { CompositeQuery } from './composite';
import type { CostModel } from './costs';
import { MeteredCosts } from './costs';
import { ErrorCode, Errors, formatErrorCode, noRouteReject, RejectCode, UserError, userErrorResponse } from './errors';
import { Execution, Trap } from './execution';
import type { CallContext, CallOrigin, ContextKind, OutgoingCall, Response } from './execution';
import { canisterIdFromIndex, inSubnetRange, MANAGEMENT_CANISTER_ID, principalText } from './ids';
import { MAX_INGRESS_BYTES, MAX_OUTSTANDING_CALLS_PER_DESTINATION } from './limits';
import { INSTRUCTION_LIMITS } from './metering';
import type { PageFile } from './stable_memory';
import { ManagementCanister } from './management';
import { VetKdKeys } from './vetkd/keys';
import { compileModule, type CompiledModule } from './wasm/prepare';
import { WasmFormatError } from './wasm/binary';

type RequestMessage = {
    kind: 'request';
    sender: Principal;
    receiver: string;
    method: string;
    arg: Uint8Array;
    cycles: bigint;
    origin: CallOrigin;
};
type ResponseMessage = { kind: 'response'; receiver: string; callbackId: number; response: Response; refund: bigint };
export type Message = RequestMessage | ResponseMessage;

export interface Callback {
    id: number;
    canister: string;
    callContextId: number;
    call: OutgoingCall;
    deadline?: bigint;
    /** A response (real or synthesised at the deadline) has been queued; later ones are dropped. */
    settled: boolean;
}

export type IngressStatus = { state: 'processing' } | { state: 'done'; response: Response };

export interface ReplicaOptions {
    /** Initial time in nanoseconds since the epoch (default: now). */
    time?: bigint;
    /** Echo canister logs (debug_print and traps) to the console. */
    echoLogs?: boolean;
    /** Cycles accounting (default: `MeteredCosts`, a 13-node application subnet's fees; `FreeCosts` charges nothing). */
    costs?: CostModel;
    /** Instrument modules to count instructions (default true); false only to measure what metering costs. */
    instrument?: boolean;
    /**
     * Free each canister's heap copy after every execution instead of keeping it for the next one
     * (default false): saves a heap's worth of memory per canister at the cost of an allocation per
     * message. The embedded CLI uses it to keep long uploads small.
     */
    releaseSnapshots?: boolean;
    /**
     * The vetKD master keys (`vetkd_public_key`, `vetkd_derive_key`); default: derived from a fixed seed,
     * the same in every in-memory replica. A network kept in a state directory passes `VetKdKeys.load(dir)`.
     */
    vetkd?: VetKdKeys;
}

/** What `restoreCanister` needs: the state the IC keeps across an upgrade. */
export interface RestoredCanister {
    id: Principal;
    controllers: Principal[];
    cycles: bigint;
    settings: Canister['settings'];
    version: bigint;
    status: Canister['status'];
    wasm: Uint8Array | null;
    stableSize: number;
    /** Committed pages on disk; null when there are none (stable memory is then `stableSize` pages of zeros). */
    pageFile: PageFile | null;
    /**
     * The heap and mutable globals of a checkpoint, with what the canister had in flight: the canister
     * then continues exactly where it was (no post_upgrade). Absent in an upgrade-style restore.
     */
    running?: { heap: { bytes: Uint8Array; globals: unknown[] } | null; runtime: CanisterRuntime };
}

/** A canister's host-side state beyond what an upgrade keeps, as a checkpoint holds it. */
export interface CanisterRuntime {
    callContexts: CallContext[];
    globalTimer: bigint;
    certifiedData: Canister['certifiedData'];
    logs: Canister['logs'];
    nextLogIndex: bigint;
    cyclesBurned: bigint;
    idleChargedAt: bigint | null;
}

/**
 * The replica's messages at a round boundary: queued requests and responses, the callbacks waiting for
 * them, stop requests waiting for their canister, and the counters that name new ones. Ingress
 * statuses are not kept: whoever waited for them went with the process (the calls still complete).
 */
export interface MessageState {
    round: number;
    nextMessageId: number;
    nextCallbackId: number;
    nextCallContextId: number;
    nextCanisterIndex: bigint;
    queue: Message[];
    callbacks: Callback[];
    stopWaiters: [string, { origin: CallOrigin; cycles: bigint }[]][];
}

export type InstallMode = { install: null } | { reinstall: null } | { upgrade: [] | [{ skip_pre_upgrade: [] | [boolean]; wasm_memory_persistence: [] | [{ keep: null } | { replace: null }] }] };

export class Replica {
    time: bigint;
    readonly canisters = new Map<string, Canister>();
    private queue: Message[] = [];
    private readonly callbacks = new Map<number, Callback>();
    private readonly ingress = new Map<number, IngressStatus>();
    private nextMessageId = 1;
    private nextCallbackId = 1;
    private nextCallContextId = 1;
    private nextCanisterIndex = 0n;
    readonly management: ManagementCanister;
    readonly costs: CostModel;
    /** Whether modules are instrumented to count instructions. */
    readonly instrument: boolean;
    readonly releaseSnapshots: boolean;
    readonly vetkdKeys: VetKdKeys;
    echoLogs: boolean;
    /** Rounds executed so far. */
    round = 0;
    /**
     * Makes the certificate a query called as a query gets from `ic0.data_certificate_copy` (its canister's
     * certified data and the time, signed); null (the default) when the replica certifies nothing, and
     * `data_certificate_present` is 0. Set by the HTTP interface (`replica/http`).
     */
    dataCertificate: ((canisterId: Principal) => Uint8Array) | null = null;

    constructor(options: ReplicaOptions = {}) {
        this.time = options.time ?? BigInt(Date.now()) * 1_000_000n;
        this.echoLogs = options.echoLogs ?? false;
        this.costs = options.costs ?? new MeteredCosts();
        this.instrument = options.instrument ?? true;
        this.releaseSnapshots = options.releaseSnapshots ?? false;
        this.vetkdKeys = options.vetkd ?? VetKdKeys.fromSeed('in-memory replica');
        this.management = new ManagementCanister(this);
    }

    // ---------------------------------------------------------------- canisters

    createCanister(controllers: Principal[], cycles: bigint, specifiedId?: Principal): Canister {
        let id = specifiedId;
        if (id === undefined) {
            do id = canisterIdFromIndex(this.nextCanisterIndex++);
            while (this.canisters.has(id.toText()));
        } else if (this.canisters.has(id.toText())) {
            throw new UserError(205, `Unsuccessful canister creation: canister id ${id.toText()} already exists.`);
        }
        const canister = new Canister(id, controllers, cycles, this.costs, (c, call, pending) => this.admitCall(c, call, pending));
        canister.releaseSnapshots = this.releaseSnapshots;
        canister.echoLogs = this.echoLogs;
        this.canisters.set(id.toText(), canister);
        return canister;
    }

    getCanister(id: Principal | string): Canister | undefined {
        return this.canisters.get(typeof id === 'string' ? id : id.toText());
    }

    deleteCanister(canister: Canister): void {
        this.canisters.delete(canister.idText);
    }

    /**
     * Installs, reinstalls or upgrades code, atomically: if init, pre_upgrade or post_upgrade traps, the
     * canister is left exactly as it was. Returns an error, or null on success.
     */
    installCode(canister: Canister, mode: InstallMode, wasm: Uint8Array, arg: Uint8Array, sender: Principal): UserError | null {
        // pre_upgrade, start, init and post_upgrade share the install_code message's instruction limit.
        canister.installBudget = INSTRUCTION_LIMITS.install;
        try {
            return this.installCodeSteps(canister, mode, wasm, arg, sender);
        } finally {
            canister.installBudget = null;
        }
    }

    /** Compiles a module for `canister`, or says why it is not valid Wasm. */
    private compile(canister: Canister, wasm: Uint8Array): CompiledModule | UserError {
        try {
            return compileModule(wasm, { instrument: this.instrument });
        } catch (error) {
            if (error instanceof WasmFormatError) return Errors.invalidWasm(canister.idText, error.message);
            throw error;
        }
    }

    private installCodeSteps(canister: Canister, mode: InstallMode, wasm: Uint8Array, arg: Uint8Array, sender: Principal): UserError | null {
        const compiled = this.compile(canister, wasm);
        if (compiled instanceof UserError) return compiled;
        const id = canister.idText;
        const saved = {
            module: canister.module,
            instance: canister.instance,
            heap: canister.instance?.exportState(),
            stable: canister.stable.snapshot(),
            version: canister.version,
            timer: canister.globalTimer,
            certified: canister.certifiedData
        };
        const restore = () => {
            canister.module = saved.module;
            canister.instance = saved.instance;
            if (saved.instance !== null && saved.heap !== undefined) saved.instance.importState(saved.heap);
            canister.stable.restore(saved.stable);
            canister.version = saved.version;
            canister.globalTimer = saved.timer;
            canister.certifiedData = saved.certified;
        };
        const fail = (trap: Trap): UserError => {
            restore();
            return this.trapError(canister, trap);
        };

        if ('upgrade' in mode) {
            if (canister.module === null) return Errors.emptyCanister(id);
            const options = mode.upgrade[0];
            if (options?.wasm_memory_persistence[0] !== undefined && 'keep' in options.wasm_memory_persistence[0]) {
                return Errors.invalidWasm(id, 'wasm_memory_persistence = keep needs enhanced orthogonal persistence, which this module does not declare');
            }
            if (options?.skip_pre_upgrade[0] !== true && canister.hasExport('canister_pre_upgrade')) {
                const pre = canister.run(new Execution('G', this.time, { caller: sender }), (i) => i.exportedFunction('canister_pre_upgrade')!());
                if (pre.trap) return fail(pre.trap);
            }
            const trap = this.runNewModule(canister, compiled, 'canister_post_upgrade', arg, sender);
            return trap === null ? null : fail(trap);
        }

        if ('install' in mode && canister.module !== null) return Errors.notEmpty(id);
        const firstLog = canister.nextLogIndex;
        canister.stable.reset();
        // Reset before the module starts, which is safe: a start function can neither read nor set certified data, and `fail` restores it.
        canister.certifiedData = new Uint8Array();
        const trap = this.runNewModule(canister, compiled, 'canister_init', arg, sender);
        if (trap) return fail(trap);
        if ('reinstall' in mode) {
            // Logs persist across upgrades but not reinstalls; what this install logged is kept.
            canister.clearLogs(firstLog);
            this.dropCallContexts(canister, 'Canister has been reinstalled.');
        }
        return null;
    }

    /**
     * Runs a new module: a fresh instance of it (with its start function), then `entry` (init on install
     * and reinstall, post_upgrade on upgrade), if exported, with `arg`. Returns the trap that stopped it, or null.
     */
    private runNewModule(canister: Canister, compiled: CompiledModule, entry: 'canister_init' | 'canister_post_upgrade', arg: Uint8Array, sender: Principal): Trap | null {
        const startTrap = this.startInstance(canister, compiled);
        if (startTrap) return startTrap;
        canister.version += 1n;
        canister.globalTimer = 0n;
        if (!canister.hasExport(entry)) return null;
        return canister.run(new Execution('I', this.time, { arg, caller: sender }), (i) => i.exportedFunction(entry)!()).trap;
    }

    /**
     * Brings back a canister from saved state the way an upgrade would: what the IC keeps across an
     * upgrade (id, controllers, settings, cycles, version, module, stable memory) is restored, the heap
     * starts fresh and post_upgrade runs with `arg`.
     */
    restoreCanister(saved: RestoredCanister, arg: Uint8Array): UserError | null {
        const canister = this.createCanister(saved.controllers, saved.cycles, saved.id);
        Object.assign(canister.settings, saved.settings);
        canister.version = saved.version;
        canister.status = saved.status;
        if (saved.pageFile) canister.stable.attach(saved.pageFile, saved.stableSize);
        else canister.stable.reset(new Map(), saved.stableSize);
        const running = saved.running;
        if (running !== undefined) {
            const r = running.runtime;
            for (const ctx of r.callContexts) canister.callContexts.set(ctx.id, ctx);
            canister.globalTimer = r.globalTimer;
            canister.certifiedData = r.certifiedData;
            canister.restoreLogs(r.logs, r.nextLogIndex);
            canister.cyclesBurned = r.cyclesBurned;
            canister.idleChargedAt = r.idleChargedAt;
        }
        if (saved.wasm === null) return null;
        const compiled = this.compile(canister, saved.wasm);
        if (compiled instanceof UserError) return compiled;
        if (running?.heap) {
            // A checkpoint's canister: the same module instantiated (its start function is an export the
            // replica runs, so nothing runs here) and its heap and globals put back over the fresh ones.
            try {
                canister.instantiate(compiled);
            } catch (error) {
                const trap = toTrap(error);
                if (trap === null) throw error;
                return this.trapError(canister, trap);
            }
            canister.instance!.importState({ heap: running.heap.bytes, globals: running.heap.globals });
            return null;
        }
        const trap = this.runNewModule(canister, compiled, 'canister_post_upgrade', arg, MANAGEMENT_CANISTER_ID);
        return trap === null ? null : this.trapError(canister, trap);
    }

    /** The canister's host-side state for a checkpoint (see {@link CanisterRuntime}). */
    canisterRuntime(canister: Canister): CanisterRuntime {
        return {
            callContexts: [...canister.callContexts.values()],
            globalTimer: canister.globalTimer,
            certifiedData: canister.certifiedData,
            logs: canister.logs,
            nextLogIndex: canister.nextLogIndex,
            cyclesBurned: canister.cyclesBurned,
            idleChargedAt: canister.idleChargedAt
        };
    }

    /** The messages in flight, for a checkpoint; taken between rounds (see {@link MessageState}). */
    messageState(): MessageState {
        return {
            round: this.round,
            nextMessageId: this.nextMessageId,
            nextCallbackId: this.nextCallbackId,
            nextCallContextId: this.nextCallContextId,
            nextCanisterIndex: this.nextCanisterIndex,
            queue: this.queue,
            callbacks: [...this.callbacks.values()],
            stopWaiters: this.management.waiting()
        };
    }

    /** Puts back the messages of a checkpoint, after its canisters were restored. */
    restoreMessages(state: MessageState): void {
        this.round = state.round;
        this.nextMessageId = state.nextMessageId;
        this.nextCallbackId = state.nextCallbackId;
        this.nextCallContextId = state.nextCallContextId;
        this.nextCanisterIndex = state.nextCanisterIndex;
        this.queue = [...state.queue];
        this.callbacks.clear();
        for (const callback of state.callbacks) this.callbacks.set(callback.id, callback);
        this.management.restoreWaiting(state.stopWaiters);
    }

    /**
     * Gives the canister a fresh instance of `compiled` and runs the module's `(start)` function, if it
     * has one, as an execution in context `s`. Returns the trap that stopped either, or null.
     */
    private startInstance(canister: Canister, compiled: CompiledModule): Trap | null {
        try {
            canister.instantiate(compiled);
        } catch (error) {
            // Instantiation itself traps when, say, a data segment does not fit the declared memory.
            const trap = toTrap(error);
            if (trap === null) throw error;
            return trap;
        }
        const start = compiled.startExport;
        if (start === null) return null;
        return canister.run(new Execution('s', this.time), (i) => i.exportedFunction(start)!()).trap;
    }

    /** Removes the canister's code and state, as `uninstall_code` does. */
    uninstallCode(canister: Canister): void {
        canister.module = null;
        canister.instance = null;
        canister.stable.reset();
        canister.globalTimer = 0n;
        canister.certifiedData = new Uint8Array();
        canister.chunkStore.clear();
        canister.clearLogs();
        canister.version += 1n;
        this.dropCallContexts(canister, 'Canister has been uninstalled.');
    }

    /** Rejects every call context that still owes a response; their callbacks will never run. */
    private dropCallContexts(canister: Canister, message: string): void {
        for (const ctx of canister.callContexts.values()) {
            if (!ctx.responded) this.respond(ctx, { type: 'reject', code: RejectCode.CanisterReject, message }, ctx.availableCycles);
        }
        canister.callContexts.clear();
        this.checkStopped(canister);
    }

    // ---------------------------------------------------------------- ingress and queries

    /** Submits an update call; returns the message id to poll with `ingressStatus`. */
    submitIngress(sender: Principal, canisterId: Principal, method: string, arg: Uint8Array): number {
        const messageId = this.nextMessageId++;
        const origin: CallOrigin = { type: 'ingress', messageId };
        const refuse = (error: UserError) => this.ingress.set(messageId, { state: 'done', response: userErrorResponse(error) });
        if (arg.length > MAX_INGRESS_BYTES) {
            const message = `Request payload of ${arg.length} bytes exceeds the ingress message limit of ${MAX_INGRESS_BYTES} bytes`;
            this.ingress.set(messageId, { state: 'done', response: { type: 'reject', code: RejectCode.SysFatal, message } });
            return messageId;
        }
        this.ingress.set(messageId, { state: 'processing' });
        const receiver = canisterId.toText();
        if (receiver !== MANAGEMENT_CANISTER_ID.toText()) {
            const canister = this.canisters.get(receiver);
            if (canister === undefined && !inSubnetRange(canisterId)) {
                this.ingress.set(messageId, { state: 'done', response: noRouteReject(receiver) });
                return messageId;
            }
            const refusal = canister === undefined ? Errors.canisterNotFound(receiver) : this.admissionError(canister);
            if (refusal !== null) {
                refuse(refusal);
                return messageId;
            }
            const inspect = this.inspectMessage(canister!, sender, method, arg);
            if (inspect !== null) {
                refuse(inspect);
                return messageId;
            }
            // The receiver pays for the message's induction (method name and argument bytes).
            const unpaid = this.costs.ingressInduction?.(canister!, arg.length + new TextEncoder().encode(method).length) ?? null;
            if (unpaid !== null) {
                refuse(unpaid);
                return messageId;
            }
        }
        this.queue.push({ kind: 'request', sender, receiver, method, arg, cycles: 0n, origin });
        return messageId;
    }

    ingressStatus(messageId: number): IngressStatus | undefined {
        return this.ingress.get(messageId);
    }

    /** Ticks until the ingress message has its response; throws if the replica goes idle without one. */
    awaitIngress(messageId: number, maxRounds = 10_000): Response {
        for (let rounds = 0; ; rounds++) {
            const response = this.takeResponse(messageId, rounds, maxRounds);
            if (response !== undefined) return response;
            this.tick();
        }
    }

    /**
     * As {@link awaitIngress}, but lets the host's event loop run between rounds (`pause`, by default one
     * turn of Node's loop), so timers, I/O and abort signals keep working while a long call executes.
     */
    async awaitIngressYielding(messageId: number, pause: () => Promise<void> = () => new Promise((resolve) => setImmediate(resolve)), maxRounds = 10_000): Promise<Response> {
        for (let rounds = 0; ; rounds++) {
            const response = this.takeResponse(messageId, rounds, maxRounds);
            if (response !== undefined) return response;
            this.tick();
            await pause();
        }
    }

    /** The ingress message's response once it has one (forgetting the message), else undefined. */
    private takeResponse(messageId: number, rounds: number, maxRounds: number): Response | undefined {
        const status = this.ingress.get(messageId);
        if (status === undefined) throw new Error(`unknown ingress message ${messageId}`);
        if (status.state === 'done') {
            this.ingress.delete(messageId);
            return status.response;
        }
        if (rounds >= maxRounds) throw new Error(`the update call did not complete within ${maxRounds} rounds`);
        return undefined;
    }

    /** Runs a query (non-replicated): the reply is returned and nothing the query changed persists. */
    query(sender: Principal, canisterId: Principal, method: string, arg: Uint8Array): Response {
        const receiver = canisterId.toText();
        if (receiver === MANAGEMENT_CANISTER_ID.toText()) return this.management.handleQuery(sender, method, arg);
        const canister = this.canisters.get(receiver);
        if (canister === undefined) return inSubnetRange(canisterId) ? userErrorResponse(Errors.canisterNotFound(receiver)) : noRouteReject(receiver);
        const refusal = this.admissionError(canister, 'query');
        if (refusal !== null) return userErrorResponse(refusal);
        const certify = this.dataCertificate;
        let certificate: Uint8Array | undefined;
        const dataCertificate = certify === null ? undefined : () => (certificate ??= certify(canisterId));
        if (canister.hasExport(`canister_composite_query ${method}`)) {
            return new CompositeQuery(this).run(canister, { caller: sender, method, arg, dataCertificate });
        }
        if (!canister.hasExport(`canister_query ${method}`)) return userErrorResponse(Errors.methodNotFound(receiver, 'query', method));
        const ctx = this.newCallContext(canister, { type: 'ingress', messageId: 0 }, sender, method, 0n, false);
        const { trap, exec } = canister.run(new Execution('NRQ', this.time, { arg, caller: sender, method, callContext: ctx, dataCertificate }), (i) =>
            i.exportedFunction(`canister_query ${method}`)!()
        );
        if (trap !== null) return userErrorResponse(this.trapError(canister, trap));
        return exec.response ?? userErrorResponse(Errors.didNotProduceResponse(receiver));
    }

    /** Why a call to this canister is refused before it runs, or null. */
    admissionError(canister: Canister, kind: 'update' | 'query' = 'update'): UserError | null {
        if (canister.status === 'stopped') return Errors.stopped(canister.idText);
        if (canister.status === 'stopping') return Errors.stopping(canister.idText);
        if (canister.module === null) return Errors.emptyCanister(canister.idText);
        return this.costs.admitMessage(canister, kind);
    }

    private inspectMessage(canister: Canister, sender: Principal, method: string, arg: Uint8Array): UserError | null {
        if (!canister.hasExport('canister_inspect_message')) return null;
        if (!canister.hasExport(`canister_update ${method}`)) return null;
        const { trap, exec } = canister.run(new Execution('F', this.time, { arg, caller: sender, method }), (i) =>
            i.exportedFunction('canister_inspect_message')!()
        );
        if (trap !== null) return this.trapError(canister, trap);
        return exec.accepted ? null : Errors.rejectedMessage(canister.idText);
    }

    // ---------------------------------------------------------------- rounds

    /** Executes one round. */
    tick(): void {
        this.round += 1;
        if (this.costs.chargeIdle !== undefined) for (const canister of this.canisters.values()) this.costs.chargeIdle(canister, this.time);
        for (const canister of [...this.canisters.values()]) {
            if (canister.status !== 'running' || canister.module === null) continue;
            if (canister.hasExport('canister_heartbeat')) this.runSystemTask(canister, 'canister_heartbeat');
            if (canister.globalTimer !== 0n && this.time >= canister.globalTimer && canister.hasExport('canister_global_timer')) {
                // The timer is deactivated before the task runs; a trap does not re-arm it.
                canister.globalTimer = 0n;
                this.runSystemTask(canister, 'canister_global_timer');
            }
        }
        this.expireDeadlines();
        const batch = this.queue;
        this.queue = [];
        for (let i = 0; i < batch.length; i++) {
            const message = batch[i];
            if (message.kind === 'request') this.processRequest(message);
            else this.processResponse(message);
        }
    }

    /** True when messages are waiting to be executed. */
    get busy(): boolean {
        return this.queue.length > 0;
    }

    advanceTime(nanos: bigint): void {
        this.setTime(this.time + nanos);
    }

    /** Sets the time; time never goes backwards on the IC, so an earlier time is refused. */
    setTime(nanos: bigint): void {
        if (nanos < this.time) throw new Error(`time cannot go backwards (from ${this.time} to ${nanos} ns)`);
        this.time = nanos;
    }

    private expireDeadlines(): void {
        for (const callback of this.callbacks.values()) {
            if (!callback.settled && callback.deadline !== undefined && this.time >= callback.deadline) {
                const error = Errors.deadlineExpired();
                // The system stops waiting: a SYS_UNKNOWN reject with no refund; a late response is dropped.
                this.enqueueResponse(callback.id, { type: 'reject', code: error.rejectCode, message: error.message, errorCode: error.errorCode }, 0n);
            }
        }
    }

    private processRequest(message: RequestMessage): void {
        if (message.receiver === MANAGEMENT_CANISTER_ID.toText()) {
            this.management.handleRequest(message);
            return;
        }
        const canister = this.canisters.get(message.receiver);
        const refuse = (error: UserError) => this.deliver(message.origin, userErrorResponse(error), message.cycles);
        if (canister === undefined) {
            if (!inSubnetRange(Principal.fromText(message.receiver))) return this.deliver(message.origin, noRouteReject(message.receiver), message.cycles);
            return refuse(Errors.canisterNotFound(message.receiver));
        }
        const refusal = this.admissionError(canister);
        if (refusal !== null) return refuse(refusal);
        let kind: ContextKind;
        let entry: string;
        if (canister.hasExport(`canister_update ${message.method}`)) {
            kind = 'U';
            entry = `canister_update ${message.method}`;
        } else if (canister.hasExport(`canister_query ${message.method}`)) {
            kind = 'RQ';
            entry = `canister_query ${message.method}`;
        } else if (canister.hasExport(`canister_composite_query ${message.method}`)) {
            return refuse(Errors.compositeQueryReplicated());
        } else {
            return refuse(Errors.methodNotFound(message.receiver, 'update', message.method));
        }
        const ctx = this.newCallContext(canister, message.origin, message.sender, message.method, message.cycles, true);
        const exec = new Execution(kind, this.time, { arg: message.arg, caller: message.sender, method: message.method, callContext: ctx });
        const outcome = canister.run(exec, (i) => i.exportedFunction(entry)!());
        this.finish(canister, ctx, outcome.exec, outcome.trap);
    }

    private processResponse(message: ResponseMessage): void {
        const callback = this.callbacks.get(message.callbackId);
        if (callback === undefined) return;
        this.callbacks.delete(callback.id);
        const canister = this.canisters.get(callback.canister);
        if (canister === undefined) return;
        canister.cycles += message.refund;
        const response = message.response;
        this.costs.responseReceived?.(canister, callback.call, response.type === 'reply' ? response.data.length : new TextEncoder().encode(response.message).length);
        const ctx = canister.callContexts.get(callback.callContextId);
        // A response for a deleted call context (the canister was reinstalled or uninstalled) runs nothing.
        if (ctx === undefined || canister.module === null) return;
        ctx.outstanding -= 1;
        const kind: ContextKind = response.type === 'reply' ? 'Ry' : 'Rt';
        const exec = new Execution(kind, this.time, {
            arg: response.type === 'reply' ? response.data : undefined,
            caller: ctx.caller,
            callContext: ctx,
            rejectCode: response.type === 'reject' ? response.code : 0,
            rejectMessage: response.type === 'reject' ? response.message : undefined,
            refunded: message.refund
        });
        const target = response.type === 'reply' ? callback.call.reply : callback.call.reject;
        let { trap } = canister.run(exec, (i) => i.callTable(target.fun, target.env));
        const cleanup = callback.call.cleanup;
        if (trap !== null && cleanup !== undefined) {
            const cleanupExec = new Execution('C', this.time, { caller: ctx.caller, callContext: ctx });
            const cleanupOutcome = canister.run(cleanupExec, (i) => i.callTable(cleanup.fun, cleanup.env));
            if (cleanupOutcome.trap !== null) {
                trap = new Trap(`${trap.message}\n\ncall_on_cleanup also failed:\n\n${cleanupOutcome.trap.message}`, trap.explicit, trap.errorCode);
            }
        }
        this.finish(canister, ctx, exec, trap);
    }

    private runSystemTask(canister: Canister, entry: 'canister_heartbeat' | 'canister_global_timer'): void {
        const ctx = this.newCallContext(canister, { type: 'system' }, MANAGEMENT_CANISTER_ID, entry, 0n, true);
        const exec = new Execution('T', this.time, { caller: MANAGEMENT_CANISTER_ID, callContext: ctx });
        const { trap } = canister.run(exec, (i) => i.exportedFunction(entry)!());
        this.finish(canister, ctx, exec, trap);
    }

    private newCallContext(canister: Canister, origin: CallOrigin, caller: Principal, method: string, cycles: bigint, register: boolean): CallContext {
        const ctx: CallContext = {
            id: this.nextCallContextId++,
            origin,
            caller,
            method,
            responded: origin.type === 'system',
            outstanding: 0,
            availableCycles: cycles,
            instructions: 0n
        };
        if (register) canister.callContexts.set(ctx.id, ctx);
        return ctx;
    }

    /** Settles a call context after one of its executions: responses, new calls, starvation, stopping. */
    private finish(canister: Canister, ctx: CallContext, exec: Execution, trap: Trap | null): void {
        ctx.instructions += exec.instructions;
        if (trap !== null) {
            if (!ctx.responded && ctx.outstanding === 0) {
                this.respond(ctx, userErrorResponse(this.trapError(canister, trap)), ctx.availableCycles);
            }
        } else {
            if (exec.kind !== 'RQ') canister.version += 1n;
            if (exec.response !== null) this.respond(ctx, exec.response, ctx.availableCycles);
            for (const call of exec.calls) this.sendCall(canister, ctx, call);
            if (!ctx.responded && ctx.outstanding === 0) {
                // The call context can no longer be answered by anyone: the system rejects it.
                const response: Response =
                    ctx.origin.type === 'canister'
                        ? { type: 'reject', code: RejectCode.CanisterError, message: 'No response' }
                        : userErrorResponse(Errors.didNotReply(canister.idText));
                this.respond(ctx, response, ctx.availableCycles);
            }
        }
        if (ctx.responded && ctx.outstanding === 0) canister.callContexts.delete(ctx.id);
        this.checkStopped(canister);
    }

    private sendCall(canister: Canister, ctx: CallContext, call: OutgoingCall): void {
        const callback: Callback = {
            id: this.nextCallbackId++,
            canister: canister.idText,
            callContextId: ctx.id,
            call,
            deadline: call.timeoutSeconds === undefined ? undefined : this.time + BigInt(call.timeoutSeconds) * 1_000_000_000n,
            settled: false
        };
        this.callbacks.set(callback.id, callback);
        ctx.outstanding += 1;
        const arg = concatBytes(call.args);
        this.queue.push({
            kind: 'request',
            sender: canister.id,
            receiver: call.callee.toText(),
            method: call.method,
            arg,
            cycles: call.cycles,
            origin: { type: 'canister', canister: canister.idText, callbackId: callback.id, deadline: callback.deadline }
        });
    }

    /**
     * Whether `canister` may enqueue `call` (0) or why not (call_perform's non-zero result): the IC holds
     * at most 500 calls from one canister to one destination awaiting their responses (the queue's slots
     * reserved for them), then the cycles the call costs. `pending` counts the calls to the same
     * destination this execution already made.
     */
    private admitCall(canister: Canister, call: OutgoingCall, pending: number): number {
        const callee = principalText(call.callee);
        const caller = canister.idText;
        let outstanding = pending;
        for (const callback of this.callbacks.values()) {
            if (callback.canister === caller && principalText(callback.call.callee) === callee) outstanding++;
        }
        if (outstanding >= MAX_OUTSTANDING_CALLS_PER_DESTINATION) return RejectCode.SysTransient;
        return this.costs.admitCall(canister, call);
    }

    /** Sends the response of a call context to whoever made the call, with the unaccepted cycles. */
    respond(ctx: CallContext, response: Response, refund: bigint): void {
        ctx.responded = true;
        ctx.availableCycles = 0n;
        this.deliver(ctx.origin, response, refund);
    }

    /** Delivers a response to a call's origin: an ingress status, a canister's callback, or nobody. */
    deliver(origin: CallOrigin, response: Response, refund: bigint): void {
        if (origin.type === 'ingress') {
            if (this.ingress.has(origin.messageId)) this.ingress.set(origin.messageId, { state: 'done', response });
        } else if (origin.type === 'canister') {
            // A canister sees a system-made reject as `ICxxxx: <text>`; ingress keeps the text and the code apart.
            const seen = response.type === 'reject' && response.errorCode !== undefined ? { ...response, message: `${formatErrorCode(response.errorCode)}: ${response.message}` } : response;
            this.enqueueResponse(origin.callbackId, seen, refund);
        }
    }

    private enqueueResponse(callbackId: number, response: Response, refund: bigint): void {
        const callback = this.callbacks.get(callbackId);
        if (callback === undefined || callback.settled) return;
        callback.settled = true;
        this.queue.push({ kind: 'response', receiver: callback.canister, callbackId, response, refund });
    }

    /** Moves a stopping canister to stopped once no call context is open, answering the stop requests. */
    checkStopped(canister: Canister): void {
        if (canister.status === 'stopping' && canister.callContexts.size === 0) {
            canister.status = 'stopped';
            canister.version += 1n;
            this.management.stopped(canister);
        }
    }

    trapError(canister: Canister, trap: Trap): UserError {
        if (trap.errorCode === 522) return new UserError(522, trap.message);
        if (trap.errorCode === ErrorCode.CanisterFunctionNotFound) return Errors.functionNotFound(canister.idText, trap.message);
        if (trap.errorCode === 504) return Errors.contractViolation(canister.idText, trap.message);
        return trap.explicit ? Errors.calledTrap(canister.idText, trap.message) : Errors.trapped(canister.idText, trap.message);
    }
}
