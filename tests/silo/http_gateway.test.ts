/**
 * Silo's HTTP serving end to end: `curl` through the local gateway (certified host, so every response
 * is checked with @dfinity/response-verification) against the real bucket Wasm on the certified replica,
 * and the skip-certification headers verified directly with @dfinity/response-verification.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { promisify } from 'node:util';

import { IDL } from '@dfinity/candid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ReplicaTransport, SiloClient } from '../../client';
import { PocketIc } from '../../replica';
import { ReplicaKeys, StateCertifier } from '../../replica/http';
import { close, createSiloServer, listen } from '../../replica/http/server';
import { CERT_EXPRESSION } from '../../shared/certification/http';
import { type Asset, type AssetUrl, HttpRequest, HttpResponse } from '../../shared/types';
import type { TestPic } from '../helpers/pic';
import { bytes, deploySilo, identity, type Silo, unwrap, upload } from '../helpers/silo';

const run = promisify(execFile);
const verifier = createRequire(import.meta.url)('@dfinity/response-verification') as typeof import('@dfinity/response-verification');
const alice = identity('alice');
const CHUNK = 64 * 1024;

let pic: PocketIc;
let silo: Silo;
let server: Server;
let base: URL;
let rootKey: Uint8Array;
let big: { asset: Asset; data: Uint8Array };
let hidden: { asset: Asset; data: Uint8Array };

beforeAll(async () => {
    pic = await PocketIc.create();
    const keys = ReplicaKeys.generate();
    StateCertifier.attach(pic.replica, keys);
    rootKey = keys.rootKey;
    silo = await deploySilo(Object.assign(pic, { kind: 'replica' as const }) as unknown as TestPic);
    const data = bytes(4 * CHUNK + 1234, 41);
    big = { asset: (await upload(silo, alice, data, { chunkSize: CHUNK, visibility: { public: null }, name: 'big.bin' })).asset, data };
    const secret = bytes(CHUNK + 10, 42);
    hidden = { asset: (await upload(silo, alice, secret, { chunkSize: CHUNK, visibility: { private: null }, name: 'secret.bin' })).asset, data: secret };
    server = createSiloServer({ caller: pic, rootKey: () => rootKey });
    base = new URL(await listen(server, '127.0.0.1', 0));
}, 120_000);
afterAll(async () => {
    await close(server);
    await pic.tearDown();
});

/** curl through the gateway on the bucket's certified host name; returns the body. */
async function curl(path: string, extra: string[] = [], host = `${big.asset.bucket.toText()}.localhost`): Promise<Buffer> {
    try {
        const { stdout } = await run('curl', ['-sS', '-H', `Host: ${host}:${base.port}`, ...extra, `http://127.0.0.1:${base.port}${path}`], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
        return stdout;
    } catch (error) {
        throw new Error(`curl ${path} failed: ${String((error as { stderr?: Buffer }).stderr)}`);
    }
}

async function curlFull(path: string, extra: string[] = [], host?: string) {
    const result = await run('curl', ['-sS', '-D', '-', '-o', '/dev/null', '-H', `Host: ${host ?? `${big.asset.bucket.toText()}.localhost`}:${base.port}`, ...extra, `http://127.0.0.1:${base.port}${path}`]);
    const lines = result.stdout.split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers = new Map(lines.slice(1).filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    return { status, headers };
}

describe('through the local gateway', () => {
    it('curl of a multi-chunk file returns exactly the uploaded bytes (206 parts reassembled into a 200)', async () => {
        const body = await curl(`/a/${big.asset.id}/big.bin`);
        expect(body.length).toBe(big.data.length);
        expect(Buffer.compare(body, Buffer.from(big.data))).toBe(0);
        const head = await curlFull(`/a/${big.asset.id}/big.bin`);
        expect(head.status).toBe(200);
        expect(head.headers.get('content-length')).toBe(String(big.data.length));
        expect(head.headers.get('ic-certificateexpression')).toBe(CERT_EXPRESSION);
    });

    it('a ranged curl returns exactly the slice, across a chunk boundary as one more request', async () => {
        const start = CHUNK - 100;
        const slice = await curl(`/a/${big.asset.id}`, ['-r', `${start}-${start + 99}`]);
        expect(Buffer.compare(slice, Buffer.from(big.data.subarray(start, start + 100)))).toBe(0);
        // The bucket answers with the certified chunk holding the first byte; the gateway cuts the range out
        // of it, and continues with the next chunk (verified too) when the range crosses a boundary.
        const first = await curlFull(`/a/${big.asset.id}`, ['-r', `${start}-${start + 199}`]);
        expect(first.status).toBe(206);
        expect(first.headers.get('content-range')).toBe(`bytes ${start}-${start + 199}/${big.data.length}`);
        expect(first.headers.get('content-length')).toBe('200');
        const across = await curl(`/a/${big.asset.id}`, ['-r', `${start}-${start + 199}`]);
        expect(Buffer.compare(across, Buffer.from(big.data.subarray(start, start + 200)))).toBe(0);
        const middle = 2 * CHUNK + 777;
        const open = await curlFull(`/a/${big.asset.id}`, ['-r', `${middle}-`]);
        expect(open.headers.get('content-range')).toBe(`bytes ${middle}-${3 * CHUNK - 1}/${big.data.length}`);
        const probe = await curl(`/a/${big.asset.id}`, ['-r', '0-1']);
        expect([...probe]).toEqual([...big.data.subarray(0, 2)]);
        const tail = await curl(`/a/${big.asset.id}`, ['-r', '-1000']);
        expect(Buffer.compare(tail, Buffer.from(big.data.subarray(big.data.length - 1000)))).toBe(0);
    });

    it('a private asset needs its token through the gateway too', async () => {
        const host = `${hidden.asset.bucket.toText()}.localhost`;
        expect((await curlFull(`/a/${hidden.asset.id}`, [], host)).status).toBe(403);
        const url = unwrap<AssetUrl>(await silo.index(alice).asset_url(hidden.asset.id, [60]));
        const body = await curl(url.path, [], host);
        expect(Buffer.compare(body, Buffer.from(hidden.data))).toBe(0);
    });
});

describe('client URLs', () => {
    it('SiloClient.assetUrl gives URLs of the local gateway that curl loads, public and private, inline and as downloads', async () => {
        const client = new SiloClient({ transport: new ReplicaTransport(pic, alice.getPrincipal()), indexId: silo.indexId });
        const gateway = base.toString();
        const publicUrl = await client.assetUrl(big.asset.id, { network: 'local', gateway });
        expect(publicUrl).toBe(`http://${big.asset.bucket.toText()}.localhost:${base.port}/a/${big.asset.id}/big.bin`);
        const { stdout } = await run('curl', ['-sS', publicUrl], { encoding: 'buffer', maxBuffer: 8 * 1024 * 1024 });
        expect(Buffer.compare(stdout, Buffer.from(big.data))).toBe(0);
        const privateUrl = await client.assetUrl(hidden.asset.id, { network: 'local', gateway, ttl: 30, download: true });
        expect(privateUrl).toMatch(/\?token=\d+\.[0-9a-f]{64}&download$/);
        const headers = (await run('curl', ['-sS', '-D', '-', '-o', '/dev/null', privateUrl])).stdout;
        expect(headers).toMatch(/^HTTP\/1\.1 200/);
        expect(headers).toMatch(/content-disposition: attachment; filename="secret.bin"/i);
    });
});

describe('certification', () => {
    async function query(url: string, headers: [string, string][] = []) {
        const request = { method: 'GET', url, headers, body: new Uint8Array(), certificate_version: [2] as [number] };
        const reply = await pic.queryCall({ canisterId: big.asset.bucket, method: 'http_request', arg: new Uint8Array(IDL.encode([HttpRequest], [request])) });
        return { request, response: IDL.decode([HttpResponse], reply)[0] as unknown as HttpResponse };
    }

    async function verify(request: Awaited<ReturnType<typeof query>>['request'], response: HttpResponse, body = new Uint8Array(response.body)) {
        return verifier.verifyRequestResponsePair(
            request,
            { status_code: response.status_code, headers: response.headers, body },
            big.asset.bucket.toUint8Array(),
            BigInt(await pic.getTime()) * 1_000_000n,
            300_000_000_000n,
            rootKey,
            2
        );
    }

    it('every answer about a multi-chunk file verifies with the body covered, and a flipped body byte fails', async () => {
        const id = big.asset.id;
        const etag = `"${Buffer.from(big.asset.sha256).toString('hex')}"`;
        const cases: [string, [string, string][], number][] = [
            [`/a/${id}/big.bin`, [], 206], // plain GET: chunk 0
            [`/a/${id}`, [['Range', `bytes=${2 * CHUNK + 10}-${2 * CHUNK + 20}`]], 206], // a range in the middle
            [`/a/${id}/big.bin?download`, [['Range', 'bytes=-10']], 206],
            [`/a/${id}/big.bin`, [['If-None-Match', etag]], 304],
            [`/a/${id}/big.bin`, [['Range', `bytes=${big.data.length}-`]], 416],
            ['/a/424242/x.bin', [], 404], // unknown asset
            ['/a/0042', [], 404], // not a canonical id
            ['/favicon.ico', [], 404],
            [`/a/${hidden.asset.id}/secret.bin`, [], 403], // private, no token
            [`/a/${hidden.asset.id}/secret.bin?token=1.00`, [], 403]
        ];
        for (const [url, headers, status] of cases) {
            const { request, response } = await query(url, headers);
            expect(response.status_code, url).toBe(status);
            const info = await verify(request, response);
            expect(info.verificationVersion, url).toBe(2);
            // Covered: the verifier hands back the certified response, body and status included.
            expect(info.response?.statusCode, url).toBe(status);
            expect(Buffer.compare(Buffer.from(info.response!.body), Buffer.from(response.body)), url).toBe(0);
            if (response.body.length > 0) {
                const flipped = new Uint8Array(response.body);
                flipped[flipped.length >> 1] ^= 0x01;
                await expect(verify(request, response, flipped), url).rejects.toThrow();
            }
            const forged = { ...response, status_code: status === 206 ? 200 : 206 };
            await expect(verify(request, forged), url).rejects.toThrow();
        }
        // The chunk asked for by a middle range is the whole chunk holding its first byte.
        const { response } = await query(`/a/${id}`, [['Range', `bytes=${2 * CHUNK + 10}-${2 * CHUNK + 20}`]]);
        expect(Buffer.compare(Buffer.from(response.body), Buffer.from(big.data.subarray(2 * CHUNK, 3 * CHUNK)))).toBe(0);
    });

    it('a private asset\'s content verifies with its token', async () => {
        const url = unwrap<AssetUrl>(await silo.index(alice).asset_url(hidden.asset.id, [60]));
        const { request, response } = await query(url.path);
        expect(response.status_code).toBe(206);
        expect((await verify(request, response)).response?.statusCode).toBe(206);
    });
});
