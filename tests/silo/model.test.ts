/**
 * The model-based, fault-injecting suite, short profile: seeded random sequences of uploads, deletions
 * and listings from several users, interleaved with faults, on the real Wasm; invariants after every step
 * (tests/helpers/model.ts). The long profile is `npm run soak`. To replay a failure, run with the seed
 * it prints: MODEL_SEED=<seed> npx vitest run tests/silo/model.test.ts.
 */
import { describe, expect, it } from 'vitest';

import { runModel } from '../helpers/model';

const seed = Number(process.env.MODEL_SEED ?? 20261127);

describe('model-based suite (short profile)', () => {
    it('loses nothing and shows nothing uncommitted across random operations and faults', async () => {
        const report = await runModel({ seed, runs: 1, steps: 60, fullCheckEvery: 15 });
        expect(report.runs).toBe(1);
        expect(report.operations).toBe(60);
        expect(report.faults).toBeGreaterThan(0);
        expect(report.committed).toBeGreaterThan(0);
    }, 120_000);
});
