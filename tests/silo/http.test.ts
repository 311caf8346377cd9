/**
 * HTTP serving (issue 12): `http_request` called directly on the real bucket Wasm, for every status and
 * header a gateway or browser relies on, and `asset_url` tokens.
 */
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CERT_EXPRESSION } from '../../shared/certification/http';
import { bucketIdlFactory } from '../../shared/idl';
import { toHex } from '../../shared/sha256';
import type { Asset, AssetUrl, HttpResponse } from '../../shared/types';
import { createPic, type TestPic } from '../helpers/pic';
import { bytes, deploySilo, identity, type Service, type Silo, stage, unwrap, upgradeBucket, upload } from '../helpers/silo';

const alice = identity('alice');
const bob = identity('bob');
const CHUNK = 1024;

let pic: TestPic;
let silo: Silo;
/** Files uploaded once for all tests. */
let big: { asset: Asset; data: Uint8Array };
let small: { asset: Asset; data: Uint8Array };
let empty: { asset: Asset; data: Uint8Array };
let secret: { asset: Asset; data: Uint8Array };

beforeAll(async () => {
    pic = await createPic();
    silo = await deploySilo(pic);
    const put = async (data: Uint8Array, options: Parameters<typeof upload>[3]) => ({ asset: (await upload(silo, alice, data, { chunkSize: CHUNK, ...options })).asset, data });
    // 3 full chunks and a partial one.
    big = await put(bytes(3 * CHUNK + 300, 11), { visibility: { public: null }, name: 'movie clip.mp4', contentType: 'video/mp4' });
    small = await put(bytes(700, 12), { visibility: { public: null }, name: 'résumé "final".pdf', contentType: 'application/pdf' });
    empty = await put(bytes(0, 13), { visibility: { public: null }, name: 'empty.txt', contentType: 'text/plain' });
    secret = await put(bytes(2 * CHUNK + 5, 14), { visibility: { private: null }, name: 'diary.html', contentType: 'text/html' });
});
afterAll(async () => {
    await pic.tearDown();
});

interface Reply {
    status: number;
    headers: Map<string, string>;
    body: Uint8Array;
    raw: HttpResponse;
}

/** One `http_request` query as a gateway makes it (anonymous caller). */
async function request(url: string, headers: [string, string][] = [], method = 'GET', bucket = silo.buckets[0]): Promise<Reply> {
    const actor = pic.createActor<Service>(bucketIdlFactory, bucket);
    actor.setPrincipal(Principal.anonymous());
    const raw: HttpResponse = await actor.http_request({ method, url, headers, body: new Uint8Array(), certificate_version: [2] });
    const map = new Map<string, string>();
    for (const [name, value] of raw.headers) {
        expect(map.has(name.toLowerCase()), `header ${name} sent twice`).toBe(false);
        map.set(name.toLowerCase(), value);
    }
    return { status: raw.status_code, headers: map, body: new Uint8Array(raw.body), raw };
}

const path = (asset: Asset, suffix = '') => `/a/${asset.id}/${encodeURIComponent(asset.name)}${suffix}`;
const etag = (asset: Asset) => `"${toHex(asset.sha256)}"`;

describe('http_request: public assets', () => {
    it('answers a multi-chunk file with its first chunk as 206, and Range requests reassemble it exactly', async () => {
        const { asset, data } = big;
        const first = await request(path(asset));
        expect(first.status).toBe(206);
        expect(first.headers.get('content-range')).toBe(`bytes 0-${CHUNK - 1}/${data.length}`);
        // The first part of a plain GET is the certified 206 of chunk 0, Content-Length included.
        expect(first.headers.get('content-length')).toBe(String(CHUNK));
        expect(first.body).toEqual(data.subarray(0, CHUNK));
        // What a gateway does: ask for the rest from the next byte until the end.
        const parts = [first.body];
        let next = first.body.length;
        while (next < data.length) {
            const part = await request(path(asset), [['Range', `bytes=${next}-`]]);
            expect(part.status).toBe(206);
            const end = Math.min(next + CHUNK, data.length) - 1;
            expect(part.headers.get('content-range')).toBe(`bytes ${next}-${end}/${data.length}`);
            expect(part.headers.get('content-length')).toBe(String(end - next + 1));
            parts.push(part.body);
            next += part.body.length;
        }
        expect(Buffer.concat(parts)).toEqual(Buffer.from(data));
        // The last part is the partial chunk.
        expect(parts.at(-1)!.length).toBe(300);
    });

    it('sends the caching, type, disposition, security, CORS and certification headers', async () => {
        const { asset } = big;
        const reply = await request(path(asset));
        expect(Object.fromEntries(reply.headers)).toMatchObject({
            'content-type': 'video/mp4',
            'content-disposition': `inline; filename="movie clip.mp4"; filename*=UTF-8''movie%20clip.mp4`,
            'accept-ranges': 'bytes',
            etag: etag(asset),
            'cache-control': 'public, max-age=31536000, immutable',
            'access-control-allow-origin': '*',
            'x-content-type-options': 'nosniff',
            'ic-certificateexpression': CERT_EXPRESSION
        });
        expect(reply.headers.get('access-control-expose-headers')!.split(', ')).toEqual(expect.arrayContaining(['Content-Range', 'Content-Length', 'ETag', 'Accept-Ranges']));
        expect(reply.headers.get('content-security-policy')).toMatch(/default-src 'none'.*; sandbox$/);
        expect(reply.headers.has('referrer-policy')).toBe(false);
    });

    it('answers a one-chunk file with 200 and the whole body; ?download makes it an attachment with an RFC 5987 name', async () => {
        const { asset, data } = small;
        const reply = await request(path(asset));
        expect(reply.status).toBe(200);
        expect(reply.body).toEqual(data);
        expect(reply.headers.get('content-length')).toBe(String(data.length));
        expect(reply.headers.has('content-range')).toBe(false);
        expect(reply.headers.get('content-disposition')).toBe(`inline; filename="r_sum_ _final_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf`);
        // PDFs keep their viewer: no sandbox.
        expect(reply.headers.get('content-security-policy')).not.toMatch(/sandbox/);
        const download = await request(path(asset, '?download'));
        expect(download.headers.get('content-disposition')).toMatch(/^attachment; /);
        // The name in the path is for the browser: the id decides.
        expect((await request(`/a/${asset.id}`)).body).toEqual(data);
        expect((await request(`/a/${asset.id}/another-name.bin`)).body).toEqual(data);
    });

    it('serves a 0-byte file as an empty 200, and any range of it as 416', async () => {
        const reply = await request(path(empty.asset));
        expect(reply.status).toBe(200);
        expect(reply.body.length).toBe(0);
        expect(reply.headers.get('content-length')).toBe('0');
        const ranged = await request(path(empty.asset), [['Range', 'bytes=0-']]);
        expect(ranged.status).toBe(416);
        expect(ranged.headers.get('content-range')).toBe('bytes */0');
    });

    it('answers each single-range form with the certified 206 of the whole chunk holding the first byte asked for', async () => {
        const { asset, data } = big;
        const cases: [string, number, number][] = [
            ['bytes=10-20', 0, CHUNK - 1],
            ['bytes=0-1', 0, CHUNK - 1], // a browser's probe
            ['bytes=1000-3000', 0, CHUNK - 1], // crosses a chunk boundary: the chunk of byte 1000
            ['bytes=2048-', 2048, 3 * CHUNK - 1],
            ['bytes=2100-2200', 2048, 3 * CHUNK - 1],
            ['bytes=-100', 3 * CHUNK, data.length - 1], // suffix: inside the last, partial chunk
            ['bytes=-100000', 0, CHUNK - 1], // a suffix longer than the file starts at 0
            [`bytes=${data.length - 1}-${data.length + 50}`, 3 * CHUNK, data.length - 1]
        ];
        for (const [range, start, end] of cases) {
            const reply = await request(path(asset), [['Range', range]]);
            expect(reply.status, range).toBe(206);
            expect(reply.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/${data.length}`);
            expect(reply.body, range).toEqual(data.subarray(start, end + 1));
        }
    });

    it('answers unsatisfiable ranges with 416 and ignores malformed or multiple ranges', async () => {
        const { asset, data } = big;
        for (const range of [`bytes=${data.length}-`, 'bytes=99999-100000', 'bytes=-0']) {
            const reply = await request(path(asset), [['Range', range]]);
            expect(reply.status, range).toBe(416);
            expect(reply.headers.get('content-range')).toBe(`bytes */${data.length}`);
            expect(reply.body.length).toBeGreaterThan(0);
        }
        for (const range of ['bytes=0-10, 20-30', 'items=0-5', 'bytes=20-10', 'bytes=-']) {
            const reply = await request(path(small.asset), [['Range', range]]);
            expect(reply.status, range).toBe(200);
            expect(reply.body).toEqual(small.data);
        }
    });

    it('honours If-Range: the range when the ETag matches, the whole answer otherwise', async () => {
        const { asset, data } = big;
        const same = await request(path(asset), [['Range', `bytes=${CHUNK + 5}-${CHUNK + 9}`], ['If-Range', etag(asset)]]);
        expect(same.status).toBe(206);
        expect(same.body).toEqual(data.subarray(CHUNK, 2 * CHUNK));
        for (const ifRange of ['"0000"', `W/${etag(asset)}`, 'Wed, 21 Oct 2015 07:28:00 GMT']) {
            const other = await request(path(asset), [['Range', `bytes=${CHUNK + 5}-${CHUNK + 9}`], ['If-Range', ifRange]]);
            expect(other.headers.get('content-range'), ifRange).toBe(`bytes 0-${CHUNK - 1}/${data.length}`);
        }
    });

    it('answers If-None-Match with 304 from the canister when the SHA-256 ETag matches', async () => {
        const { asset } = big;
        for (const value of [etag(asset), `W/${etag(asset)}`, `"abc", ${etag(asset)}`, '*']) {
            const reply = await request(path(asset), [['If-None-Match', value]]);
            expect(reply.status, value).toBe(304);
            expect(reply.body.length).toBe(0);
            expect(reply.headers.get('etag')).toBe(etag(asset));
            expect(reply.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        }
        expect((await request(path(asset), [['If-None-Match', '"other"']])).status).toBe(206);
    });

    it('answers HEAD as GET (the certified response, body included: a gateway drops it)', async () => {
        const head = await request(path(big.asset), [], 'HEAD');
        const get = await request(path(big.asset));
        expect(head.status).toBe(206);
        expect(head.headers.get('content-range')).toBe(`bytes 0-${CHUNK - 1}/${big.data.length}`);
        expect(head.headers.get('etag')).toBe(etag(big.asset));
        expect(head.body).toEqual(get.body);
        for (const url of ['/a/999999', path(secret.asset)]) {
            const refused = await request(url, [], 'HEAD');
            expect(refused.status).toBeGreaterThanOrEqual(400);
        }
    });

    it('answers other methods with 405 and Allow, and CORS preflights with 204', async () => {
        for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
            const reply = await request(path(big.asset), [], method);
            expect(reply.status, method).toBe(405);
            expect(reply.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
        }
        const preflight = await request(path(big.asset), [['Origin', 'https://dapp.example'], ['Access-Control-Request-Headers', 'range']], 'OPTIONS');
        expect(preflight.status).toBe(204);
        expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Range/);
    });

    it('answers 404 with a short text for unknown ids, other paths, uncommitted sessions and deleted assets', async () => {
        const { ticket } = await stage(silo, alice, bytes(100, 20), { visibility: { public: null } });
        const deleted = (await upload(silo, alice, bytes(100, 21), { visibility: { public: null } })).asset;
        unwrap(await silo.index(alice).delete_asset(deleted.id));
        for (const url of ['/', '/index.html', '/a/', '/a/abc', '/a/999999', `/a/${ticket.session_id}`, `/a/${deleted.id}/x`, '/a/1/2/3', '/a/99999999999999999999999']) {
            const reply = await request(url);
            expect(reply.status, url).toBe(404);
            expect(reply.headers.get('content-type')).toBe('text/plain; charset=utf-8');
            expect(new TextDecoder().decode(reply.body).length).toBeLessThan(200);
            expect(reply.headers.get('ic-certificateexpression')).toBe(CERT_EXPRESSION);
        }
    });
});

describe('http_request: private assets and URL tokens', () => {
    const urlOf = async (asset: Asset, ttl?: number, who = alice) => silo.index(who).asset_url(asset.id, ttl === undefined ? [] : [ttl]);

    it('refuses a private asset without a token, with private headers', async () => {
        const reply = await request(path(secret.asset));
        expect(reply.status).toBe(403);
        expect(reply.headers.get('referrer-policy')).toBe('no-referrer');
        expect(reply.headers.get('x-robots-tag')).toBe('noindex');
        expect(reply.headers.has('access-control-allow-origin')).toBe(false);
        expect(reply.body).not.toEqual(secret.data.subarray(0, reply.body.length));
    });

    it('serves it with the token asset_url mints for the owner, until the token expires', async () => {
        const url = unwrap<AssetUrl>(await urlOf(secret.asset, 120));
        expect(url.bucket.toText()).toBe(secret.asset.bucket.toText());
        expect(url.path).toBe(`${path(secret.asset)}?token=${url.token[0]}`);
        expect(url.expires_at[0]).toBeGreaterThan(BigInt(await pic.getTime()) * 1_000_000n);
        const reply = await request(url.path);
        expect(reply.status).toBe(206);
        expect(reply.body).toEqual(secret.data.subarray(0, CHUNK));
        expect(Object.fromEntries(reply.headers)).toMatchObject({
            'cache-control': 'private, no-store',
            'referrer-policy': 'no-referrer',
            'x-robots-tag': 'noindex',
            'content-type': 'text/html'
        });
        expect(reply.headers.has('access-control-allow-origin')).toBe(false);
        // Uploaded HTML cannot run script in the bucket's origin.
        expect(reply.headers.get('content-security-policy')).toMatch(/^default-src 'none'.*sandbox$/);
        const ranged = await request(url.path, [['Range', 'bytes=-5']]);
        expect(ranged.body).toEqual(secret.data.subarray(secret.data.length - 5));

        await pic.advanceTime(121_000);
        await pic.tick();
        const expired = await request(url.path);
        expect(expired.status).toBe(403);
        expect(new TextDecoder().decode(expired.body)).toMatch(/expired/);
    });

    it('refuses forged tokens, tokens of another asset and tokens with a changed expiry', async () => {
        const url = unwrap<AssetUrl>(await urlOf(secret.asset, 600));
        const token = url.token[0]!;
        const [expiry, mac] = token.split('.');
        const flipped = mac.slice(0, -1) + (mac.at(-1) === '0' ? '1' : '0');
        const other = (await upload(silo, alice, bytes(50, 30), { visibility: { private: null }, chunkSize: CHUNK })).asset;
        const otherToken = unwrap<AssetUrl>(await urlOf(other, 600)).token[0]!;
        for (const bad of [`${expiry}.${flipped}`, `${BigInt(expiry) + 1000n}.${mac}`, otherToken, 'garbage', `${expiry}.`, '']) {
            const reply = await request(`${path(secret.asset)}?token=${encodeURIComponent(bad)}`);
            expect(reply.status, bad).toBe(403);
        }
        expect((await request(`${path(other)}?token=${otherToken}`)).status).toBe(200);
    });

    it('mints tokens for the owner only, with a bounded ttl; public assets need none', async () => {
        expect(await urlOf(secret.asset, 60, bob)).toEqual({ Err: { Unauthorized: expect.stringMatching(/only its owner/) } });
        expect(await urlOf(secret.asset, 0)).toEqual({ Err: { InvalidArgument: expect.any(String) } });
        expect(await urlOf(secret.asset, 31 * 24 * 3600)).toEqual({ Err: { InvalidArgument: expect.any(String) } });
        expect(await silo.index(alice).asset_url(424242n, [])).toEqual({ Err: { AssetNotFound: 424242n } });
        const pub = unwrap<AssetUrl>(await urlOf(big.asset, undefined, bob));
        expect(pub).toEqual({ bucket: big.asset.bucket, path: path(big.asset), token: [], expires_at: [] });
    });
});

describe('certification', () => {
    it('sets the certification tree\'s root as certified data, and keeps it across an upgrade (nothing recomputed)', async () => {
        const bucket = pic.replica!.getCanister(silo.buckets[0])!;
        const before = toHex(bucket.certifiedData);
        expect(before).toMatch(/^[0-9a-f]{64}$/);
        await upgradeBucket(silo, silo.buckets[0]);
        expect(toHex(bucket.certifiedData)).toBe(before);
        expect((await request(path(small.asset))).body).toEqual(small.data);
    });
});
