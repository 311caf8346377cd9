/**
 * Where instruction metering and cycles accounting plug into the replica. `FreeCosts` charges nothing:
 * balances then move only by explicit transfers (cycles attached to calls, accepted, refunded, burned).
 */
import type { Canister } from './canister';
import type { UserError } from './errors';
import type { Execution, OutgoingCall, Trap } from './execution';

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
    /** Whether a canister may send this call now: 0, or call_perform's error code (2). */
    admitCall(canister: Canister, call: OutgoingCall): number;
    /** Why a message to this canister is refused before execution (e.g. frozen), or null. */
    admitMessage(canister: Canister): UserError | null;
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
