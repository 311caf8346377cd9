/**
 * Metering figures (issue 4): the replica's instruction counts against the IC's (Azle's published
 * benchmarks), what instrumentation costs in wall time, and SHA-256 instructions per byte in a canister,
 * `shared/` against `@noble/hashes`.
 */
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { PocketIc } from '../replica';
import { fixtureWasm } from '../tests/helpers/pic';
import { runCalibration } from './calibration';
import { median, ms, n, pct, table, type Log } from './report';

const controller = Principal.fromUint8Array(Uint8Array.of(0xbe, 0x4c));
const Measured = IDL.Record({ digest: IDL.Vec(IDL.Nat8), instructions: IDL.Nat64 });

/** The hash fixture on a fresh replica. */
async function hashbench(instrument = true) {
    const pic = await PocketIc.create(undefined, { instrument });
    const canisterId = await pic.createCanister({ sender: controller, controllers: [controller] });
    await pic.installCode({ canisterId, wasm: fixtureWasm('hashbench'), sender: controller });
    const call = async (method: 'shared' | 'noble', size: number) => {
        const data = await pic.updateCall({ canisterId, method, arg: new Uint8Array(IDL.encode([IDL.Nat32], [size])), sender: controller });
        const [m] = IDL.decode([Measured], data) as unknown as [{ digest: Uint8Array; instructions: bigint }];
        return { digest: Buffer.from(m.digest).toString('hex'), instructions: Number(m.instructions) };
    };
    return { pic, call };
}

/** SHA-256 in the canister: instructions per byte of both implementations on the same bytes. */
export async function sha256InCanister(size = 256 * 1024) {
    const { pic, call } = await hashbench();
    try {
        const shared = await call('shared', size);
        const noble = await call('noble', size);
        if (shared.digest !== noble.digest) throw new Error(`digests differ: shared ${shared.digest}, noble ${noble.digest}`);
        return { size, digest: shared.digest, shared: shared.instructions / size, noble: noble.instructions / size, ratio: shared.instructions / noble.instructions };
    } finally {
        await pic.tearDown();
    }
}

/** Wall time of the same hashing workload with and without instrumentation (median of `runs`). */
export async function instrumentationSlowdown(size = 512 * 1024, runs = 5) {
    const time = async (instrument: boolean) => {
        const { pic, call } = await hashbench(instrument);
        await call('shared', size); // warm-up: compilation tiers, first-call set-up
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
            const t = performance.now();
            await call('shared', size);
            times.push(performance.now() - t);
        }
        await pic.tearDown();
        return median(times);
    };
    // Interleaved, so that a slower phase of the machine hits both.
    const plain1 = await time(false);
    const metered1 = await time(true);
    const plain2 = await time(false);
    const metered2 = await time(true);
    const plain = Math.min(plain1, plain2);
    const metered = Math.min(metered1, metered2);
    return { size, plain, metered, slowdown: metered / plain };
}

export async function meteringBench(log: Log = console.log): Promise<void> {
    log('Calibration: instructions per call, replica vs IC (Azle 0.33.0 benchmarks.md, performance_counter(1))');
    const rows = await runCalibration();
    table(
        log,
        ['example', 'method', 'IC (published)', 'replica', 'deviation'],
        rows.map((r) => [r.example, r.method, n(r.published), n(r.measured), pct(r.deviation)])
    );
    const worst = Math.max(...rows.map((r) => Math.abs(r.deviation)));
    log(`  largest deviation ${pct(worst).replace('+', '')} (target: within 10%) ${worst <= 0.1 ? 'OK' : 'FAILED'}`);
    log('');

    const slow = await instrumentationSlowdown();
    log(`Instrumentation cost: SHA-256 of ${slow.size / 1024} KiB in a canister, median wall time`);
    log(`  un-instrumented ${ms(slow.plain)}, instrumented ${ms(slow.metered)}: slowdown ${slow.slowdown.toFixed(2)}x (target < 2x) ${slow.slowdown < 2 ? 'OK' : 'FAILED'}`);
    log('');

    const sha = await sha256InCanister();
    log(`SHA-256 in a canister (${sha.size / 1024} KiB, same bytes, digest ${sha.digest.slice(0, 16)}... identical)`);
    table(
        log,
        ['implementation', 'instructions/byte'],
        [
            ['shared/sha256.ts', n(sha.shared)],
            ['@noble/hashes sha256', n(sha.noble)]
        ]
    );
    log(`  ratio shared/noble ${sha.ratio.toFixed(3)} (target <= 0.333) ${sha.ratio <= 1 / 3 ? 'OK' : 'FAILED'}`);
}
