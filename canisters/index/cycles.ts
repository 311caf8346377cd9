/**
 * Keeping buckets funded. On its maintenance timer the index reads each bucket's balance through the
 * management canister (`canister_status`: the index controls the buckets it serves), measures the burn
 * between two readings, and tops up (`deposit_cycles`) a bucket whose cycles above its freezing reserve
 * fall below `cycles_topup_threshold`, never spending below its own `index_cycles_reserve`.
 * `begin_upload` refuses an upload its bucket cannot pay for instead of letting the bucket freeze
 * half-way; it tops the bucket up only for an upload it admitted, by at most what that upload needs.
 * Every deposit into a bucket counts against that bucket's budget per window (`topUpBudget`), and a
 * refused call moves no cycles. The index's own balance is observed and reported the same way.
 */
import type { Principal } from '@dfinity/principal';

import { candidSerializer } from '../../shared/stable';
import { CyclesReport, type BucketInfo, type Config, type CyclesReport as CyclesReportT, type Result } from '../../shared/types';
import { type Env, getConfig, getU64, type IndexState, type Ports, setU64, type TopUpWindow } from './state';
import { describeError } from './errors';

export const NANOS_PER_DAY = 86_400n * 1_000_000_000n;

/**
 * Freezing threshold of the buckets the index creates: 90 days of idle burn (the IC's default is 30). A
 * frozen bucket stops serving but keeps its data until its balance is gone; a bucket holds users' files,
 * so it freezes early and leaves the operator three months to top it up before anything is deleted.
 */
export const BUCKET_FREEZING_THRESHOLD_SECONDS = 90n * 86_400n;
/**
 * Cap on the cycles a bucket may set aside for storage it allocates while its subnet is busy (the IC's
 * default, stated so a change of default cannot surprise): one large upload on a crowded subnet cannot
 * lock up the whole balance.
 */
export const BUCKET_RESERVED_CYCLES_LIMIT = 5_000_000_000_000n;

/**
 * What one byte of an upload costs its bucket, in cycles: ingress of `put_chunk` (2,000 per byte),
 * writing it to stable memory, reading it back and hashing it during `finish_upload`, and hashing it
 * again for the certified chunk response (several thousand instructions per byte each). Measured on the
 * replica's metering at ~19,200 per byte; with a margin, 25,000. tests/silo/cycles.test.ts checks that an
 * upload burns less than the estimate, and not half as much.
 */
export const UPLOAD_CYCLES_PER_BYTE = 25_000n;
/** Per chunk: its ingress message, its execution, its share of the finish calls and its certification (~280 M measured). */
export const UPLOAD_CYCLES_PER_CHUNK = 400_000_000n;
/** Per upload: opening, sealing, committing. */
export const UPLOAD_CYCLES_BASE = 1_000_000_000n;

/** Buckets whose balance one maintenance run reads, continuing from where the last run stopped. */
export const CYCLES_BATCH = 16;

/** Keys this module keeps in the index's meta map (a range of its own, clear of state.ts's MetaKey). */
const CyclesKey = {
    /** The index's own last observation (a CyclesReport). */
    indexReport: 64,
    /** Position in the bucket registry where the next maintenance run continues reading balances. */
    cursor: 65,
    /** Cycles the index gave away (creations and top-ups) since its last observation: not burn. */
    givenSinceObservation: 66
} as const;

const reportSerializer = candidSerializer<CyclesReportT>(CyclesReport);

/** What `canister_status` says that matters here. */
export interface CanisterCycles {
    cycles: bigint;
    idle_cycles_burned_per_day: bigint;
    freezing_threshold: bigint;
}

/** Cycles an upload of `size` bytes in `chunks` chunks costs its bucket. */
export function uploadCost(size: bigint, chunks: number): bigint {
    return UPLOAD_CYCLES_BASE + size * UPLOAD_CYCLES_PER_BYTE + BigInt(chunks) * UPLOAD_CYCLES_PER_CHUNK;
}

/** Days the cycles above `floor` last at `perDay`; none while nothing burns. */
export function runwayDays(balance: bigint, floor: bigint, perDay: bigint): [] | [number] {
    if (perDay <= 0n) return [];
    const liquid = balance > floor ? balance - floor : 0n;
    return [Number((liquid * 1000n) / perDay) / 1000];
}

/**
 * A new report from a reading at `now`. The burn is what the balance lost since the previous reading (whose
 * balance already counts later deposits) per day, and never less than the idle burn the system states.
 */
export function observe(previous: CyclesReportT | undefined, reading: { balance: bigint; idlePerDay: bigint; reserve: bigint }, now: bigint): CyclesReportT {
    let burn = reading.idlePerDay;
    if (previous !== undefined && now > previous.observed_at) {
        const lost = previous.balance > reading.balance ? previous.balance - reading.balance : 0n;
        const measured = (lost * NANOS_PER_DAY) / (now - previous.observed_at);
        if (measured > burn) burn = measured;
    } else if (previous !== undefined && previous.burn_per_day > burn) {
        burn = previous.burn_per_day;
    }
    return {
        balance: reading.balance,
        observed_at: now,
        burn_per_day: burn,
        freezing_reserve: reading.reserve,
        runway_days: runwayDays(reading.balance, reading.reserve, burn),
        topped_up: previous?.topped_up ?? 0n,
        low: false,
        error: []
    };
}

// ------------------------------------------------------------------ the index's own balance

function storedIndexReport(state: IndexState): CyclesReportT | undefined {
    const bytes = state.meta.get(CyclesKey.indexReport);
    return bytes === undefined ? undefined : reportSerializer.fromBytes(bytes);
}

/** Records that the index sent `amount` cycles away (to create or top up a bucket): a transfer, not burn. */
export function noteCyclesGiven(state: IndexState, amount: bigint): void {
    const given = getU64(state, CyclesKey.givenSinceObservation) + amount;
    setU64(state, CyclesKey.givenSinceObservation, given > 0n ? given : 0n);
}

/** Takes a reading of the index's own balance (on the maintenance timer). */
export function observeIndex(state: IndexState, env: Env): void {
    const given = getU64(state, CyclesKey.givenSinceObservation);
    const previous = storedIndexReport(state);
    // Cycles given away since the last reading are taken off that reading, so they do not count as burn.
    const base = previous === undefined ? undefined : { ...previous, balance: previous.balance > given ? previous.balance - given : 0n };
    const report = observe(base, { balance: env.cycles(), idlePerDay: 0n, reserve: getConfig(state).index_cycles_reserve }, env.now);
    state.meta.insert(CyclesKey.indexReport, reportSerializer.toBytes(report));
    setU64(state, CyclesKey.givenSinceObservation, 0n);
}

/** The index's cycles now, with the burn of its last readings; `low` below its configured reserve. */
export function indexCycles(state: IndexState, env: Env): CyclesReportT {
    const config = getConfig(state);
    const balance = env.cycles();
    const stored = storedIndexReport(state);
    const burn = stored?.burn_per_day ?? 0n;
    return {
        balance,
        observed_at: env.now,
        burn_per_day: burn,
        freezing_reserve: config.index_cycles_reserve,
        runway_days: runwayDays(balance, 0n, burn),
        topped_up: 0n,
        low: balance < config.index_cycles_reserve,
        error: []
    };
}

/** Cycles the index may give away now, keeping its reserve. */
function spendable(config: Config, env: Env): bigint {
    const balance = env.cycles();
    return balance > config.index_cycles_reserve ? balance - config.index_cycles_reserve : 0n;
}

/** Why the index cannot give `amount` away without crossing its reserve, or null. */
export function reserveRefusal(state: IndexState, env: Env, amount: bigint): string | null {
    const config = getConfig(state);
    if (spendable(config, env) >= amount) return null;
    return `the index holds ${env.cycles()} cycles and keeps ${config.index_cycles_reserve} in reserve (index_cycles_reserve): it cannot spare ${amount}; top up the index`;
}

// ------------------------------------------------------------------ the per-bucket budget

/**
 * The window over which the index's deposits into one bucket are budgeted. Whatever calls trigger them
 * (the maintenance timer, any number of users' uploads), one bucket receives at most `topUpBudget` per
 * window, so no caller can move the index's cycles into one bucket faster than that.
 */
export const TOPUP_WINDOW_NS = 3600n * 1_000_000_000n;

/**
 * Cycles one bucket may receive per window: enough for maintenance to lift an empty bucket to its
 * threshold and top it up twice more (or for upload top-ups, each at most `cycles_topup_amount`).
 */
export function topUpBudget(config: Pick<Config, 'cycles_topup_amount' | 'cycles_topup_threshold'>): bigint {
    return config.cycles_topup_threshold + 2n * config.cycles_topup_amount;
}

function currentWindow(state: IndexState, env: Env, id: Principal): TopUpWindow {
    const stored = state.topUpBudgets.get(id);
    if (stored === undefined || stored.started_at + TOPUP_WINDOW_NS <= env.now) return { started_at: env.now, given: 0n };
    return stored;
}

/** What is left of `id`'s budget in the current window. */
export function budgetLeft(state: IndexState, env: Env, id: Principal): bigint {
    const left = topUpBudget(getConfig(state)) - currentWindow(state, env, id).given;
    return left > 0n ? left : 0n;
}

function chargeBudget(state: IndexState, env: Env, id: Principal, amount: bigint): void {
    const window = currentWindow(state, env, id);
    window.given += amount;
    if (window.given < 0n) window.given = 0n;
    state.topUpBudgets.insert(id, window);
}

/** The most the index may deposit into `id` now, and what limits it when that is nothing. */
function allowance(state: IndexState, env: Env, id: Principal): { amount: bigint; limit: string } {
    const config = getConfig(state);
    const spare = spendable(config, env);
    const left = budgetLeft(state, env, id);
    if (spare <= left) return { amount: spare, limit: `the index holds ${env.cycles()} cycles, at or below its reserve of ${config.index_cycles_reserve}: top up the index` };
    return { amount: left, limit: `this bucket received its budget of ${topUpBudget(config)} cycles for this hour; the next top-up comes when the window renews` };
}

// ------------------------------------------------------------------ buckets

function updateReport(state: IndexState, id: Principal, change: (report: CyclesReportT | undefined) => CyclesReportT): void {
    const bucket = state.buckets.get(id);
    if (bucket === undefined) return;
    bucket.cycles = [change(bucket.cycles[0])];
    state.buckets.insert(id, bucket);
}

async function readBucket(state: IndexState, env: Env, ports: Ports, id: Principal): Promise<CyclesReportT | null> {
    let status: CanisterCycles;
    try {
        status = await ports.management.canisterStatus(id);
    } catch (error) {
        updateReport(state, id, (r) => ({ ...(r ?? emptyReport(env.now)), error: [`canister_status failed: ${describeError(error)}`] }));
        return null;
    }
    // Re-read after the await: the record may have changed (a top-up from begin_upload, say).
    const previous = state.buckets.get(id)?.cycles[0];
    const reserve = (status.idle_cycles_burned_per_day * status.freezing_threshold) / 86_400n;
    const report = observe(previous, { balance: status.cycles, idlePerDay: status.idle_cycles_burned_per_day, reserve }, env.now);
    updateReport(state, id, () => report);
    return report;
}

function emptyReport(now: bigint): CyclesReportT {
    return { balance: 0n, observed_at: now, burn_per_day: 0n, freezing_reserve: 0n, runway_days: [], topped_up: 0n, low: false, error: [] };
}

/**
 * Deposits exactly `amount` (already checked against the reserve and the budget) into `id`. The budget
 * and the index's books are charged before the await (the cycles leave with the call) and refunded if
 * the call fails (its cycles come back). Returns whether the cycles arrived.
 */
async function deposit(state: IndexState, env: Env, ports: Ports, id: Principal, amount: bigint): Promise<boolean> {
    const config = getConfig(state);
    chargeBudget(state, env, id, amount);
    noteCyclesGiven(state, amount);
    try {
        await ports.management.depositCycles(id, amount);
    } catch (error) {
        chargeBudget(state, env, id, -amount);
        noteCyclesGiven(state, -amount);
        updateReport(state, id, (r) => ({ ...(r ?? emptyReport(env.now)), low: true, error: [`deposit_cycles failed: ${describeError(error)}`] }));
        return false;
    }
    updateReport(state, id, (r) => {
        const base = r ?? emptyReport(env.now);
        const balance = base.balance + amount;
        return {
            ...base,
            balance,
            topped_up: base.topped_up + amount,
            runway_days: runwayDays(balance, base.freezing_reserve, base.burn_per_day),
            low: balance - base.freezing_reserve < config.cycles_topup_threshold,
            error: []
        };
    });
    return true;
}

/**
 * Maintenance top-up: brings `id`'s cycles above its freezing reserve back to the threshold, by at least
 * `cycles_topup_amount`, as far as the index's reserve and the bucket's budget allow.
 */
async function topUp(state: IndexState, env: Env, ports: Ports, id: Principal, target: bigint): Promise<bigint> {
    const config = getConfig(state);
    const report = state.buckets.get(id)?.cycles[0];
    if (report === undefined) return 0n;
    const liquid = report.balance - report.freezing_reserve;
    let amount = target - liquid;
    if (amount < config.cycles_topup_amount) amount = config.cycles_topup_amount;
    const allowed = allowance(state, env, id);
    if (amount > allowed.amount) amount = allowed.amount;
    if (amount <= 0n) {
        updateReport(state, id, (r) => ({ ...r!, low: true, error: [allowed.limit] }));
        return 0n;
    }
    return (await deposit(state, env, ports, id, amount)) ? amount : 0n;
}

/**
 * One maintenance pass: reads up to `CYCLES_BATCH` buckets' balances (continuing round the registry
 * from where the last run stopped), tops up those below the threshold, then reads the index's own.
 */
export async function maintainCycles(state: IndexState, env: Env, ports: Ports): Promise<void> {
    const from = Number(getU64(state, CyclesKey.cursor));
    const ids = state.buckets.keys(from, CYCLES_BATCH);
    setU64(state, CyclesKey.cursor, ids.length < CYCLES_BATCH ? 0n : BigInt(from + ids.length));
    for (const id of ids) {
        const report = await readBucket(state, env, ports, id);
        if (report === null) continue;
        const threshold = getConfig(state).cycles_topup_threshold;
        if (report.balance - report.freezing_reserve < threshold) await topUp(state, env, ports, id, threshold);
    }
    observeIndex(state, env);
}

/**
 * Decides, before anything is reserved or moved, whether `bucket` can pay for an upload of `size`
 * bytes on top of the uploads it already has open: `{ Ok: 0n }` when it can, `{ Ok: amount }` when a
 * top-up of `amount` makes it able to, and `InsufficientCycles` otherwise. A top-up is at most what this
 * upload needs, at most `cycles_topup_amount`, within the bucket's budget for the window and above the
 * index's reserve; the caller deposits it (`fundUpload`) only once the upload holds its reservation.
 * A bucket the index has not read yet is let through (the next maintenance run reads it).
 */
export function planUploadFunding(state: IndexState, env: Env, bucket: BucketInfo, size: bigint, chunks: number): Result<bigint> {
    const needed = uploadCost(size, chunks);
    const current = state.buckets.get(bucket.id);
    const report = current?.cycles[0];
    if (current === undefined || report === undefined) return { Ok: 0n };
    // Uploads already open on the bucket will spend their share first.
    const committed = uploadCost(current.reserved_bytes, 0);
    const liquid = report.balance - report.freezing_reserve - committed;
    if (liquid >= needed) return { Ok: 0n };
    const shortfall = needed - liquid;
    const config = getConfig(state);
    const limit = [needed, config.cycles_topup_amount, allowance(state, env, bucket.id).amount].reduce((a, b) => (a < b ? a : b));
    if (shortfall <= limit) return { Ok: shortfall };
    return { Err: { InsufficientCycles: { canister: bucket.id, available: liquid > 0n ? liquid : 0n, needed } } };
}

/**
 * Deposits an admitted upload's planned top-up (see `planUploadFunding`), checking the reserve and the
 * budget again (other messages ran since the plan). `InsufficientCycles` when it could not.
 */
export async function fundUpload(state: IndexState, env: Env, ports: Ports, bucket: BucketInfo, amount: bigint, needed: bigint): Promise<Result<null>> {
    if (amount === 0n) return { Ok: null };
    const refused = (): Result<null> => ({ Err: { InsufficientCycles: { canister: bucket.id, available: 0n, needed } } });
    if (amount > allowance(state, env, bucket.id).amount) return refused();
    return (await deposit(state, env, ports, bucket.id, amount)) ? { Ok: null } : refused();
}

/** Buckets whose last report is low. */
export function lowBuckets(state: IndexState): number {
    let count = 0;
    for (const [, bucket] of state.buckets.items()) if (bucket.cycles[0]?.low === true) count++;
    return count;
}
