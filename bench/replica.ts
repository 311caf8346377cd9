/**
 * Replica figures (issue 2): how long creating and installing an Azle canister takes, update calls per
 * second on a trivial method, and the replica's own overhead around one 1.9 MB `put` (message set-up,
 * heap checkpoint, stable memory transaction, commit) as a share of the message's time.
 */
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { PocketIc } from '../replica';
import type { ExecutionTiming } from '../replica/canister';
import { MAX_CHUNK_SIZE } from '../shared/constants';
import { probeArg, PROBE_WASM } from '../tests/replica/probe';
import { median, ms, n, table, type Log } from './report';

const controller = Principal.fromUint8Array(Uint8Array.of(0x4e, 0x91));

export async function replicaBench(log: Log = console.log): Promise<void> {
    const pic = await PocketIc.create();
    // Create + install: the first includes instrumenting and compiling the module (cached afterwards).
    const installs: number[] = [];
    let canisterId = Principal.anonymous();
    for (let i = 0; i < 6; i++) {
        const t = performance.now();
        canisterId = await pic.createCanister({ sender: controller, controllers: [controller] });
        await pic.installCode({ canisterId, wasm: PROBE_WASM, arg: probeArg('bench'), sender: controller });
        installs.push(performance.now() - t);
    }

    // Update calls per second on `inc` (a counter increment).
    const none = new Uint8Array(IDL.encode([], []));
    for (let i = 0; i < 20; i++) await pic.updateCall({ canisterId, method: 'inc', arg: none, sender: controller });
    const calls = 300;
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) await pic.updateCall({ canisterId, method: 'inc', arg: none, sender: controller });
    const perSecond = calls / ((performance.now() - t0) / 1000);

    // One 1.9 MB put: where the message's wall time goes.
    const canister = pic.replica.getCanister(canisterId)!;
    let timing: ExecutionTiming | null = null;
    canister.observer = (_c, _e, _t, t) => (timing = t);
    const value = new Uint8Array(MAX_CHUNK_SIZE).fill(7);
    const shares: { total: number; timing: ExecutionTiming }[] = [];
    for (let i = 0; i < 17; i++) {
        const arg = new Uint8Array(IDL.encode([IDL.Nat64, IDL.Vec(IDL.Nat8)], [BigInt(i % 3), value]));
        const t = performance.now();
        await pic.updateCall({ canisterId, method: 'put', arg, sender: controller });
        shares.push({ total: performance.now() - t, timing: timing! });
    }
    canister.observer = null;
    const heapMiB = (canister.instance?.heapBytes ?? 0) / (1024 * 1024);
    const measured = shares.slice(2); // after warm-up
    if (process.env.SILO_BENCH_DEBUG) for (const s of measured) console.log(s.total.toFixed(1), s.timing);
    // The median message, with its own split (medians of the parts would not add up).
    const mid = [...measured].sort((a, b) => a.total - b.total)[measured.length >> 1];
    const total = mid.total;
    const entry = mid.timing.entry;
    const setup = mid.timing.setup;
    const settle = mid.timing.settle;
    const overhead = total - entry;
    await pic.tearDown();

    log('Replica');
    table(
        log,
        ['figure', 'value'],
        [
            ['create + install an Azle canister (first, incl. instrument + compile)', ms(installs[0])],
            ['create + install an Azle canister (module cached, median)', ms(median(installs.slice(1)))],
            ['update calls per second (probe inc)', n(perSecond)],
            [`1.9 MB put (${n(MAX_CHUNK_SIZE)} bytes): message wall time (median)`, ms(total)],
            ['  of which Wasm execution', ms(entry)],
            [`  of which heap checkpoint (${heapMiB.toFixed(0)} MiB heap) + stable begin`, ms(setup)],
            ['  of which commit / rollback + settlement', ms(settle)],
            ['  replica overhead (everything but execution) / message time', `${((overhead / total) * 100).toFixed(1)}% (target < 10%) ${overhead / total < 0.1 ? 'OK' : 'FAILED'}`]
        ]
    );
}
