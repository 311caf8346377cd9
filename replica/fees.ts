/**
 * The IC's cycles fees for a 13-node application subnet, in one place (dfinity/ic
 * `rs/config/src/subnet_config.rs`, `CyclesAccountManagerConfig::application_subnet`; the published
 * "cycles cost formulas" page lists the same figures). Fees scale linearly with the subnet size; 13 is the
 * reference size, so these are the figures as they are.
 */
export const SUBNET_SIZE = 13;
export const REFERENCE_SUBNET_SIZE = 13;

export const Fees = {
    /** Deducted from the cycles sent with `create_canister`. */
    canisterCreation: 500_000_000_000n,
    /** Every replicated execution (update, callback, timer, heartbeat, install step, replicated query). */
    updateMessageExecution: 5_000_000n,
    /** Per 10 instructions executed in replicated mode (i.e. 1 cycle per instruction). */
    tenUpdateInstructions: 10n,
    /** Every inter-canister call: sending the request and receiving the response. */
    xnetCall: 260_000n,
    /** Every byte of an inter-canister request or response. */
    xnetByteTransmission: 1_000n,
    /** Every ingress message inducted. */
    ingressMessageReception: 1_200_000n,
    /** Every byte of an ingress message (method name and argument). */
    ingressByteReception: 2_000n,
    /** Storing one GiB for one second. */
    gibStoragePerSecond: 127_000n,
    /** One percent of compute allocation for one second. */
    computePercentAllocatedPerSecond: 10_000_000n
} as const;

export const GIB = 1n << 30n;
export const NANOS_PER_SECOND = 1_000_000_000n;
export const SECONDS_PER_DAY = 86_400n;

/** A fee for this subnet: the 13-node figure scaled to `SUBNET_SIZE` nodes. */
export function scaled(cycles: bigint): bigint {
    return (cycles * BigInt(SUBNET_SIZE)) / BigInt(REFERENCE_SUBNET_SIZE);
}

/** What a replicated execution of `instructions` instructions costs. */
export function executionCost(instructions: bigint): bigint {
    return scaled(Fees.updateMessageExecution + (instructions * Fees.tenUpdateInstructions) / 10n);
}

/** What inducting an ingress message of `bytes` bytes (method name + argument) costs the receiver. */
export function ingressCost(bytes: bigint): bigint {
    return scaled(Fees.ingressMessageReception + Fees.ingressByteReception * bytes);
}

/** What sending an inter-canister request of `bytes` bytes (method name + argument) costs the caller. */
export function xnetCallCost(bytes: bigint): bigint {
    return scaled(Fees.xnetCall + Fees.xnetByteTransmission * bytes);
}

/** Transmission of `bytes` bytes of an inter-canister response, paid by the caller. */
export function xnetResponseCost(bytes: bigint): bigint {
    return scaled(Fees.xnetByteTransmission * bytes);
}

/** Cycles a canister burns per day while idle: its memory (or memory allocation) and compute allocation. */
export function idleCyclesPerDay(memoryBytes: bigint, memoryAllocation: bigint, computeAllocation: bigint): bigint {
    const bytes = memoryAllocation > memoryBytes ? memoryAllocation : memoryBytes;
    const storage = (bytes * Fees.gibStoragePerSecond * SECONDS_PER_DAY) / GIB;
    const compute = computeAllocation * Fees.computePercentAllocatedPerSecond * SECONDS_PER_DAY;
    return scaled(storage + compute);
}
