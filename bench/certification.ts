/**
 * Response certification at scale (issue 20).
 *
 * Measured on the real bucket Wasm (IC metering, with the verifier, so chunk digests come from the
 * read-back): the instructions to certify an asset of ~10^3 chunks (its commit plus the timer messages
 * that finish it), per chunk and extrapolated to a 1 GiB asset of 1.9 MiB chunks; one certified 206's
 * `http_request` instructions and witness bytes; an upgrade's instructions.
 *
 * Synthetic (the same Merkle map code in Node over an in-memory store): node reads, writes and witness
 * bytes of one certification at 10^3 and 10^6 labels, and what an upgrade reads at 10^6 — the canister
 * figures at 10^6 are the 10^3 ones scaled by those operation counts.
 */
import { createHash } from 'node:crypto';

import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { PocketIc } from '../replica';
import { ReplicaKeys, StateCertifier } from '../replica/http';
import { encodeTree } from '../shared/certification';
import { HttpCertification, responseHash } from '../shared/certification/http';
import type { NodeStore } from '../shared/certification/tree';
import { MAX_CHUNK_SIZE } from '../shared/constants';
import { bucketIdlFactory } from '../shared/idl';
import { sha256 } from '../shared/sha256';
import { HttpResponse } from '../shared/types';
import type { TestPic } from '../tests/helpers/pic';
import { bytes, deploySilo, identity, type Service, upgradeBucket, upload } from '../tests/helpers/silo';
import { billions, n, table, type Log } from './report';

const millions = (value: number): string => `${(value / 1e6).toFixed(1)} M`;

const QUERY_LIMIT = 5_000_000_000;
const UPDATE_LIMIT = 40_000_000_000;

/** A store over a JS Map that counts reads and writes (MemoryMap's sorted array is O(n) per insert). */
class CountingStore implements Partial<NodeStore> {
    private readonly map = new Map<string, Uint8Array>();
    reads = 0;
    writes = 0;
    private key([ns, id]: [bigint, number]): string {
        return `${ns}:${id}`;
    }
    get(key: [bigint, number]): Uint8Array | undefined {
        this.reads++;
        return this.map.get(this.key(key));
    }
    insert(key: [bigint, number], value: Uint8Array): Uint8Array | undefined {
        this.writes++;
        const previous = this.map.get(this.key(key));
        this.map.set(this.key(key), value.slice());
        return previous;
    }
    remove(key: [bigint, number]): Uint8Array | undefined {
        this.writes++;
        const previous = this.map.get(this.key(key));
        this.map.delete(this.key(key));
        return previous;
    }
    containsKey(key: [bigint, number]): boolean {
        return this.map.has(this.key(key));
    }
    len(): number {
        return this.map.size;
    }
}

const fixed = () => [sha256(Uint8Array.of(1))];

function synthetic(log: Log, sizes: number[]): { rows: string[][]; opsPerChunk: Map<number, number> } {
    const rows: string[][] = [];
    const opsPerChunk = new Map<number, number>();
    for (const size of sizes) {
        const store = new CountingStore();
        const cert = new HttpCertification(store as unknown as NodeStore);
        cert.setFixed(fixed(), fixed());
        const started = performance.now();
        // One asset of `size` chunks: its response map holds `size` labels (the ids' map behaves alike).
        const id = 7n;
        // Labels as random as response hashes (node:crypto makes them; the map's own hashing is the code measured).
        for (let i = 0; i < size; i++) cert.addResponse(id, new Uint8Array(createHash('sha256').update(`response ${i}`).digest()));
        cert.publish(id);
        const buildSeconds = (performance.now() - started) / 1000;
        const probe = responseHash(206, [['Content-Range', 'bytes probe']], sha256(Uint8Array.of(9)));
        store.reads = store.writes = 0;
        cert.addResponse(id, probe);
        cert.publish(id);
        const ops = store.reads + store.writes;
        opsPerChunk.set(size, ops);
        const certifyOps = `${store.reads} reads, ${store.writes} writes`;
        store.reads = store.writes = 0;
        const witness = encodeTree(cert.witness({ kind: 'asset', id, exact: false }, probe)).length;
        const witnessReads = store.reads;
        store.reads = store.writes = 0;
        const absent = encodeTree(cert.witness({ kind: 'unknown', absent: [new TextEncoder().encode('123456'), new Uint8Array()] }, fixed()[0])).length;
        store.reads = store.writes = 0;
        // What an upgrade does: re-check the fixed sets and read the root.
        cert.setFixed(fixed(), fixed());
        cert.rootHash();
        const upgradeOps = store.reads + store.writes;
        rows.push([n(size), certifyOps, `${n(witnessReads)} reads, ${n(witness)} B`, `${n(absent)} B`, n(upgradeOps), `${buildSeconds.toFixed(1)} s`]);
    }
    log('  Synthetic (shared/certification in Node, one asset of n chunks; each chunk one response label):');
    table(log, ['chunks n', 'certify one more chunk + publish', 'witness of a chunk', 'absence witness', 'upgrade node ops', 'built in'], rows);
    return { rows, opsPerChunk };
}

export async function certificationBench(log: Log = console.log): Promise<void> {
    const pic = await PocketIc.create();
    const keys = ReplicaKeys.generate();
    StateCertifier.attach(pic.replica, keys);
    const silo = await deploySilo(Object.assign(pic, { kind: 'replica' as const }) as unknown as TestPic, { verifier: true });
    const user = identity('bench-cert');
    const CHUNKS = 1000;
    const CHUNK = 4096;
    const bucket = silo.buckets[0];

    const execs: { kind: string; method: string; instructions: number }[] = [];
    pic.replica.getCanister(bucket)!.observer = (_c, exec) => execs.push({ kind: exec.kind, method: exec.options.method ?? '', instructions: Number(exec.instructions) });

    // Uploaded and verified first; the count starts with the index's finish_upload (the commit).
    const { asset } = await upload(silo, user, bytes(CHUNKS * CHUNK, 3), { chunkSize: CHUNK, visibility: { public: null }, contentType: 'video/mp4', name: 'bench.mp4' });
    const actor = pic.createActor<Service>(bucketIdlFactory, bucket);
    actor.setPrincipal(Principal.anonymous());
    const get = (url: string, headers: [string, string][] = []) => actor.http_request({ method: 'GET', url, headers, body: new Uint8Array(), certificate_version: [2] });
    const commitAt = execs.findIndex((e) => e.method === 'c2c_commit_session');
    for (let i = 0; i < 200 && (await get(`/a/${asset.id}`)).status_code === 503; i++) {
        await pic.advanceTime(1000);
        await pic.tick();
    }
    // Azle runs timer callbacks in a self-call (`<ic-cdk internal> timer_executor`): that is where the work is.
    const certifying = execs.slice(commitAt).filter((e) => e.method === 'c2c_commit_session' || e.kind === 'T' || e.method.includes('timer_executor'));
    const certifyTotal = certifying.reduce((sum, e) => sum + e.instructions, 0);
    log(`  messages after the commit: ${certifying.map((e) => `${e.kind}:${e.method || 'timer'} ${billions(e.instructions)}`).join(', ')}`);
    const commit = certifying[0]?.instructions ?? 0;
    const perChunk = certifyTotal / CHUNKS;
    const gibChunks = Math.ceil(2 ** 30 / MAX_CHUNK_SIZE);

    execs.length = 0;
    const reply: HttpResponse = await get(`/a/${asset.id}/bench.mp4`, [['Range', `bytes=${500 * CHUNK + 7}-`]]);
    const response = execs.find((e) => e.method === 'http_request')!.instructions;
    const header = reply.headers.find(([name]) => name === 'IC-Certificate')![1];
    const tree = Buffer.from(/tree=:([^:]*):/.exec(header)![1], 'base64').length;
    const certificate = Buffer.from(/certificate=:([^:]*):/.exec(header)![1], 'base64').length;
    const replyBytes = IDL.encode([HttpResponse], [reply]).byteLength;

    execs.length = 0;
    await upgradeBucket(silo, bucket);
    const upgrade = execs.reduce((sum, e) => sum + e.instructions, 0);
    await pic.tearDown();

    log(`  Real bucket Wasm, verifier digests, one asset of ${n(CHUNKS)} chunks of ${CHUNK} B:`);
    table(log, ['what', 'instructions', 'limit'], [
        [`certify ${n(CHUNKS)} chunks (commit + ${certifying.length - 1} timer executions)`, billions(certifyTotal), ''],
        ['  of which in the commit message (16 chunks and the commit)', billions(commit), `${((100 * commit) / UPDATE_LIMIT).toFixed(2)}% of 40 B`],
        ['  per chunk (2 responses: inline and ?download)', millions(perChunk), ''],
        [`  a 1 GiB asset (${gibChunks} chunks of 1.9 MiB; cost per chunk, not per byte)`, billions(perChunk * gibChunks), `${Math.ceil(gibChunks / 128)} timer messages`],
        [`one certified 206 (chunk 500 of ${CHUNK} B), http_request`, billions(response), `${((100 * response) / QUERY_LIMIT).toFixed(2)}% of 5 B`],
        ['  its witness (tree) / certificate / whole reply', `${n(tree)} B / ${n(certificate)} B / ${n(replyBytes)} B`, ''],
        ['upgrade (all executions of install_code)', billions(upgrade), `${((100 * upgrade) / UPDATE_LIMIT).toFixed(2)}% of 40 B`]
    ]);
    const { opsPerChunk } = synthetic(log, [1_000, 1_000_000]);
    const scale = (opsPerChunk.get(1_000_000) ?? 0) / (opsPerChunk.get(1_000) ?? 1);
    log(`  At 10^6 chunks one more chunk costs ${scale.toFixed(2)}x the node operations of 10^3: ~${millions(perChunk * scale)} instructions a chunk in the canister;`);
    log('  an upgrade reads the same few nodes whatever n (no per-chunk work).');
}
