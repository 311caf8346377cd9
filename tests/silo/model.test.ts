/**
 * The model-based, fault-injecting suite, short profile: seeded random sequences of uploads, deletions
 * and listings from several users, interleaved with faults, on the real Wasm; invariants after every step
 * (tests/helpers/model.ts). The long profile is `npm run soak`.
 *
 * Each run draws a new seed, so CI explores instead of repeating one path; it is printed. A failure names
 * its seed and a shrunk sequence. To replay: MODEL_SEED=<seed> npx vitest run tests/silo/model.test.ts,
 * or MODEL_OPS='<the printed sequence>' for the shrunk one.
 */
import { describe, expect, it } from 'vitest';

import { parseOps, runModel, runSequence } from '../helpers/model';

const seed = process.env.MODEL_SEED !== undefined ? Number(process.env.MODEL_SEED) : Math.floor(Math.random() * 2 ** 31);
const ops = process.env.MODEL_OPS;

describe('model-based suite (short profile)', () => {
    it(`loses nothing and shows nothing uncommitted across random operations and faults (seed ${seed})`, async () => {
        if (ops !== undefined) {
            const failed = await runSequence(parseOps(ops));
            if (failed !== null) throw failed.error;
            return;
        }
        console.log(`model-based suite: seed ${seed} (replay with MODEL_SEED=${seed})`);
        const report = await runModel({ seed, runs: 1, steps: 60, fullCheckEvery: 15, shrinkMs: 120_000 });
        expect(report.runs).toBe(1);
        expect(report.operations).toBe(60);
        expect(report.faults).toBeGreaterThan(0);
    }, 360_000);
});
