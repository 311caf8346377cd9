/**
 * Composite queries: a `canister_composite_query` method called as a query runs, may call query and
 * composite query methods of other canisters on the subnet, and its callbacks run as the responses come
 * back; nothing any of them changed persists. The call graph is evaluated at once, depth first, as the
 * IC's query handler does (`query_call_graph.rs`): a call context's changes live until it responds (its
 * callbacks see them), then its canister is put back as it was; a canister may appear once on the call
 * stack (re-entry aborts the query), the stack is at most 6 deep, and the whole graph shares one
 * instruction budget, 50 M of it charged per call.
 */
import type { Principal } from '@dfinity/principal';

import { concatBytes } from '../shared/bytes';
import type { Canister } from './canister';
import { Errors, formatErrorCode, noRouteReject, UserError } from './errors';
import { Execution, Trap } from './execution';
import type { CallContext, OutgoingCall, Response } from './execution';
import { inSubnetRange, MANAGEMENT_CANISTER_ID } from './ids';
import { INSTRUCTION_LIMITS } from './metering';
import type { Replica } from './replica';

const userErrorResponse = (error: UserError): Response => error.toResponse();

/** Call contexts that may wait below one making a call (the IC's maximum query call graph depth). */
export const MAX_QUERY_CALL_GRAPH_DEPTH = 6;
/** Instructions all executions of one composite query may use together. */
export const MAX_QUERY_CALL_GRAPH_INSTRUCTIONS = INSTRUCTION_LIMITS.query;
/** Instructions charged for each call in the graph, on top of what it executes. */
export const QUERY_CALL_OVERHEAD_INSTRUCTIONS = 50_000_000n;

/** Ends the whole query: the IC answers these with a user error, not with a reject to the caller. */
class GraphAbort extends Error {
    constructor(readonly error: UserError) {
        super(error.message);
    }
}

interface Entry {
    caller: Principal;
    method: string;
    arg: Uint8Array;
    dataCertificate?: () => Uint8Array;
}

/** What an execution of a canister leaves behind, to put it back when its call context ends. */
function saveCanister(canister: Canister) {
    return {
        heap: canister.instance!.exportState(),
        stable: canister.stable.snapshot(),
        cycles: canister.cycles,
        burned: canister.cyclesBurned,
        timer: canister.globalTimer,
        certified: canister.certifiedData
    };
}

function restoreCanister(canister: Canister, saved: ReturnType<typeof saveCanister>): void {
    canister.instance!.importState(saved.heap);
    canister.stable.restore(saved.stable);
    canister.cycles = saved.cycles;
    canister.cyclesBurned = saved.burned;
    canister.globalTimer = saved.timer;
    canister.certifiedData = saved.certified;
}

export class CompositeQuery {
    private readonly stack: string[] = [];
    private instructions = 0n;

    constructor(private readonly replica: Replica) {}

    /** Runs `canister`'s composite query method `entry.method` for a user; the response is the user's. */
    run(canister: Canister, entry: Entry): Response {
        try {
            return this.context(canister, entry);
        } catch (error) {
            if (error instanceof GraphAbort) return userErrorResponse(error.error);
            throw error;
        }
    }

    private remaining(): bigint {
        const left = MAX_QUERY_CALL_GRAPH_INSTRUCTIONS - this.instructions;
        return left > 0n ? left : 0n;
    }

    private checkLimits(): void {
        // The stack holds the context making the call and its ancestors: at most 6 ancestors may wait on it.
        if (this.stack.length > MAX_QUERY_CALL_GRAPH_DEPTH) throw new GraphAbort(Errors.queryCallGraphTooDeep());
        if (this.instructions >= MAX_QUERY_CALL_GRAPH_INSTRUCTIONS) throw new GraphAbort(Errors.queryCallGraphInstructions());
    }

    /** One composite query call context, from its method to its response; its canister is restored after. */
    private context(canister: Canister, entry: Entry): Response {
        const saved = saveCanister(canister);
        this.stack.push(canister.idText);
        const ctx: CallContext = {
            id: 0,
            origin: { type: 'ingress', messageId: 0 },
            caller: entry.caller,
            method: entry.method,
            responded: false,
            outstanding: 0,
            availableCycles: 0n,
            instructions: 0n
        };
        try {
            const first = canister.run(
                new Execution('CQ', this.replica.time, {
                    arg: entry.arg,
                    caller: entry.caller,
                    method: entry.method,
                    callContext: ctx,
                    dataCertificate: entry.dataCertificate,
                    instructionLimit: this.remaining()
                }),
                (i) => i.exportedFunction(`canister_composite_query ${entry.method}`)!()
            );
            this.instructions += first.exec.instructions;
            ctx.instructions += first.exec.instructions;
            if (first.trap !== null) return userErrorResponse(this.replica.trapError(canister, first.trap));
            if (first.exec.response !== null) return first.exec.response;
            const calls: OutgoingCall[] = [...first.exec.calls];
            for (let call = calls.shift(); call !== undefined; call = calls.shift()) {
                this.checkLimits();
                const response = this.call(canister, call);
                this.checkLimits();
                const kind = response.type === 'reply' ? 'CRy' : 'CRt';
                const exec = new Execution(kind, this.replica.time, {
                    arg: response.type === 'reply' ? response.data : undefined,
                    caller: entry.caller,
                    callContext: ctx,
                    rejectCode: response.type === 'reject' ? response.code : 0,
                    rejectMessage: response.type === 'reject' ? response.message : undefined,
                    refunded: 0n,
                    instructionLimit: this.remaining()
                });
                const target = response.type === 'reply' ? call.reply : call.reject;
                let { trap } = canister.run(exec, (i) => i.callTable(target.fun, target.env));
                this.instructions += exec.instructions;
                ctx.instructions += exec.instructions;
                if (trap !== null && call.cleanup !== undefined) {
                    const cleanup = call.cleanup;
                    const cleanupExec = new Execution('CC', this.replica.time, { caller: entry.caller, callContext: ctx, instructionLimit: this.remaining() });
                    const outcome = canister.run(cleanupExec, (i) => i.callTable(cleanup.fun, cleanup.env));
                    this.instructions += cleanupExec.instructions;
                    ctx.instructions += cleanupExec.instructions;
                    if (outcome.trap !== null) trap = new Trap(`${trap.message}\n\ncall_on_cleanup also failed:\n\n${outcome.trap.message}`, trap.explicit, trap.errorCode);
                }
                if (trap !== null) return userErrorResponse(this.replica.trapError(canister, trap));
                if (exec.response !== null) return exec.response;
                calls.push(...exec.calls);
            }
            return userErrorResponse(Errors.didNotProduceResponse(canister.idText));
        } finally {
            this.stack.pop();
            restoreCanister(canister, saved);
        }
    }

    /** The response `caller`'s callback sees for one of its calls (system-made rejects carry their `ICxxxx: `). */
    private call(caller: Canister, call: OutgoingCall): Response {
        const response = this.evaluate(caller, call);
        if (response.type === 'reject' && response.errorCode !== undefined) {
            return { type: 'reject', code: response.code, message: `${formatErrorCode(response.errorCode)}: ${response.message}` };
        }
        return response;
    }

    private evaluate(caller: Canister, call: OutgoingCall): Response {
        this.instructions += QUERY_CALL_OVERHEAD_INSTRUCTIONS;
        const calleeId = call.callee.toText();
        const arg = concatBytes(call.args);
        if (calleeId === MANAGEMENT_CANISTER_ID.toText()) return this.replica.management.handleQuery(caller.id, call.method, arg);
        if (calleeId === caller.idText || this.stack.includes(calleeId)) throw new GraphAbort(Errors.queryCallGraphLoop());
        const callee = this.replica.getCanister(calleeId);
        if (callee === undefined) return inSubnetRange(call.callee) ? userErrorResponse(Errors.canisterNotFound(calleeId)) : noRouteReject(calleeId);
        const refusal = this.replica.admissionError(callee, 'query');
        if (refusal !== null) return userErrorResponse(refusal);
        const entry: Entry = { caller: caller.id, method: call.method, arg };
        if (callee.hasExport(`canister_composite_query ${call.method}`)) return this.context(callee, entry);
        if (!callee.hasExport(`canister_query ${call.method}`)) return userErrorResponse(Errors.methodNotFound(calleeId, 'query', call.method));
        const ctx: CallContext = { id: 0, origin: { type: 'ingress', messageId: 0 }, caller: caller.id, method: call.method, responded: false, outstanding: 0, availableCycles: 0n, instructions: 0n };
        const { trap, exec } = callee.run(
            new Execution('NRQ', this.replica.time, { arg, caller: caller.id, method: call.method, callContext: ctx, instructionLimit: this.remaining() }),
            (i) => i.exportedFunction(`canister_query ${call.method}`)!()
        );
        this.instructions += exec.instructions;
        if (trap !== null) return userErrorResponse(this.replica.trapError(callee, trap));
        return exec.response ?? userErrorResponse(Errors.didNotProduceResponse(calleeId));
    }
}
