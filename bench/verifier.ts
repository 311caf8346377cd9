/**
 * Native verification (issue 14), side by side with the in-canister path in one run: the same 64 MiB
 * upload through the client library on the embedded network (EmbeddedSilo, real Wasm, IC metering and
 * fees), once with the verifier canister and once with buckets hashing in QuickJS. Reports the cycles per
 * GiB stored against the ingress floor, end-to-end wall time, the time from the last put_chunk to the
 * committed asset, the verifier's instructions per byte, and the estimated time to verify 1 GiB on the IC
 * (measured verification instructions, 2 B instructions per round per canister, ~1 round per second).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { EmbeddedSilo } from '../client/embedded';
import { SiloClient } from '../client/silo';
import { MAX_CHUNK_SIZE } from '../shared/constants';
import { Fees } from '../replica/fees';
import type { ExecutionObserver } from '../replica/canister';
import { bytes } from '../tests/helpers/bytes';
import { billions, ms, n, table, type Log } from './report';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/** Instructions one canister may execute per round on the IC (the scheduler's round limit). */
const ROUND_INSTRUCTIONS = 2e9;

interface Run {
    path: string;
    wall: number;
    tail: number;
    cycles: bigint;
    /** Instructions spent verifying: the bucket's read-back (timers, callbacks, c2c_hash_chunk, c2c_verify_session) and the verifier. */
    verifyInstructions: { bucket: number; verifier: number; largestBucketMessage: number };
    putPerByte: number;
}

const VERIFY_METHODS = /c2c_hash_chunk|c2c_verify_session|timer|global_timer/;

async function run(path: 'verifier' | 'in-canister', data: Uint8Array): Promise<Run> {
    const dir = mkdtempSync(join(tmpdir(), `silo-verifier-bench-${path}-`));
    const silo = await EmbeddedSilo.open(join(dir, 'state'), { verifier: path === 'verifier' });
    try {
        const replica = silo.pic.replica;
        const counts = { bucket: 0, verifier: 0, largestBucketMessage: 0, put: 0 };
        const indexText = silo.indexId.toText();
        for (const canister of replica.canisters.values()) {
            const role = canister.id.toText() === indexText ? 'index' : canister.module !== null && canister.hasExport('canister_update absorb') ? 'verifier' : 'bucket';
            const observer: ExecutionObserver = (_c, exec) => {
                const method = exec.options.method ?? exec.callContext?.method ?? exec.kind;
                const instructions = Number(exec.instructions);
                if (role === 'verifier') counts.verifier += instructions;
                if (role !== 'bucket') return;
                if (method === 'put_chunk' && exec.options.method !== undefined) counts.put += instructions;
                else if (VERIFY_METHODS.test(method) || exec.options.method === undefined) {
                    counts.bucket += instructions;
                    counts.largestBucketMessage = Math.max(counts.largestBucketMessage, instructions);
                }
            };
            canister.observer = observer;
        }
        const burned = () => [...replica.canisters.values()].reduce((sum, c) => sum + c.cyclesBurned, 0n);
        const client = new SiloClient({ transport: silo.transport(), indexId: silo.indexId });
        const before = burned();
        let lastPut = 0;
        const t0 = performance.now();
        const asset = await client.upload(data, {
            chunkSize: MAX_CHUNK_SIZE,
            // A chunk the bucket acknowledged: the last one marks the end of sending.
            onProgress: (p) => {
                if (p.phase === 'sending' && p.chunkIndex !== undefined) lastPut = performance.now();
            }
        });
        const end = performance.now();
        if (asset.size !== BigInt(data.length)) throw new Error('upload did not store the whole file');
        return {
            path,
            wall: end - t0,
            tail: end - lastPut,
            cycles: burned() - before,
            verifyInstructions: { bucket: counts.bucket, verifier: counts.verifier, largestBucketMessage: counts.largestBucketMessage },
            putPerByte: counts.put / data.length
        };
    } finally {
        silo.close();
        rmSync(dir, { recursive: true, force: true });
    }
}

export async function verifierBench(log: Log = console.log): Promise<void> {
    const size = Number(process.env.SILO_BENCH_VERIFY_MIB ?? 64) * MIB;
    const data = bytes(size, 14);
    log(`${size / MIB} MiB upload, 1.9 MiB chunks, SiloClient on the embedded network (in-process replica, IC metering and fees)`);
    const native = await run('verifier', data);
    log(`  (native path done: ${ms(native.wall)}; now the in-canister path)`);
    const quickjs = await run('in-canister', data);
    const floor = Number(Fees.ingressByteReception);
    const perGib = (r: Run) => (Number(r.cycles) * GIB) / size;
    const verifyPerByte = (r: Run) => (r.verifyInstructions.bucket + r.verifyInstructions.verifier) / size;
    // The bucket's and the verifier's shares run on different canisters, each with its own round budget.
    const icSecondsPerGib = (r: Run) => (Math.max(r.verifyInstructions.bucket, r.verifyInstructions.verifier) * (GIB / size)) / ROUND_INSTRUCTIONS;
    const row = (label: string, f: (r: Run) => string) => [label, f(native), f(quickjs)];
    table(log, ['figure', 'native verifier', 'in-canister (QuickJS)'], [
        row('cycles per GiB stored', (r) => n(perGib(r))),
        row('x ingress floor (2,000 cycles/byte; target <= 1.8)', (r) => (perGib(r) / (floor * GIB)).toFixed(2)),
        row('end-to-end wall time (this machine)', (r) => ms(r.wall)),
        row('last put_chunk -> committed asset', (r) => ms(r.tail)),
        row('  share of the upload wall time (target <= 10%)', (r) => `${((100 * r.tail) / r.wall).toFixed(1)}%`),
        row('put_chunk instructions/byte', (r) => r.putPerByte.toFixed(1)),
        row('verification instructions/byte (bucket read-back)', (r) => (r.verifyInstructions.bucket / size).toFixed(1)),
        row('verification instructions/byte (verifier canister)', (r) => (r.verifyInstructions.verifier / size).toFixed(1)),
        row('verification instructions/byte (total)', (r) => verifyPerByte(r).toFixed(1)),
        row('largest bucket verification message', (r) => billions(r.verifyInstructions.largestBucketMessage)),
        row('est. time to verify 1 GiB on the IC (2 B instr./round, ~1 round/s)', (r) => ms(icSecondsPerGib(r) * 1000))
    ]);
    log('');
    const speedup = quickjs.wall / native.wall;
    const ratio = perGib(native) / (floor * GIB);
    log(`verdict: ${ratio.toFixed(2)}x floor (target <= 1.8) ${ratio <= 1.8 ? 'OK' : 'MISSED'}; ${speedup.toFixed(1)}x faster end to end (target >= 4) ${speedup >= 4 ? 'OK' : 'MISSED'}; tail ${((100 * native.tail) / native.wall).toFixed(1)}% of wall time (target <= 10%) ${native.tail <= native.wall / 10 ? 'OK' : 'MISSED'}`);
}
