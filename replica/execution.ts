/** What one execution of canister code sees and produces. */
import type { Principal } from '@dfinity/principal';

import type { Meter } from './metering';

/**
 * The interface specification's execution contexts: I (init/post_upgrade), G (pre_upgrade), U (update),
 * RQ/NRQ (replicated/non-replicated query), CQ (composite query), Ry/Rt (reply/reject callback),
 * CRy/CRt (composite query callbacks), C/CC (cleanup), F (inspect_message), T (timer, heartbeat), s (start).
 */
export type ContextKind = 'I' | 'G' | 'U' | 'RQ' | 'NRQ' | 'CQ' | 'Ry' | 'Rt' | 'CRy' | 'CRt' | 'C' | 'CC' | 'F' | 'T' | 's';

export type Response =
    | { type: 'reply'; data: Uint8Array }
    | { type: 'reject'; code: number; message: string; errorCode?: number };

/** Where the response of a call context goes. */
export type CallOrigin =
    | { type: 'ingress'; messageId: number }
    | { type: 'canister'; canister: string; callbackId: number; deadline?: bigint }
    | { type: 'system' };

export interface CallContext {
    id: number;
    origin: CallOrigin;
    caller: Principal;
    method: string;
    responded: boolean;
    /** Callbacks still waiting for a response. */
    outstanding: number;
    /** Cycles sent with the call and not yet accepted. */
    availableCycles: bigint;
    /** Instructions executed in this call context so far (performance_counter 1). */
    instructions: bigint;
}

export interface OutgoingCall {
    callee: Principal;
    method: string;
    args: Uint8Array[];
    argSize: number;
    cycles: bigint;
    reply: { fun: number; env: number };
    reject: { fun: number; env: number };
    cleanup?: { fun: number; env: number };
    /** Seconds, for a best-effort call (`call_with_best_effort_response`). */
    timeoutSeconds?: number;
}

export class Trap extends Error {
    override name = 'Trap';
    constructor(
        message: string,
        /** True when the canister called `ic0.trap` itself; false for Wasm traps and misuse of the API. */
        readonly explicit = false,
        /** IC error code to report; defaults to trapped/called-trap. */
        readonly errorCode?: number
    ) {
        super(message);
    }
}

export class Execution {
    readonly replyParts: Uint8Array[] = [];
    replySize = 0;
    response: Response | null = null;
    readonly calls: OutgoingCall[] = [];
    pending: OutgoingCall | null = null;
    accepted = false;
    /** Instructions charged to this execution (performance_counter 0); final once the execution ended. */
    instructions = 0n;
    /** Counts instructions while the execution runs (set by `Canister.run`). */
    meter: Meter | null = null;
    /** 4 KiB stable memory pages written so far: each costs instructions the first time. */
    readonly dirtyStablePages = new Set<number>();
    cyclesAccepted = 0n;
    /** Entry for the execution's own global timer / certified data changes: applied on commit. */
    constructor(
        readonly kind: ContextKind,
        readonly time: bigint,
        readonly options: {
            arg?: Uint8Array;
            caller?: Principal;
            method?: string;
            callContext?: CallContext | null;
            rejectCode?: number;
            rejectMessage?: string;
            refunded?: bigint;
            /** The certificate `ic0.data_certificate_copy` returns, made on first use; absent when none is present. */
            dataCertificate?: () => Uint8Array;
            /** A lower instruction limit than the context's (what a composite query's call graph has left). */
            instructionLimit?: bigint;
        } = {}
    ) {}

    /** Instructions used so far: live while the execution runs, final after. */
    instructionsUsed(): bigint {
        return this.meter === null ? this.instructions : this.meter.used();
    }

    get callContext(): CallContext | null {
        return this.options.callContext ?? null;
    }

    /**
     * False in the non-replicated modes (queries called as queries, composite queries and their
     * callbacks, inspect_message): what `in_replicated_execution` reports, and where logs are not kept.
     */
    get replicated(): boolean {
        return !(this.kind === 'NRQ' || this.kind === 'CQ' || this.kind === 'CRy' || this.kind === 'CRt' || this.kind === 'CC' || this.kind === 'F');
    }

    /**
     * True when the execution's state changes must be discarded even if it succeeds: queries (called as
     * updates or as queries) and inspect_message. A composite query keeps its changes for its callbacks;
     * the replica discards them when its call context ends (`Replica.query`).
     */
    get discardsState(): boolean {
        return this.kind === 'RQ' || this.kind === 'NRQ' || this.kind === 'F';
    }
}
