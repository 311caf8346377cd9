/**
 * The model-based suite's long profile (tests/helpers/model.ts): many seeded runs of random operations
 * and faults on the real Wasm, invariants after every step; prints how many operations and faults ran
 * with nothing lost. A failure prints fast-check's report: the seed and the failing sequence.
 *
 *     npm run soak                                   default: 12 runs of 120 operations
 *     npm run soak -- --runs 50 --steps 200 --seed 7 --minutes 30
 *     npx tsx bench/index.ts soak                    as a bench section (the same defaults)
 */
import { pathToFileURL } from 'node:url';

import { type ModelReport, runModel } from '../tests/helpers/model';
import { type Log, n, table } from './report';

export interface SoakOptions {
    seed: number;
    runs: number;
    steps: number;
    minutes: number;
}

function options(argv: string[]): SoakOptions {
    const get = (name: string, fallback: number): number => {
        const i = argv.indexOf(`--${name}`);
        return i >= 0 && argv[i + 1] !== undefined ? Number(argv[i + 1]) : Number(process.env[`SOAK_${name.toUpperCase()}`] ?? fallback);
    };
    return { seed: get('seed', 20261127), runs: get('runs', 12), steps: get('steps', 120), minutes: get('minutes', 60) };
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

export async function soakBench(log: Log, argv: string[] = []): Promise<void> {
    const o = options(argv);
    log(`  ${o.runs} runs × ${o.steps} operations, seed ${o.seed}, at most ${o.minutes} min`);
    const started = performance.now();
    const report = await runModel({
        seed: o.seed,
        runs: o.runs,
        steps: o.steps,
        fullCheckEvery: 20,
        timeLimitMs: o.minutes * 60_000,
        onRun: (r) => log(`  run ${r.runs}: ${n(r.operations)} operations, ${n(r.faults)} faults, ${n(r.committed)} assets so far`)
    });
    printReport(log, report, (performance.now() - started) / 1000);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
    soakBench((line) => console.log(line), process.argv.slice(2)).catch((error) => {
        console.error(error);
        process.exit(1);
    });
}
