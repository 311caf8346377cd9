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
    ]),
    // Seed 985929849, run 24 (22 operations, shrunk): a finish cut short by a bucket stop, and then a put
    // the bucket refuses: the session is still sealed (the re-open was lost), which the model had not
    // expected.
    'a put refused after a re-open was lost': '[{"kind":"begin","user":1,"size":8862,"chunkSize":4096,"checkpoints":true,"public":false,"seed":325202},{"kind":"upload","user":1,"size":7533,"chunkSize":2048,"checkpoints":false,"public":false,"seed":567739},{"kind":"refuelBuckets"},{"kind":"putAll","session":396087,"order":"forward","duplicate":true},{"kind":"list","user":1,"owner":2,"limit":4},{"kind":"startBucket","bucket":0},{"kind":"finish","session":999998},{"kind":"upload","user":1,"size":5359,"chunkSize":4096,"checkpoints":false,"public":false,"seed":261263},{"kind":"download","asset":885318,"user":0},{"kind":"begin","user":1,"size":10340,"chunkSize":4096,"checkpoints":false,"public":false,"seed":999982},{"kind":"putAll","session":6,"order":"forward","duplicate":false},{"kind":"putAll","session":371437,"order":"concurrent","duplicate":false},{"kind":"finish","session":2},{"kind":"upload","user":1,"size":5322,"chunkSize":1024,"checkpoints":true,"public":false,"seed":242758},{"kind":"timeJump","span":"minutes"},{"kind":"begin","user":2,"size":121,"chunkSize":1024,"checkpoints":false,"public":true,"seed":999998},{"kind":"upload","user":1,"size":2982,"chunkSize":1024,"checkpoints":false,"public":true,"seed":770806},{"kind":"put","session":3,"chunk":781399,"corrupt":true},{"kind":"begin","user":1,"size":12288,"chunkSize":1024,"checkpoints":false,"public":true,"seed":54681},{"kind":"download","asset":10,"user":2},{"kind":"finishThenStop","session":909306,"ticks":3},{"kind":"put","session":15,"chunk":3,"corrupt":false}]'
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
