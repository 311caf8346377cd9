/**
 * The index's cycles decisions without a replica (canisters/index/cycles.ts): what an upload may be
 * topped up by, the per-bucket budget window, and the reserve.
 */
import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import { budgetLeft, planUploadFunding, TOPUP_WINDOW_NS, topUpBudget, uploadCost } from '../../../canisters/index/cycles';
import { registerBucket } from '../../../canisters/index/buckets';
import type { Env } from '../../../canisters/index/state';
import type { BucketInfo } from '../../../shared/types';
import { ALICE, INDEX, newIndexState } from './harness';

const T = 1_000_000_000_000n;
const G = 1_000_000_000n;
const BUCKET = Principal.fromText('lz3um-vp777-77777-aaaba-cai');

function env(cycles: bigint, now = 1_000n): Env {
    return { caller: ALICE, now, self: INDEX, isController: () => false, cycles: () => cycles };
}

/** A state with one bucket whose last reading shows `balance` (freezing reserve 10 G). */
function withBucket(balance: bigint) {
    const state = newIndexState({ cycles_topup_amount: 2n * T, cycles_topup_threshold: 1n * T, index_cycles_reserve: 5n * T });
    const bucket = (registerBucket(state, env(100n * T), BUCKET, 1n << 40n, false) as { Ok: BucketInfo }).Ok;
    bucket.cycles = [{ balance, observed_at: 0n, burn_per_day: 0n, freezing_reserve: 10n * G, runway_days: [], topped_up: 0n, low: false, error: [] }];
    state.buckets.insert(BUCKET, bucket);
    return { state, bucket };
}

describe('planUploadFunding', () => {
    it('lets an upload through without a top-up when its bucket can pay, or has not been read yet', () => {
        const { state, bucket } = withBucket(50n * T);
        expect(planUploadFunding(state, env(100n * T), bucket, 1n << 20n, 1)).toEqual({ Ok: 0n });
        const unread = newIndexState();
        const fresh = (registerBucket(unread, env(100n * T), BUCKET, 1n << 40n, false) as { Ok: BucketInfo }).Ok;
        expect(planUploadFunding(unread, env(100n * T), fresh, 1n << 30n, 1024)).toEqual({ Ok: 0n });
    });

    it('plans exactly the shortfall, never more than the upload needs', () => {
        const { state, bucket } = withBucket(110n * G);
        const size = 64n << 20n;
        const needed = uploadCost(size, 64);
        const plan = planUploadFunding(state, env(100n * T), bucket, size, 64);
        // Liquid: 110 G - 10 G of freezing reserve - the base cost of the (no) open uploads.
        expect(plan).toEqual({ Ok: needed - (100n * G - uploadCost(0n, 0)) });
        expect((plan as { Ok: bigint }).Ok).toBeLessThanOrEqual(needed);
    });

    it('refuses what one top-up (cycles_topup_amount), the reserve or the budget cannot cover', () => {
        const { state, bucket } = withBucket(110n * G);
        expect(Object.keys(planUploadFunding(state, env(100n * T), bucket, 1n << 30n, 1024))).toEqual(['Err']);
        // The index holds its reserve and 0.5 T: a 1.7 T shortfall is refused before anything moves.
        expect(planUploadFunding(state, env(5n * T + T / 2n), bucket, 64n << 20n, 64)).toMatchObject({ Err: { InsufficientCycles: { canister: BUCKET } } });
    });

    it('budgets deposits per bucket per window, renewed after TOPUP_WINDOW_NS', () => {
        const { state } = withBucket(110n * G);
        const budget = topUpBudget({ cycles_topup_amount: 2n * T, cycles_topup_threshold: 1n * T });
        expect(budget).toBe(5n * T);
        expect(budgetLeft(state, env(100n * T), BUCKET)).toBe(budget);
        state.topUpBudgets.insert(BUCKET, { started_at: 1_000n, given: 4n * T });
        expect(budgetLeft(state, env(100n * T, 1_000n + TOPUP_WINDOW_NS - 1n), BUCKET)).toBe(1n * T);
        expect(budgetLeft(state, env(100n * T, 1_000n + TOPUP_WINDOW_NS), BUCKET)).toBe(budget);
    });
});
