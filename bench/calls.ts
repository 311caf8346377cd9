/**
 * What each canister method costs in instructions, over one seeded run of the model-based suite (the
 * same operations and faults as `npm run soak`, so the mix is what Silo's own users and faults produce):
 * per method and context, the calls, the mean and the total, and the share installs take. A regression
 * in a method's per-call cost (such as Candid type tables rebuilt on every call) shows here first.
 *
 *     npx tsx bench/index.ts calls                 seed 20261127, 150 operations
 *     npx tsx bench/index.ts calls --seed 4242 --steps 60
 */
import { Canister } from '../replica/canister';
import { runModel } from '../tests/helpers/model';
import { billions, type Log, n, table } from './report';

/** Kinds of execution, as the replica names them (replica/execution.ts). */
const KIND: Record<string, string> = { I: 'install', G: 'pre_upgrade', U: 'update', NRQ: 'query', RQ: 'query (replicated)', Ry: 'reply callback', Rt: 'reject callback', F: 'inspect_message', T: 'timer', C: 'cleanup', s: 'start' };

export async function callsBench(log: Log, argv: string[] = []): Promise<void> {
    const arg = (name: string, fallback: number) => {
        const i = argv.indexOf(`--${name}`);
        return i >= 0 ? Number(argv[i + 1]) : fallback;
    };
    const seed = arg('seed', 20261127);
    const steps = arg('steps', 150);
    const rows = new Map<string, { calls: number; instructions: bigint; ms: number }>();
    const run = Canister.prototype.run;
    // Counts every execution of every canister while the model runs; restored afterwards.
    Canister.prototype.run = function (this: Canister, exec, entry) {
        const started = performance.now();
        const outcome = run.call(this, exec, entry);
        const name = this.module?.exportedFunctions.includes('canister_query get_chunk') ? 'bucket' : this.module?.exportedFunctions.includes('canister_query get_asset') ? 'index' : 'other';
        const key = `${name} ${KIND[exec.kind] ?? exec.kind} ${exec.options.method ?? ''}`.trim();
        const row = rows.get(key) ?? { calls: 0, instructions: 0n, ms: 0 };
        row.calls++;
        row.instructions += exec.instructions;
        row.ms += performance.now() - started;
        rows.set(key, row);
        return outcome;
    };
    const started = performance.now();
    try {
        await runModel({ seed, runs: 1, steps, fullCheckEvery: 20 });
    } finally {
        Canister.prototype.run = run;
    }
    const seconds = (performance.now() - started) / 1000;
    const total = [...rows.values()].reduce((s, r) => s + r.instructions, 0n);
    const installs = [...rows].filter(([k]) => k.includes(' install')).reduce((s, [, r]) => s + r.instructions, 0n);
    log(`  seed ${seed}, ${steps} operations in ${seconds.toFixed(1)} s: ${billions(total)} instructions in all, ${billions(installs)} of them installing and upgrading (${((Number(installs) / Number(total)) * 100).toFixed(0)}%)`);
    table(
        log,
        ['canister, context, method', 'calls', 'mean instructions', 'total', 'ms in all'],
        [...rows]
            .sort((a, b) => Number(b[1].instructions - a[1].instructions))
            .slice(0, 24)
            .map(([k, r]) => [k, r.calls, n(r.instructions / BigInt(r.calls)), billions(r.instructions), r.ms.toFixed(0)])
    );
}
