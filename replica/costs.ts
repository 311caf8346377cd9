/**
 * Where cycles accounting plugs into the replica. `MeteredCosts` (the default) charges what a 13-node
 * application subnet charges (`fees.ts`); `FreeCosts` charges nothing: balances then move only by explicit
 * transfers (cycles attached to calls, accepted, refunded, burned). Instructions are counted either way
 * (`metering.ts`); this decides only what they cost in cycles.
 */
import type { Canister } from './canister';
import { Errors, type UserError } from './errors';
import type { Execution, OutgoingCall, Trap } from './execution';
import { executionCost, Fees, idleCyclesPerDay, ingressCost, NANOS_PER_SECOND, scaled, SECONDS_PER_DAY, xnetCallCost, xnetResponseCost } from './fees';
import { MAX_PAYLOAD_BYTES } from './limits';
import { INSTRUCTION_LIMITS } from './metering';

export interface CostModel {
    /** Called before an execution starts; may refuse it by throwing a Trap (e.g. out of cycles). */
    beginExecution(exec: Execution, canister: Canister): void;
    /** Called after an execution, trapped or not, to settle what it consumed. */
    endExecution(exec: Execution, canister: Canister, trap: Trap | null): void;
    chargeSystemCall(exec: Execution, name: string): void;
    chargeBytes(exec: Execution, name: string, bytes: number): void;
    /** Cycles a canister must keep to stay above its freezing threshold. */
    freezingReserve(canister: Canister): bigint;
    /** What an inter-canister call with this many bytes of method name and payload costs to send. */
    call(bytes: bigint): bigint;
    /** Whether a canister may send this call now: 0, or call_perform's error code (2). Charges the call when admitted. */
    admitCall(canister: Canister, call: OutgoingCall): number;
    /** Why a message to this canister is refused before execution (e.g. frozen), or null. */
    admitMessage(canister: Canister, kind?: 'update' | 'query'): UserError | null;
    /** Charges the receiver for inducting an ingress message of `bytes` bytes, or says why it cannot pay. */
    ingressInduction?(canister: Canister, bytes: number): UserError | null;
    /** A response of `bytes` bytes arrived for `call`: settles what sending the call reserved for it. */
    responseReceived?(canister: Canister, call: OutgoingCall, bytes: number): void;
    /** Charges memory and compute allocation for the time since the last charge (called every round). */
    chargeIdle?(canister: Canister, now: bigint): void;
    /** The fee `create_canister` deducts from the cycles sent with it. */
    canisterCreationFee(): bigint;
    /** What the canister pays per day for its memory and allocations while idle. */
    idleCyclesPerDay(canister: Canister): bigint;
}

export const FreeCosts: CostModel = {
    beginExecution: () => {},
    endExecution: () => {},
    chargeSystemCall: () => {},
    chargeBytes: () => {},
    freezingReserve: () => 0n,
    call: () => 0n,
    admitCall: () => 0,
    admitMessage: () => null,
    canisterCreationFee: () => 0n,
    idleCyclesPerDay: () => 0n
};

/**
 * What a 13-node application subnet charges, from the fee table in `fees.ts`:
 *
 * - every replicated execution (updates, callbacks, timers, install steps, replicated queries) pays
 *   5 M cycles plus 1 cycle per instruction, trapped or not; non-replicated queries are free;
 * - an ingress message costs its receiver 1.2 M + 2,000 per byte when it is inducted;
 * - an inter-canister call costs its caller 260 K + 1,000 per request byte when it is sent, and reserves
 *   1,000 per byte of the largest possible response (2 MiB), the unused part refunded when the response
 *   arrives, as the IC does;
 * - memory and compute allocation are charged every round for the time that passed.
 *
 * A canister whose balance is below its freezing threshold reserve (the idle burn of `freezing_threshold`
 * seconds) plus what the message may cost is frozen: messages to it are refused with IC0207 before they
 * execute (the IC's "out of cycles"), queries included, and its outgoing calls fail with a transient error.
 */
export class MeteredCosts implements CostModel {
    beginExecution(): void {}

    endExecution(exec: Execution, canister: Canister): void {
        if (!exec.replicated) return;
        this.burnAffordable(canister, executionCost(exec.instructions));
    }

    chargeSystemCall(): void {}
    chargeBytes(): void {}

    freezingReserve(canister: Canister): bigint {
        return (this.idleCyclesPerDay(canister) * canister.settings.freezingThreshold) / SECONDS_PER_DAY;
    }

    call(bytes: bigint): bigint {
        return xnetCallCost(bytes);
    }

    /** Sending: the request's fee plus the reservation for the largest response. */
    private callCharge(call: OutgoingCall): bigint {
        const bytes = BigInt(call.argSize + new TextEncoder().encode(call.method).length);
        return this.call(bytes) + xnetResponseCost(BigInt(MAX_PAYLOAD_BYTES));
    }

    admitCall(canister: Canister, call: OutgoingCall): number {
        const charge = this.callCharge(call);
        if (canister.liquidCycles() < charge) return 2;
        this.burn(canister, charge);
        return 0;
    }

    responseReceived(canister: Canister, _call: OutgoingCall, bytes: number): void {
        const unused = xnetResponseCost(BigInt(Math.max(0, MAX_PAYLOAD_BYTES - bytes)));
        canister.cycles += unused;
        canister.cyclesBurned -= unused;
    }

    admitMessage(canister: Canister, kind: 'update' | 'query' = 'update'): UserError | null {
        // Replicated messages must be able to pay for a maximal execution on top of the reserve.
        const needed = this.freezingReserve(canister) + (kind === 'update' ? executionCost(INSTRUCTION_LIMITS.update) : 0n);
        if (canister.cycles < needed) return kind === 'query' ? Errors.frozenForQueries(canister.idText) : Errors.outOfCycles(canister.idText, needed, canister.cycles);
        return null;
    }

    ingressInduction(canister: Canister, bytes: number): UserError | null {
        const fee = ingressCost(BigInt(bytes));
        const needed = fee + this.freezingReserve(canister);
        if (canister.cycles < needed) return Errors.outOfCycles(canister.idText, needed, canister.cycles);
        this.burn(canister, fee);
        return null;
    }

    chargeIdle(canister: Canister, now: bigint): void {
        const since = canister.idleChargedAt;
        canister.idleChargedAt = now;
        if (since === null || now <= since) return;
        this.burnAffordable(canister, (this.idleCyclesPerDay(canister) * (now - since)) / (SECONDS_PER_DAY * NANOS_PER_SECOND));
    }

    canisterCreationFee(): bigint {
        return scaled(Fees.canisterCreation);
    }

    idleCyclesPerDay(canister: Canister): bigint {
        return idleCyclesPerDay(canister.memoryBytes(), canister.settings.memoryAllocation, canister.settings.computeAllocation);
    }

    /** Moves `amount` from the canister's balance to the cycles it has burned. */
    private burn(canister: Canister, amount: bigint): void {
        canister.cycles -= amount;
        canister.cyclesBurned += amount;
    }

    /** Burns `cost`, or what is left of the balance when that is less (none of a balance at or below zero). */
    private burnAffordable(canister: Canister, cost: bigint): void {
        this.burn(canister, cost < canister.cycles ? cost : canister.cycles > 0n ? canister.cycles : 0n);
    }
}
