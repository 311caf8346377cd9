/**
 * How the client reaches canisters. One interface, two implementations: the in-process replica
 * (`ReplicaTransport`) and `@dfinity/agent`'s HttpAgent for a real network (`AgentTransport`). Everything
 * above it is the same for both.
 */
import type { HttpAgent, Identity } from '@dfinity/agent';
import type { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import type { CanisterCallError, PocketIc } from '../replica';
import { NetworkUnreachableError, TransportError } from './errors';

/** Makes actors for canisters, as one caller. */
export interface Transport {
    /** The principal every call is made as. */
    readonly principal: Principal;
    /**
     * An actor whose methods encode their arguments, call, and decode the reply. A call the system
     * rejects (unreachable canister, trap, network failure) throws a {@link TransportError}.
     */
    actor<T>(idlFactory: IDL.InterfaceFactory, canisterId: Principal): T;
    /**
     * The network's root key (DER), which certified query replies verify against; absent (or returning
     * `undefined`) when the transport cannot supply one. Downloads then check each chunk against its
     * certified response only if it is present, and the whole file's SHA-256 always.
     */
    rootKey?(): Uint8Array | undefined;
}

/**
 * Runs around every call of a transport's actors: it is given the call (whose failures are already
 * {@link TransportError}s) and returns its result. What it throws itself reaches the caller unchanged.
 */
export type CallHook = <R>(call: () => Promise<R>) => Promise<R>;

/** Wraps every method of an actor so that failures surface as TransportError, and each call runs inside `around`. */
function guarded<T>(actor: Record<string, unknown>, canisterId: Principal, around?: CallHook): T {
    return new Proxy(actor, {
        get(target, key) {
            const value = target[key as string];
            if (typeof value !== 'function') return value;
            const call = async (args: unknown[]): Promise<unknown> => {
                try {
                    return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
                } catch (error) {
                    throw toTransportError(error, canisterId, String(key));
                }
            };
            return async (...args: unknown[]) => (around === undefined ? call(args) : around(() => call(args)));
        }
    }) as T;
}

function toTransportError(error: unknown, canisterId: Principal, method: string): TransportError {
    if (error instanceof TransportError) return error;
    if (isCanisterCallError(error)) {
        return new TransportError(`Call to ${method} on ${canisterId.toText()} was rejected: ${error.rejectMessage}`, error.rejectCode, error);
    }
    // The agent's errors (AgentError) carry the reject in `cause.code`; their message adds the request's
    // HTTP headers and bytes, tens of lines no reader needs: the reject alone is the message.
    const reject = agentReject(error);
    if (reject !== undefined) {
        const errorCode = reject.rejectErrorCode === undefined ? '' : `, ${reject.rejectErrorCode}`;
        return new TransportError(`Call to ${method} on ${canisterId.toText()} was rejected: ${reject.rejectMessage} (reject code ${reject.rejectCode}${errorCode})`, reject.rejectCode, error);
    }
    const message = error instanceof Error ? error.message : String(error);
    // The agent gave up fetching (it retries a few times itself): nothing answers at the URL.
    if ((error as { cause?: { code?: { name?: unknown } } })?.cause?.code?.name === 'HttpFetchErrorCode') {
        return new NetworkUnreachableError(`Call to ${method} on ${canisterId.toText()} failed: nothing answered (${firstLine(message)})`, undefined, error);
    }
    // Other agent errors carry the reject code in their text ("Reject code: 5").
    const code = /[Rr]eject code:?\s*(\d)/.exec(message)?.[1];
    return new TransportError(`Call to ${method} on ${canisterId.toText()} failed: ${firstLine(message)}`, code === undefined ? undefined : Number(code), error);
}

/** The first non-empty line of a message, without a trailing colon (the agent's headings end in one). */
function firstLine(message: string): string {
    return (message.split('\n').find((line) => line.trim() !== '') ?? message).trim().replace(/:$/, '');
}

/** The replica's reject inside an agent error (certified or not), by shape: the agent's classes stay unimported. */
function agentReject(error: unknown): { rejectCode: number; rejectMessage: string; rejectErrorCode?: string } | undefined {
    const code = (error as { cause?: { code?: { rejectCode?: unknown; rejectMessage?: unknown; rejectErrorCode?: unknown } } })?.cause?.code;
    if (code === undefined || typeof code.rejectCode !== 'number' || typeof code.rejectMessage !== 'string') return undefined;
    return { rejectCode: code.rejectCode, rejectMessage: code.rejectMessage, rejectErrorCode: typeof code.rejectErrorCode === 'string' ? code.rejectErrorCode : undefined };
}

/**
 * Recognised by name, not `instanceof`: importing the replica's class would pull the whole replica (and
 * Node's built-ins) into browser bundles, which use only AgentTransport.
 */
function isCanisterCallError(error: unknown): error is CanisterCallError {
    return error instanceof Error && error.name === 'CanisterCallError' && typeof (error as CanisterCallError).rejectCode === 'number';
}

/** Calls canisters in the in-process replica. */
export class ReplicaTransport implements Transport {
    /**
     * @param pic - the replica to call
     * @param principal - who calls
     * @param around - runs around every call (e.g. to advance the replica's clock or checkpoint it); what it
     *   throws is not wrapped in a {@link TransportError}
     */
    constructor(
        private readonly pic: Pick<PocketIc, 'createActor'>,
        readonly principal: Principal,
        private readonly around?: CallHook
    ) {}

    actor<T>(idlFactory: IDL.InterfaceFactory, canisterId: Principal): T {
        // Yielding between rounds keeps the host's timers and abort signals alive during long calls.
        const actor = this.pic.createActor<Record<string, unknown>>(idlFactory, canisterId, { yielding: true });
        actor.setPrincipal(this.principal);
        return guarded<T>(actor, canisterId, this.around);
    }
}

/** Calls canisters on a network (a local `dfx start` replica or the IC) through HttpAgent. */
export class AgentTransport implements Transport {
    private constructor(
        private readonly agent: HttpAgent,
        private readonly createActor: (typeof import('@dfinity/agent'))['Actor']['createActor'],
        readonly principal: Principal
    ) {}

    /**
     * @param host - the replica's URL, e.g. `http://127.0.0.1:4943` or `https://icp-api.io`
     * @param identity - who calls; anonymous when absent
     * @param fetchRootKey - true for a local replica (its root key is not the IC's)
     */
    static async create(options: { host: string; identity?: Identity; fetchRootKey?: boolean }): Promise<AgentTransport> {
        // Loaded on demand: the embedded network never needs the HTTP agent.
        const { Actor, HttpAgent } = await import('@dfinity/agent');
        const agent = await HttpAgent.create({ host: options.host, identity: options.identity, shouldFetchRootKey: options.fetchRootKey ?? false });
        return new AgentTransport(agent, Actor.createActor.bind(Actor), await agent.getPrincipal());
    }

    /** The agent's root key: the IC's, or the local replica's when `fetchRootKey` was set. */
    rootKey(): Uint8Array | undefined {
        return this.agent.rootKey ?? undefined;
    }

    actor<T>(idlFactory: IDL.InterfaceFactory, canisterId: Principal): T {
        // The IC routes a management canister call by the canister it is about (its effective canister id).
        const transform = canisterId.toText() === MANAGEMENT ? effectiveCanister : undefined;
        const actor = this.createActor(idlFactory, { agent: this.agent, canisterId, callTransform: transform, queryTransform: transform });
        return guarded<T>(actor as unknown as Record<string, unknown>, canisterId);
    }
}

const MANAGEMENT = 'aaaaa-aa';

/** The effective canister id of a management call: its `canister_id` (or `target_canister`) argument, else aaaaa-aa. */
function effectiveCanister(_method: string, args: unknown[]): { effectiveCanisterId: Principal } {
    const first = args[0] as { canister_id?: Principal; target_canister?: Principal } | undefined;
    const target = first?.canister_id ?? first?.target_canister;
    return { effectiveCanisterId: target ?? Principal.managementCanister() };
}
