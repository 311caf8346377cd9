/**
 * What storing files in Silo costs on the IC, measured with the replica's IC metering and fee table
 * (issue 4): instructions of `put_chunk` and of `finish_upload`'s readback-and-hash step at 1.9 MiB
 * chunks, a whole 64 MiB upload through the index (instructions, cycles, wall time), and cycles per GiB
 * stored against the ingress fee floor.
 */
import { IDL } from '@dfinity/candid';

import { PocketIc } from '../replica';
import type { Canister, ExecutionObserver } from '../replica/canister';
import { Fees } from '../replica/fees';
import { DEFAULT_HASH_SLICE_BYTES, MAX_CHUNK_SIZE } from '../shared/constants';
import { HashChunkArgs } from '../shared/types';
import { bytes, deploySilo, identity, upload, type Silo } from '../tests/helpers/silo';
import type { TestPic } from '../tests/helpers/pic';
import { billions, ms, n, table, type Log } from './report';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/** Silo allows itself this much per message (a quarter of the IC's 40 B update limit). */
export const MESSAGE_BUDGET = 10_000_000_000;

interface Record_ {
    canister: 'index' | 'bucket';
    method: string;
    instructions: number;
    /** For c2c_hash_chunk: the chunk and the bytes hashed. */
    chunk?: number;
    hashed?: number;
    trapped: boolean;
}

async function silo(config: { hash_slice_bytes?: number } = {}) {
    const pic = await PocketIc.create();
    const s = await deploySilo(Object.assign(pic, { kind: 'replica' as const }) as unknown as TestPic, {
        config: config.hash_slice_bytes === undefined ? {} : { hash_slice_bytes: [config.hash_slice_bytes] }
    });
    const records: Record_[] = [];
    const watch = (id: string, name: 'index' | 'bucket') => {
        const canister = pic.replica.getCanister(id)!;
        const observer: ExecutionObserver = (_c, exec, trap) => {
            const method = exec.options.method ?? exec.callContext?.method ?? exec.kind;
            const r: Record_ = { canister: name, method: exec.options.method === undefined ? `${method} (${exec.kind})` : method, instructions: Number(exec.instructions), trapped: trap !== null };
            if (method === 'c2c_hash_chunk' && exec.options.arg !== undefined) {
                const [args] = IDL.decode([HashChunkArgs], exec.options.arg) as unknown as [{ index: number; offset: number; length: number }];
                r.chunk = args.index;
                r.hashed = args.length;
            }
            records.push(r);
        };
        canister.observer = observer;
        return canister;
    };
    const index = watch(s.indexId.toText(), 'index');
    const bucket = watch(s.buckets[0].toText(), 'bucket');
    return { pic, silo: s as Silo, records, index, bucket };
}

function burned(...canisters: Canister[]): bigint {
    return canisters.reduce((sum, c) => sum + c.cyclesBurned, 0n);
}

export async function siloCostsBench(log: Log = console.log): Promise<void> {
    const user = identity('bench');
    const chunk = MAX_CHUNK_SIZE;

    // 1. The choice of hash_slice_bytes: one whole chunk read back in one message, and in the default slices.
    log(`Readback of one ${(chunk / MIB).toFixed(2)} MiB chunk (${n(chunk)} bytes) per message, by hash_slice_bytes`);
    const sliceRows: string[][] = [];
    for (const slice of [0, DEFAULT_HASH_SLICE_BYTES]) {
        const w = await silo({ hash_slice_bytes: slice });
        await upload(w.silo, user, bytes(chunk, 3), { chunkSize: chunk });
        const hashes = w.records.filter((r) => r.method === 'c2c_hash_chunk');
        const max = Math.max(...hashes.map((r) => r.instructions));
        sliceRows.push([
            slice === 0 ? '0 (whole chunk)' : `${n(slice)}${slice === DEFAULT_HASH_SLICE_BYTES ? ' (default)' : ''}`,
            String(hashes.length),
            billions(max),
            max <= MESSAGE_BUDGET ? 'yes' : 'no'
        ]);
        await w.pic.tearDown();
    }
    table(log, ['hash_slice_bytes', 'messages', 'max instructions/message', '<= 10 B'], sliceRows);
    log('');

    // 2. A whole 64 MiB upload through the index, default configuration.
    const size = 64 * MIB;
    const data = bytes(size, 11);
    const w = await silo();
    const before = burned(w.index, w.bucket);
    const t0 = performance.now();
    const { asset } = await upload(w.silo, user, data, { chunkSize: chunk });
    const wall = performance.now() - t0;
    const cycles = burned(w.index, w.bucket) - before;
    if (asset.size !== BigInt(size)) throw new Error('upload did not store the whole file');

    const puts = w.records.filter((r) => r.method === 'put_chunk');
    const fullPuts = puts.slice(0, Math.floor(size / chunk));
    const putPerChunk = fullPuts.reduce((s, r) => s + r.instructions, 0) / fullPuts.length;
    const hashes = w.records.filter((r) => r.method === 'c2c_hash_chunk');
    const perChunk = new Map<number, number>();
    for (const r of hashes) perChunk.set(r.chunk!, (perChunk.get(r.chunk!) ?? 0) + r.instructions);
    const fullChunks = [...perChunk.entries()].filter(([i]) => i < Math.floor(size / chunk)).map(([, v]) => v);
    const hashPerChunk = fullChunks.reduce((s, v) => s + v, 0) / fullChunks.length;
    const instructions = w.records.reduce((s, r) => s + r.instructions, 0);
    const maxRecord = w.records.reduce((m, r) => (r.instructions > m.instructions ? r : m));

    log(`Per chunk of ${n(chunk)} bytes (1.9 MiB), 64 MiB upload, hash_slice_bytes = ${n(DEFAULT_HASH_SLICE_BYTES)}`);
    table(
        log,
        ['step', 'instructions/chunk', 'instructions/byte', 'messages/chunk'],
        [
            ['put_chunk (bucket)', n(putPerChunk), (putPerChunk / chunk).toFixed(1), '1'],
            ['finish_upload readback + hash (bucket c2c_hash_chunk)', n(hashPerChunk), (hashPerChunk / chunk).toFixed(1), String(Math.ceil(chunk / DEFAULT_HASH_SLICE_BYTES))]
        ]
    );
    log('');
    log(`Whole upload of 64 MiB (${puts.length} chunks): begin_upload, ${puts.length} put_chunk, finish_upload`);
    table(
        log,
        ['figure', 'value'],
        [
            ['instructions (all executions, index and bucket)', `${n(instructions)} (${billions(instructions)})`],
            ['cycles charged (executions, ingress, calls)', n(cycles)],
            ['wall time (this machine, in-process replica)', ms(wall)],
            ['executions', String(w.records.length)],
            ['largest message', `${maxRecord.canister} ${maxRecord.method}: ${billions(maxRecord.instructions)} (budget 10 B)`]
        ]
    );
    const perGib = (cycles * BigInt(GIB)) / BigInt(size);
    const floor = Fees.ingressByteReception * BigInt(GIB);
    log('');
    log('Cycles per GiB stored (upload only; storage rent comes on top)');
    table(
        log,
        ['', 'cycles/GiB', 'x floor'],
        [
            ['Silo upload, measured', n(perGib), (Number(perGib) / Number(floor)).toFixed(2)],
            ['IC ingress fee alone (2,000 cycles/byte): the floor', n(floor), '1.00']
        ]
    );
    await w.pic.tearDown();
}
