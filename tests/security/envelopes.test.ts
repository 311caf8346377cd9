/**
 * Junk for the IC HTTP interface's parsers (issue 17, item 3): CBOR envelopes of millions of items,
 * certificates and Candid arguments whose decoding would cost seconds, each answered with a refusal
 * while `/api/v2/status` is polled meanwhile; no status request may wait 2 s. The server runs in this
 * process, so a stalled event loop delays the polls exactly as it would delay every other client.
 */
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

import { blsVerify, Cbor } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PocketIc } from '../../replica';
import { createIcApi, ReplicaKeys } from '../../replica/http';
import { serveIcApi } from '../helpers/ic_api';
import { wat } from '../replica/wat';

const utf8 = (s: string) => new TextEncoder().encode(s);
const concat = (...parts: (Uint8Array | number[])[]) => new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));

/** A CBOR head (major type, argument) with a 4-byte argument when it needs one. */
function head(major: number, n: number): number[] {
    if (n < 24) return [(major << 5) | n];
    return [(major << 5) | 26, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}
const text = (s: string) => [...head(3, utf8(s).length), ...utf8(s)];
const blob = (b: Uint8Array) => concat(head(2, b.length), b);
/** An array of `n` zeros: n + 5 bytes that `@dfinity/cbor` would build into n items, and the hashing walk into n SHA-256s. */
const zeros = (n: number) => concat(head(4, n), new Uint8Array(n));

function leb(n: number): number[] {
    const out: number[] = [];
    do {
        let b = n % 128;
        n = Math.floor(n / 128);
        if (n > 0) b |= 128;
        out.push(b);
    } while (n > 0);
    return out;
}

let pic: PocketIc;
let host: string;
let close: () => Promise<void>;
let target: Principal;

beforeAll(async () => {
    pic = await PocketIc.create();
    ({ host, close } = await serveIcApi(pic.replica));
    await pic.setTime(Date.now());
    target = await pic.createCanister();
    await pic.installCode({ canisterId: target, wasm: await wat('(module (memory 1))') });
});
afterAll(async () => {
    await close();
});

/** POSTs a body; a refusal that closes the connection before the body is sent counts as status 0. */
async function post(path: string, body: Uint8Array): Promise<{ status: number; text: string; ms: number }> {
    const started = performance.now();
    try {
        const answer = await fetch(`${host}${path}`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: Buffer.from(body) });
        const text = answer.headers.get('content-type')?.startsWith('text/') ? await answer.text() : (await answer.arrayBuffer(), '');
        return { status: answer.status, text, ms: performance.now() - started };
    } catch {
        return { status: 0, text: 'connection closed', ms: performance.now() - started };
    }
}

/** Runs `attack` while `/api/v2/status` is polled every 50 ms; resolves to the slowest poll (ms). */
async function slowestStatusDuring(attack: () => Promise<void>): Promise<number> {
    let slowest = 0;
    let running = true;
    const poll = (async () => {
        while (running) {
            const started = performance.now();
            const answer = await fetch(`${host}/api/v2/status`);
            await answer.arrayBuffer();
            expect(answer.status).toBe(200);
            slowest = Math.max(slowest, performance.now() - started);
            await new Promise((r) => setTimeout(r, 50));
        }
    })();
    await new Promise((r) => setTimeout(r, 60));
    try {
        await attack();
    } finally {
        running = false;
        await poll;
    }
    return slowest;
}

const expiry = () => BigInt(Date.now() + 60_000) * 1_000_000n;

describe('junk envelopes while /api/v2/status is polled', () => {
    const query = () => `/api/v2/canister/${target.toText()}/query`;
    const readState = () => `/api/v2/canister/${target.toText()}/read_state`;
    const call = () => `/api/v3/canister/${target.toText()}/call`;

    it('four million items in 4 MiB, at /query, /read_state and /call', async () => {
        // {content: {request_type, junk: [0, 0, ... 4 million]}}: the attack, decoded and hashed in full before.
        const junk = (type: string, n: number) => concat(head(5, 1), text('content'), head(5, 2), text('request_type'), text(type), text('junk'), zeros(n));
        const answers: { status: number; text: string; ms: number }[] = [];
        const slowest = await slowestStatusDuring(async () => {
            answers.push(await post(query(), junk('query', 4_000_000)));
            answers.push(await post(readState(), junk('read_state', 4_000_000)));
            answers.push(await post(call(), junk('call', 4_000_000)));
            // Under the ingress limit: refused by its shape before anything is decoded.
            answers.push(await post(query(), junk('query', 2_000_000)));
            answers.push(await post(readState(), junk('read_state', 60_000)));
        });
        expect(answers.slice(0, 3).map((a) => a.status).every((s) => s === 413 || s === 0)).toBe(true);
        expect(answers[3]).toMatchObject({ status: 400, text: expect.stringMatching(/unknown field 'junk' in the content/) });
        expect(answers[4]).toMatchObject({ status: 400, text: expect.stringMatching(/unknown field 'junk'/) });
        expect(slowest).toBeLessThan(2000);
        for (const answer of answers) expect(answer.ms).toBeLessThan(2000);
    });

    it('known fields holding too much: paths, delegations, targets, a map of a million keys, deep nesting', async () => {
        const content = (type: string, field: string, value: Uint8Array) =>
            concat(head(5, 1), text('content'), head(5, 2), text('request_type'), text(type), text(field), value);
        const answers: { status: number; text: string }[] = [];
        const slowest = await slowestStatusDuring(async () => {
            answers.push(await post(query(), content('query', 'paths', zeros(1_900_000))));
            answers.push(await post(readState(), content('read_state', 'paths', concat(head(4, 1), zeros(60_000)))));
            answers.push(await post(query(), concat(head(5, 2), text('content'), head(5, 1), text('request_type'), text('query'), text('sender_delegation'), zeros(1_900_000))));
            answers.push(await post(query(), concat(head(5, 1), text('content'), head(5, 1_000_000), new Uint8Array(1_900_000))));
            answers.push(await post(query(), concat(head(5, 1), text('content'), new Uint8Array(1_900_000).fill(0x81))));
            const targets = concat(head(4, 1), head(5, 2), text('delegation'), head(5, 1), text('targets'), zeros(1_900_000), text('signature'), blob(new Uint8Array(1)));
            answers.push(await post(query(), concat(head(5, 1), text('sender_delegation'), targets)));
        });
        expect(answers.map((a) => a.status)).toEqual([400, 400, 400, 400, 400, 400]);
        expect(answers[0].text).toMatch(/Too many paths in read state request: got 1900000 paths/);
        expect(answers[1].text).toMatch(/too deep: got 60000 labels/);
        expect(answers[2].text).toMatch(/Chain of delegations is too long: got 1900000 delegations/);
        expect(answers[3].text).toMatch(/more than 1024 items/);
        expect(answers[4].text).toMatch(/must be a map/);
        expect(answers[5].text).toMatch(/expected at most 1000 targets per delegation, but got 1900000/);
        expect(slowest).toBeLessThan(2000);
    });

    it('a canister signature whose certificate holds two million items', async () => {
        // A canister-signature public key anyone can make up: OID 1.3.6.1.4.1.56387.1.2, the signing canister and a seed.
        const key = concat([10], target.toUint8Array(), utf8('seed'));
        const oid = Buffer.from('060a2b0601040183b8430102', 'hex');
        const algorithm = concat([0x30, oid.length], oid);
        const bits = concat([0x03, key.length + 1, 0], key);
        const pubkey = concat([0x30, algorithm.length + bits.length], algorithm, bits);
        const certificate = zeros(1_900_000);
        const signature = concat(head(5, 2), text('certificate'), blob(certificate), text('tree'), head(4, 1), [0]);
        const content = {
            request_type: 'query',
            canister_id: target.toUint8Array(),
            method_name: 'anything',
            arg: new Uint8Array(),
            sender: Principal.selfAuthenticating(pubkey).toUint8Array(),
            ingress_expiry: expiry()
        };
        let answer: { status: number; text: string; ms: number } | undefined;
        const slowest = await slowestStatusDuring(async () => {
            answer = await post(query(), new Uint8Array(Cbor.encode({ content, sender_pubkey: pubkey, sender_sig: signature })));
        });
        expect(answer).toMatchObject({ status: 400, text: expect.stringMatching(/Invalid canister signature: .*more than 1024 items/) });
        expect(slowest).toBeLessThan(2000);
    });

    it('canister signatures whose certificates need a pairing each, many at once', async () => {
        // Each certificate is well formed and carries a valid curve point that is not the root key's signature, so
        // verifying it costs a full pairing before it fails. Enough of them to hold the loop ~4 s if they ran on it.
        const wrong = ReplicaKeys.generate();
        const point = wrong.signBls(utf8('not the state root'));
        let started = performance.now();
        blsVerify(wrong.rootKey.subarray(wrong.rootKey.length - 96), point, utf8('another message'));
        const pairingMs = performance.now() - started;
        const count = Math.max(4, Math.min(200, Math.ceil(4000 / pairingMs)));
        const key = concat([10], target.toUint8Array(), utf8('seed'));
        const oid = Buffer.from('060a2b0601040183b8430102', 'hex');
        const algorithm = concat([0x30, oid.length], oid);
        const bits = concat([0x03, key.length + 1, 0], key);
        const pubkey = concat([0x30, algorithm.length + bits.length], algorithm, bits);
        const certificate = Cbor.encode({ tree: [2, utf8('time'), [3, Uint8Array.from(leb(Date.now() * 1_000_000))]], signature: point });
        const sig = Cbor.encode({ certificate, tree: [0] });
        const body = (i: number) =>
            new Uint8Array(
                Cbor.encode({
                    content: {
                        request_type: 'query',
                        canister_id: target.toUint8Array(),
                        method_name: 'anything',
                        arg: Uint8Array.of(i & 255),
                        sender: Principal.selfAuthenticating(pubkey).toUint8Array(),
                        ingress_expiry: expiry()
                    },
                    sender_pubkey: pubkey,
                    sender_sig: sig
                })
            );
        let answers: { status: number; text: string }[] = [];
        started = performance.now();
        const slowest = await slowestStatusDuring(async () => {
            answers = await Promise.all(Array.from({ length: count }, (_, i) => post(query(), body(i))));
        });
        expect(answers.every((a) => a.status === 400 && /Invalid canister signature: .*Signature verification failed/.test(a.text)), answers[0]?.text).toBe(true);
        expect(slowest, `${count} verifications of ~${pairingMs.toFixed(0)} ms each`).toBeLessThan(2000);
    });

    it('Candid arguments whose vectors of nulls cost no bytes: at the management canister’s routing and in its execution', async () => {
        // record { canister_id : principal; junk : vec null } with 2^40 nulls, 6 bytes of length on the wire.
        const id = target.toUint8Array();
        const statusArg = concat(Buffer.from('4449444c026d7f6c02c88ba7b30400b3c4b1f204680101', 'hex'), leb(2 ** 40), [1, id.length], id);
        // record { junk : vec null }: every field of provisional_create_canister_with_cycles is optional.
        const createArg = concat(Buffer.from('4449444c026d7f6c01c88ba7b3040001', 'hex'), [1], leb(2 ** 40));
        const envelope = (method: string, arg: Uint8Array) =>
            new Uint8Array(
                Cbor.encode({
                    content: {
                        request_type: 'call',
                        canister_id: Principal.managementCanister().toUint8Array(),
                        method_name: method,
                        arg,
                        sender: Principal.anonymous().toUint8Array(),
                        ingress_expiry: expiry(),
                        nonce: crypto.getRandomValues(new Uint8Array(8))
                    }
                })
            );
        const answers: { status: number; text: string; body?: Record<string, unknown> }[] = [];
        const slowest = await slowestStatusDuring(async () => {
            answers.push(await post(call(), envelope('canister_status', statusArg)));
            const started = performance.now();
            const created = await fetch(`${host}${call()}`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: Buffer.from(envelope('provisional_create_canister_with_cycles', createArg)) });
            const body = Cbor.decode<Record<string, unknown>>(new Uint8Array(await created.arrayBuffer()));
            answers.push({ status: created.status, text: '', body, ...{ ms: performance.now() - started } });
        });
        expect(answers[0]).toMatchObject({ status: 400, text: expect.stringMatching(/vector of a zero-sized type/) });
        // Refused by the management canister (a reject, certified or not), not executed.
        expect(answers[1].status).toBe(200);
        expect(JSON.stringify(answers[1].body, (_, v) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? Buffer.from(v).toString() : v))).toMatch(/reject|zero-sized/);
        expect(slowest).toBeLessThan(2000);
    });
});

describe('the API’s answers to other origins', () => {
    it('lets any origin call, as anyone can with curl, but grants no credentials and no private-network access', async () => {
        const preflight = await fetch(`${host}/api/v3/canister/${target.toText()}/call`, {
            method: 'OPTIONS',
            headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-private-network': 'true' }
        });
        expect(preflight.status).toBe(204);
        expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
        expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
        expect(preflight.headers.get('access-control-allow-private-network')).toBeNull();
    });

    it('never answers what a browser would run as a page, even when the path is markup', async () => {
        const answer = await fetch(`${host}/api/<script>alert(1)</script>`);
        expect(answer.status).toBe(404);
        expect(answer.headers.get('content-type')).toMatch(/^text\/plain/);
        expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
        expect(answer.headers.get('content-security-policy')).toMatch(/default-src 'none'; sandbox/);
    });
});

describe('many bodies at once', () => {
    it('answers 503 once the bodies being read pass the server’s budget, and takes requests again once they are read', async () => {
        const replica = (await PocketIc.create()).replica;
        const api = createIcApi(replica, { maxBufferedBytes: 1024 * 1024 });
        const server = createServer(async (req, res) => {
            if (!(await api(req, res))) res.writeHead(404).end();
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const port = (server.address() as AddressInfo).port;
        const path = `/api/v2/canister/${Principal.fromText('rwlgt-iiaaa-aaaaa-aaaaa-cai').toText()}/query`;
        /** Starts a POST declaring `length` bytes and sends `sent` of them; `finish` sends the rest. */
        const start = (length: number, sent: number) => {
            const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { 'content-type': 'application/cbor', 'content-length': length } });
            const answered = new Promise<number>((resolve) => {
                req.on('response', (res: IncomingMessage) => {
                    res.resume();
                    resolve(res.statusCode!);
                });
                req.on('error', () => resolve(0));
            });
            req.write(Buffer.alloc(sent));
            return { answered, finish: () => req.end(Buffer.alloc(length - sent)) };
        };
        try {
            const slow = start(900 * 1024, 800 * 1024);
            await new Promise((r) => setTimeout(r, 200)); // the server has read what was sent
            const second = start(900 * 1024, 900 * 1024);
            second.finish();
            expect(await second.answered).toBe(503);
            slow.finish();
            expect(await slow.answered).toBe(400); // read in full, then refused as the junk it is
            const third = start(900 * 1024, 900 * 1024);
            third.finish();
            expect(await third.answered).toBe(400);
        } finally {
            await new Promise<void>((resolve) => server.close(() => resolve()));
        }
    });
});
