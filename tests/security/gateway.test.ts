/**
 * The gateway against hostile canisters' replies and hostile requests (issue 17, item 3): a Candid
 * reply whose vector of nulls would take the decoder hours, a Content-Range past what a number holds,
 * header and body bombs. Each is refused quickly while the server keeps answering.
 */
import { request as httpRequest, type Server } from 'node:http';

import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PocketIc } from '../../replica';
import { close, createSiloServer, listen } from '../../replica/http/server';
import { HeaderField } from '../../shared/types';
import { fixedReplyWasm, httpResponse } from './hostile';

let pic: PocketIc;
let server: Server;
let base: URL;

beforeAll(async () => {
    pic = await PocketIc.create();
    server = createSiloServer({ caller: pic, rootKey: () => null });
    base = new URL(await listen(server, '127.0.0.1', 0));
});
afterAll(async () => {
    await close(server);
});

async function install(reply: Uint8Array): Promise<Principal> {
    const id = await pic.createCanister();
    await pic.installCode({ canisterId: id, wasm: await fixedReplyWasm(reply) });
    return id;
}

interface Answer {
    status: number;
    body: string;
    ms: number;
}

/** One request with any Host header and headers, on its own connection. */
function send(host: string, options: { headers?: Record<string, string | string[]>; method?: string; body?: Buffer } = {}): Promise<Answer> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
        const req = httpRequest({ agent: false, host: base.hostname, port: base.port, path: '/', method: options.method ?? 'GET', headers: { host, ...options.headers } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), ms: performance.now() - started }));
            res.on('error', reject);
        });
        req.on('error', (error) => resolve({ status: 0, body: error.message, ms: performance.now() - started }));
        req.end(options.body);
    });
}

describe('the gateway against hostile replies and requests', () => {
    it('refuses a reply whose vector of nulls costs no bytes, at once', async () => {
        // The response record with one more field, junk : vec null, whose length is patched to 2^40.
        const WithJunk = IDL.Record({ status_code: IDL.Nat16, headers: IDL.Vec(HeaderField), body: IDL.Vec(IDL.Nat8), upgrade: IDL.Opt(IDL.Bool), junk: IDL.Vec(IDL.Null) });
        const value = (n: number) => new Uint8Array(IDL.encode([WithJunk], [{ status_code: 200, headers: [], body: new Uint8Array(), upgrade: [], junk: Array(n).fill(null) }]));
        const one = value(1);
        const two = value(2);
        const at = one.findIndex((b, i) => b !== two[i]);
        const bomb = new Uint8Array([...one.subarray(0, at), 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, ...one.subarray(at + 1)]);
        const id = await install(bomb);
        const answer = await send(`${id.toText()}.raw.localhost`);
        expect(answer.status).toBe(502);
        expect(answer.body).toMatch(/vector of a zero-sized type/);
        expect(answer.ms).toBeLessThan(2000);
    });

    it('refuses a Content-Range whose numbers do not fit, before answering anything', async () => {
        const id = await install(httpResponse(206, [['content-range', 'bytes 0-0/99999999999999999999']], 'x'));
        const answer = await send(`${id.toText()}.raw.localhost`);
        expect(answer.status).toBe(502);
        expect(answer.body).toMatch(/Invalid Content-Range/);
    });

    it('forwards many headers, refuses an oversized header block and a body declared past the limit', async () => {
        const id = await install(httpResponse(200, [['content-type', 'text/plain']], 'fine'));
        const many: Record<string, string> = {};
        for (let i = 0; i < 500; i++) many[`x-h${i}`] = 'v';
        expect(await send(`${id.toText()}.raw.localhost`, { headers: many })).toMatchObject({ status: 200, body: 'fine' });
        const huge = await send(`${id.toText()}.raw.localhost`, { headers: { 'x-big': 'a'.repeat(64 * 1024) } });
        expect(huge.status === 431 || huge.status === 0).toBe(true);
        const declared = await send(`${id.toText()}.raw.localhost`, { method: 'POST', headers: { 'content-length': String(3 * 1024 * 1024) }, body: Buffer.alloc(16) });
        expect(declared.status).toBe(413);
        // And the server still answers.
        expect(await send(`${id.toText()}.raw.localhost`)).toMatchObject({ status: 200, body: 'fine' });
    });
});
