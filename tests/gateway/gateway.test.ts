/** The HTTP gateway in front of a fixture canister's `http_request`, through a real HTTP server on loopback. */
import { request as httpRequest, type Server } from 'node:http';

import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PocketIc } from '../../replica';
import { ReplicaKeys, StateCertifier } from '../../replica/http';
import { canisterIdFromIndex } from '../../replica/ids';
import { siteOf } from '../../replica/http/gateway';
import { close, createSiloServer, listen } from '../../replica/http/server';
import { fixtureWasm } from '../helpers/pic';

const pattern = (from: number, length: number) => Uint8Array.from({ length }, (_, i) => ((from + i) * 31 + 7) & 255);

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

interface Answer {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
}

let base: URL;
/** One HTTP request to the server, with any Host header (`<id>.localhost` names do not resolve here), on its own connection. */
function send(path: string, options: { host?: string; method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
        const req = httpRequest(
            { agent: false, host: base.hostname, port: base.port, path, method: options.method ?? 'GET', headers: { ...(options.host ? { host: options.host } : {}), ...options.headers } },
            (res) => {
                const chunks: Buffer[] = [];
                res.on('data', (c: Buffer) => chunks.push(c));
                res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
                res.on('error', reject);
            }
        );
        req.on('error', reject);
        req.end(options.body);
    });
}

let pic: PocketIc;
let server: Server;
let canister: Principal;
let rootKey: Uint8Array | null = null;

beforeAll(async () => {
    pic = await PocketIc.create();
    const keys = ReplicaKeys.generate();
    StateCertifier.attach(pic.replica, keys);
    rootKey = keys.rootKey;
    canister = (await pic.setupCanister({ idlFactory: ({ IDL }) => IDL.Service({}), wasm: fixtureWasm('gateway'), arg: new Uint8Array(IDL.encode([], [])) })).canisterId;
    server = createSiloServer({ caller: pic, rootKey: () => rootKey });
    base = new URL(await listen(server, '127.0.0.1', 0));
});
afterAll(async () => {
    await close(server);
});

describe('gateway routing and forwarding', () => {
    it('reaches a canister by <id>.raw.localhost host and forwards method, URL, headers and body', async () => {
        const answer = await send('/echo?x=1&y=two', { host: `${canister.toText()}.raw.localhost:${base.port}`, method: 'POST', headers: { 'X-Custom': 'yes' }, body: 'hello' });
        expect(answer.status).toBe(200);
        const echo = JSON.parse(answer.body.toString());
        expect(echo).toMatchObject({ method: 'POST', url: '/echo?x=1&y=two', body: 'hello', certificate_version: [2] });
        expect(echo.headers).toContainEqual(['X-Custom', 'yes']);
        expect(echo.headers.map(([n]: [string]) => n.toLowerCase())).not.toContain('connection');
    });

    it('answers 404 for a canister that does not exist and 502 for one without http_request', async () => {
        const other = (await pic.setupCanister({ idlFactory: ({ IDL }) => IDL.Service({}), wasm: fixtureWasm('calibration_counter'), arg: new Uint8Array(IDL.encode([], [])) })).canisterId;
        const noMethod = await send('/x', { host: `${other.toText()}.raw.localhost` });
        expect(noMethod.status).toBe(502);
        expect(noMethod.body.toString()).toMatch(/http_request/);
        const unknown = await send('/x', { host: `${canisterIdFromIndex(4242n).toText()}.raw.localhost` });
        expect(unknown.status, unknown.body.toString()).toBe(404);
    });

    it('follows streaming callbacks, short and long', async () => {
        for (const parts of [3, 9]) {
            const answer = await send(`/stream?parts=${parts}&size=1000`, { host: `${canister.toText()}.raw.localhost` });
            expect(answer.status).toBe(200);
            expect(answer.body.length).toBe(parts * 1000);
            expect(same(answer.body, pattern(0, parts * 1000))).toBe(true);
        }
    });

    it('reassembles a 206 to a request without Range into a 200 of the whole body', async () => {
        const answer = await send('/big?size=100000&chunk=7000', { host: `${canister.toText()}.raw.localhost` });
        expect(answer.status).toBe(200);
        expect(answer.headers['content-length']).toBe('100000');
        expect(answer.headers['content-range']).toBeUndefined();
        expect(same(answer.body, pattern(0, 100_000))).toBe(true);
    });

    it('passes a 206 to a ranged request through', async () => {
        const answer = await send('/big?size=100000&chunk=7000', { host: `${canister.toText()}.raw.localhost`, headers: { Range: 'bytes=50000-' } });
        expect(answer.status).toBe(206);
        expect(answer.headers['content-range']).toBe('bytes 50000-56999/100000');
        expect(same(answer.body, pattern(50_000, 7000))).toBe(true);
    });

    it('re-runs an upgraded request as http_request_update', async () => {
        const first = await send('/update?n=1', { host: `${canister.toText()}.raw.localhost`, method: 'POST' });
        const second = await send('/update?n=2', { host: `${canister.toText()}.raw.localhost`, method: 'POST' });
        expect(first.body.toString()).toBe('updated 1 POST /update?n=1');
        expect(second.body.toString()).toBe('updated 2 POST /update?n=2');
    });

    it('reaches no canister on the server’s own host, whatever the query says', async () => {
        for (const host of [undefined, `127.0.0.1:${base.port}`, `localhost:${base.port}`, `[::1]:${base.port}`, 'LOCALHOST.']) {
            const answer = await send(`/update?canisterId=${canister.toText()}`, { host, method: 'GET' });
            expect(answer.status, String(host)).toBe(404);
            expect(answer.body.toString()).not.toMatch(/updated/);
        }
    });

    it('refuses hosts that are neither the server’s nor a canister’s (DNS rebinding, junk under .localhost)', async () => {
        for (const host of ['evil.example', 'evil.example:80', `${canister.toText()}.localhost.evil.example`, 'raw.localhost', 'nope.localhost', `x.${canister.toText()}.localhost`, 'a'.repeat(400)]) {
            const answer = await send('/update', { host });
            expect(answer.status, host).toBe(421);
            expect(answer.headers['content-security-policy']).toMatch(/default-src 'self'/);
        }
    });
});

describe('gateway response verification', () => {
    const host = () => `${canister.toText()}.localhost:${base.port}`;

    it('serves a v1-certified response and a v2 skip-certified one', async () => {
        const v1 = await send('/v1', { host: host() });
        expect(v1.status, v1.body.toString()).toBe(200);
        expect(v1.body.toString()).toBe('certified body');
        const skip = await send('/echo', { host: host() });
        expect(skip.status, skip.body.toString()).toBe(200);
        expect(JSON.parse(skip.body.toString()).url).toBe('/echo');
    });

    it('answers 503 for a body its certificate does not cover, and for a response without certificate', async () => {
        for (const path of ['/forged', '/plain']) {
            const answer = await send(path, { host: host() });
            expect(answer.status, path).toBe(503);
            expect(answer.body.toString()).toMatch(/Response verification failed/);
            expect(answer.body.toString()).not.toMatch(/forged body|plain body/);
        }
    });

    it('v2 full certification: the certified body passes; another body answers 503 on the verifying host and passes on raw', async () => {
        const good = await send('/certified_v2', { host: host() });
        expect(good.status).toBe(200);
        expect(good.body.toString()).toBe('certified body');
        const forged = await send('/forged_v2', { host: host() });
        expect(forged.status).toBe(503);
        expect(forged.body.toString()).toMatch(/Response verification failed/);
        expect(forged.body.toString()).not.toMatch(/forged body/);
        const raw = await send('/forged_v2', { host: `${canister.toText()}.raw.localhost:${base.port}` });
        expect(raw.status).toBe(200);
        expect(raw.body.toString()).toBe('forged body');
    });

    it('skips verification on the raw host', async () => {
        const answer = await send('/forged', { host: `${canister.toText()}.raw.localhost:${base.port}` });
        expect(answer.status).toBe(200);
        expect(answer.body.toString()).toBe('forged body');
    });

    it('answers 503 when the certificate is signed with another key than the root key', async () => {
        const real = rootKey;
        rootKey = ReplicaKeys.generate().rootKey;
        try {
            const answer = await send('/v1', { host: host() });
            expect(answer.status).toBe(503);
        } finally {
            rootKey = real;
        }
    });

    it('verifies streamed and reassembled bodies on the certified host', async () => {
        const stream = await send('/stream?parts=3&size=500', { host: host() });
        expect(stream.status, stream.body.toString()).toBe(200);
        expect(same(stream.body, pattern(0, 1500))).toBe(true);
        const big = await send('/big?size=50000&chunk=8000', { host: host() });
        expect(big.status, big.body.toString()).toBe(200);
        expect(same(big.body, pattern(0, 50_000))).toBe(true);
    });
});

describe('sites by Host', () => {
    const id = 'lxzze-o7777-77777-aaaaa-cai';

    it('names a canister by host (any case and port) or raw host', () => {
        expect(siteOf(`${id}.localhost:4943`)).toMatchObject({ kind: 'canister', target: { raw: false } });
        const upper = siteOf(`${id.toUpperCase()}.LOCALHOST`);
        expect(upper.kind === 'canister' && upper.target.canisterId.toText()).toBe(id);
        expect(siteOf(`${id}.raw.localhost:1`)).toMatchObject({ kind: 'canister', target: { raw: true } });
        expect(siteOf(`${id}.localhost.:1`)).toMatchObject({ kind: 'canister', target: { raw: false } });
    });

    it('names the app for localhost and IP literals, whatever the port', () => {
        for (const host of [undefined, '127.0.0.1:4943', '127.0.0.1', 'localhost:4943', 'localhost.', '[::1]:4943', '[::1]', '10.0.0.7:80']) expect(siteOf(host), String(host)).toEqual({ kind: 'app' });
    });

    it('refuses every other name', () => {
        for (const host of ['example.com', 'not-a-principal.localhost', 'raw.localhost', `a.${id}.localhost`, `${id}.localhost.example.com`, `${id}.raw.raw.localhost`, 'local host', '[::1', 'x'.repeat(301)]) {
            expect(siteOf(host).kind, host).toBe('refused');
        }
    });
});
