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

/**
 * Shrunk sequences the soak found, replayed on every run. Each was healthy behaviour the model did not
 * yet expect; they stay so the model keeps expecting it.
 */
const FOUND: Record<string, string> = {
    // Seed 1397518912, run 19: a finish that blames a corrupt chunk while its bucket is being stopped. The
    // index's re-open (which drops the chunk) cannot land; the bucket keeps the session sealed, the bad
    // chunk held, until the next finish. The model had taken the chunk as dropped.
    'a re-open a stopped bucket never heard': JSON.stringify([
        { kind: 'begin', user: 2, size: 2835, chunkSize: 1024, checkpoints: true, public: false, seed: 363747 },
        { kind: 'putAll', session: 381043, order: 'reverse', duplicate: true },
        { kind: 'put', session: 72740, chunk: 16, corrupt: true },
        { kind: 'finishThenStop', session: 993131, ticks: 5 },
        { kind: 'upgradeBucket', bucket: 1 },
        // The client's repair then goes through: finish again (the same mismatch, and this time the re-open
        // lands), send the chunk again, finish.
        { kind: 'finish', session: 0 },
        { kind: 'putAll', session: 0, order: 'forward', duplicate: false },
        { kind: 'finish', session: 0 }
    ])
};

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

    it.each(Object.entries(FOUND))('keeps expecting what the soak found: %s', async (_name, sequence) => {
        const failed = await runSequence(parseOps(sequence));
        if (failed !== null) throw failed.error;
    }, 120_000);
});
