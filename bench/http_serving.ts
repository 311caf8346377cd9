/**
 * HTTP serving (issue 12): instructions of `http_request` per response and per served byte, measured
 * with the replica's IC metering on the real bucket Wasm: a 206 part of a whole 1.9 MiB chunk, a ranged
 * part inside a chunk, a small 200, a 304 and a private asset's token check. Each is checked against
 * the 5 B query instruction limit and the 3 MiB reply limit. Then MiB/s of a 64 MiB file served through
 * the local gateway.
 */
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { request } from 'node:http';

import { PocketIc } from '../replica';
import { ReplicaKeys, StateCertifier } from '../replica/http';
import { close, createSiloServer, listen } from '../replica/http/server';
import type { ExecutionObserver } from '../replica/canister';
import { MAX_CHUNK_SIZE } from '../shared/constants';
import { bucketIdlFactory } from '../shared/idl';
import { toHex } from '../shared/sha256';
import { type AssetUrl, HttpResponse } from '../shared/types';
import type { TestPic } from '../tests/helpers/pic';
import { bytes, deploySilo, identity, type Service, unwrap, upload } from '../tests/helpers/silo';
import { billions, ms, n, table, type Log } from './report';

const QUERY_LIMIT = 5_000_000_000;
const REPLY_LIMIT = 3 * 1024 * 1024;

export async function httpServingBench(log: Log = console.log): Promise<void> {
    const pic = await PocketIc.create();
    const silo = await deploySilo(Object.assign(pic, { kind: 'replica' as const }) as unknown as TestPic);
    const user = identity('bench');
    const chunk = MAX_CHUNK_SIZE;
    const large = (await upload(silo, user, bytes(3 * chunk + 1000, 5), { chunkSize: chunk, visibility: { public: null }, contentType: 'video/mp4' })).asset;
    const small = (await upload(silo, user, bytes(10 * 1024, 6), { chunkSize: chunk, visibility: { public: null }, contentType: 'image/png' })).asset;
    const hidden = (await upload(silo, user, bytes(10 * 1024, 7), { chunkSize: chunk, visibility: { private: null } })).asset;
    const url = unwrap<AssetUrl>(await silo.index(user).asset_url(hidden.id, [600]));

    let last = 0;
    const observer: ExecutionObserver = (_c, exec) => {
        if ((exec.options.method ?? '') === 'http_request') last = Number(exec.instructions);
    };
    pic.replica.getCanister(silo.buckets[0])!.observer = observer;
    const actor = pic.createActor<Service>(bucketIdlFactory, silo.buckets[0]);
    actor.setPrincipal(Principal.anonymous());
    const get = async (path: string, headers: [string, string][] = []) => {
        const reply: HttpResponse = await actor.http_request({ method: 'GET', url: path, headers, body: new Uint8Array(), certificate_version: [2] });
        const replyBytes = IDL.encode([HttpResponse], [reply]).byteLength;
        return { reply, instructions: last, replyBytes };
    };

    const cases: [string, string, [string, string][]][] = [
        [`206, first part of a ${(large.size / 1024n / 1024n).toString()} MiB file (one ${n(chunk)}-byte chunk)`, `/a/${large.id}/clip.mp4`, []],
        ['206, Range bytes=1000000-1099999 (100 kB inside a chunk)', `/a/${large.id}`, [['Range', 'bytes=1000000-1099999']]],
        ['206, Range of the last partial chunk (1,000 bytes)', `/a/${large.id}`, [['Range', `bytes=${3 * chunk}-`]]],
        ['200, small file (10 KiB)', `/a/${small.id}/pic.png`, []],
        ['304, If-None-Match', `/a/${large.id}`, [['If-None-Match', `"${toHex(large.sha256)}"`]]],
        ['200, private 10 KiB file with a URL token (HMAC check)', url.path, []],
        ['404, unknown id', '/a/999999', []]
    ];
    const rows: string[][] = [];
    for (const [name, path, headers] of cases) {
        const { reply, instructions, replyBytes } = await get(path, headers);
        const body = reply.body.length;
        rows.push([
            name,
            String(reply.status_code),
            n(body),
            n(instructions),
            body > 0 ? (instructions / body).toFixed(1) : '-',
            billions(instructions),
            instructions < QUERY_LIMIT / 4 && replyBytes <= (REPLY_LIMIT * 2) / 3 ? 'yes' : 'NO'
        ]);
    }
    log('http_request on the bucket (one query each, IC metering of the real Wasm)');
    table(log, ['response', 'status', 'body bytes', 'instructions', 'instr/byte', '', '< 1/4 of 5 B, reply <= 2 MiB'], rows);
    await pic.tearDown();
    log('');
    await gatewayThroughput(log);
}

/** One GET through the gateway on `host`; resolves with the body's length and the time it took. */
function timedGet(base: URL, host: string, path: string): Promise<{ status: number; bytes: number; ms: number }> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
        const req = request({ host: base.hostname, port: base.port, path, headers: { host: `${host}:${base.port}` } }, (res) => {
            let bytes = 0;
            res.on('data', (chunk: Buffer) => (bytes += chunk.length));
            res.on('end', () => resolve({ status: res.statusCode!, bytes, ms: performance.now() - started }));
            res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
    });
}

/** MiB/s of a 64 MiB public file served through the local gateway (206 parts reassembled), verified and raw. */
async function gatewayThroughput(log: Log): Promise<void> {
    const pic = await PocketIc.create();
    const keys = ReplicaKeys.generate();
    StateCertifier.attach(pic.replica, keys);
    const silo = await deploySilo(Object.assign(pic, { kind: 'replica' as const }) as unknown as TestPic);
    const size = 64 * 1024 * 1024;
    const asset = (await upload(silo, identity('bench'), bytes(size, 9), { chunkSize: MAX_CHUNK_SIZE, visibility: { public: null } })).asset;
    const server = createSiloServer({ caller: pic, rootKey: () => keys.rootKey });
    const base = new URL(await listen(server, '127.0.0.1', 0));
    const rows: string[][] = [];
    for (const [name, host] of [
        ['<bucket>.localhost (each part verified)', `${asset.bucket.toText()}.localhost`],
        ['<bucket>.raw.localhost (unverified)', `${asset.bucket.toText()}.raw.localhost`]
    ]) {
        const result = await timedGet(base, host, `/a/${asset.id}/movie.bin`);
        if (result.status !== 200 || result.bytes !== size) throw new Error(`gateway answered ${result.status} with ${result.bytes} bytes`);
        rows.push([name, String(asset.chunk_count), ms(result.ms), ((size / 1024 / 1024) / (result.ms / 1000)).toFixed(1)]);
    }
    log(`64 MiB public file through the local gateway (in-process replica, this machine; ${asset.chunk_count} queries of one chunk each)`);
    table(log, ['host', 'queries', 'wall time', 'MiB/s'], rows);
    await close(server);
    await pic.tearDown();
}
