/**
 * The model-based suite's long profile (tests/helpers/model.ts): many seeded runs of random operations
 * and faults on the real Wasm, invariants after every step, over one seed or many. Prints per seed how
 * many operations and faults ran with nothing lost, or its failure: the seed, the run and the failing
 * sequence shrunk to a few operations (replayable with MODEL_SEED or MODEL_OPS, see model.test.ts).
 *
 *     npm run soak                                   default: seed 20261127, 12 runs of 120 operations
 *     npm run soak -- --seeds 10                     10 seeds (20261127, 20261128, ...), each that profile
 *     npm run soak -- --runs 30 --steps 150 --seed 4242 --minutes 12
 *     npm run soak -- --seed-list 11,23,42 --runs 30 --steps 150
 *     npx tsx bench/index.ts soak                    as a bench section (the same defaults)
 *
 * `--minutes` bounds each seed (runs in progress complete); `--shrink-minutes` the shrinking of a failure.
 * The exit code is 1 when any seed failed.
 */
import { pathToFileURL } from 'node:url';

import { type ModelReport, ModelRunFailure, runModel } from '../tests/helpers/model';
import { type Log, n, table } from './report';

export interface SoakOptions {
    seeds: number[];
    runs: number;
    steps: number;
    minutes: number;
    shrinkMinutes: number;
}

function options(argv: string[]): SoakOptions {
    const raw = (name: string): string | undefined => {
        const i = argv.indexOf(`--${name}`);
        return i >= 0 ? argv[i + 1] : process.env[`SOAK_${name.toUpperCase().replace(/-/g, '_')}`];
    };
    const get = (name: string, fallback: number): number => Number(raw(name) ?? fallback);
    const first = get('seed', 20261127);
    const list = raw('seed-list');
    const seeds = list !== undefined ? list.split(',').map(Number) : Array.from({ length: get('seeds', 1) }, (_, i) => first + i);
    if (seeds.some((s) => !Number.isSafeInteger(s))) throw new Error(`soak: seeds must be integers, got ${seeds.join(',')}`);
    return { seeds, runs: get('runs', 12), steps: get('steps', 120), minutes: get('minutes', 60), shrinkMinutes: get('shrink-minutes', 10) };
}

export function printReport(log: Log, report: ModelReport, seconds: number): void {
    log(`  seed ${report.seed}: ${report.runs} runs, ${n(report.operations)} operations (${n(report.skipped)} had no target), ${n(report.faults)} faults, in ${seconds.toFixed(0)} s`);
    log(
        `  committed ${n(report.committed)} assets (${n(report.committedBytes)} bytes), ${n(report.downloads)} whole downloads compared, ` +
            `${n(report.invariantChecks)} invariant checks, ${n(report.drains)} task drains, ${n(report.injectedTraps)} injected traps`
    );
    table(
        log,
        ['operation', 'count'],
        Object.entries(report.byKind)
            .sort((a, b) => b[1] - a[1])
            .map(([k, v]) => [k, v])
    );
    log('  nothing lost: every invariant held after every step');
}

/** Soaks every seed in turn; returns the seeds that failed. */
export async function soakBench(log: Log, argv: string[] = []): Promise<number[]> {
    const o = options(argv);
    log(`  ${o.seeds.length} seed(s) × ${o.runs} runs × ${o.steps} operations, at most ${o.minutes} min per seed`);
    const failed: number[] = [];
    const summary: [string, string, string, string, string][] = [];
    for (const seed of o.seeds) {
        const started = performance.now();
        try {
            const report = await runModel({
                seed,
                runs: o.runs,
                steps: o.steps,
                fullCheckEvery: 20,
                timeLimitMs: o.minutes * 60_000,
                shrinkMs: o.shrinkMinutes * 60_000,
                onFailure: (message) => log(`  seed ${seed}: failed; shrinking (at most ${o.shrinkMinutes} min)\n  ${message}`),
                onRun: (r) => log(`  seed ${seed} run ${r.runs}: ${n(r.operations)} operations, ${n(r.faults)} faults, ${n(r.committed)} assets so far`)
            });
            const seconds = (performance.now() - started) / 1000;
            printReport(log, report, seconds);
            summary.push([String(seed), 'passed', n(report.runs), n(report.operations), n(report.faults)]);
        } catch (error) {
            failed.push(seed);
            const message = error instanceof ModelRunFailure ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
            log(`  seed ${seed}: FAILED after ${((performance.now() - started) / 1000).toFixed(0)} s\n  ${message}`);
            summary.push([String(seed), 'FAILED', '', '', '']);
        }
    }
    if (o.seeds.length > 1) table(log, ['seed', 'result', 'runs', 'operations', 'faults'], summary);
    return failed;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
    soakBench((line) => console.log(line), process.argv.slice(2)).then(
        (failed) => process.exit(failed.length > 0 ? 1 : 0),
        (error) => {
            console.error(error);
            process.exit(1);
        }
    );
}
