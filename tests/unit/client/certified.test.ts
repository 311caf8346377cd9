/**
 * The certified chunk reader's decisions, with a stand-in verifier (the real one, against a real
 * certificate, is exercised in tests/client/certified.test.ts): what verifies and is the chunk asked for
 * is returned; what does not is fetched again, then fails naming the chunk; the bucket's certified
 * refusals (403, 404) are final (a 403 after one fresh token, for a private download that outlasts its token), and its certified 503 (asset still being certified) falls back.
 */
import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import { certifiedChunkReader } from '../../../client/certified';
import { AssetNotFoundError, IntegrityError, NotSharedError, UnauthorizedError } from '../../../client/errors';
import type { VerifyResponse } from '../../../client/node_io';
import type { Asset, HttpRequest, HttpResponse } from '../../../shared/types';

const owner = Principal.fromText('2vxsx-fae');
const other = Principal.fromText('aaaaa-aa');
const asset = { id: 9n, bucket: Principal.fromText('lqy7q-dh777-77777-aaaaq-cai'), owner, size: 250n, chunk_size: 100, chunk_count: 3 } as unknown as Asset;

function chunkResponse(request: HttpRequest): HttpResponse {
    const start = Number(/bytes=(\d+)-/.exec(request.headers[0][1])![1]);
    const end = Math.min(start + 100, 250) - 1;
    return { status_code: 206, headers: [['Content-Range', `bytes ${start}-${end}/250`]], body: new Uint8Array(end - start + 1).fill(start / 100 + 1), upgrade: [], streaming_strategy: [] } as unknown as HttpResponse;
}

function reader(answer: (request: HttpRequest, call: number) => HttpResponse, verifies: (call: number) => boolean, principal = owner, refreshPath?: () => Promise<string>) {
    const calls: string[] = [];
    const fallbacks: number[] = [];
    const verify = ((_request: unknown, _response: unknown, _id: unknown, now: bigint) => {
        expect(now).toBeGreaterThan(0n);
        if (!verifies(calls.length)) throw new Error('certificate mismatch');
        return { verificationVersion: 2 };
    }) as unknown as VerifyResponse;
    const read = certifiedChunkReader({
        asset,
        path: '/a/9?token=t',
        refreshPath,
        rootKey: new Uint8Array(1),
        verify,
        principal,
        uncertified: async (chunk) => {
            fallbacks.push(chunk);
            return new Uint8Array([42]);
        },
        httpRequest: async (request) => {
            calls.push(`${request.url} ${request.headers[0][1]}`);
            return answer(request, calls.length);
        }
    });
    return { read, calls, fallbacks };
}

describe('certifiedChunkReader', () => {
    it('returns a verified chunk, asking for the Range that starts at the chunk', async () => {
        const { read, calls } = reader(chunkResponse, () => true);
        expect(await read(2)).toEqual(new Uint8Array(50).fill(3));
        expect(calls).toEqual(['/a/9?token=t bytes=200-']);
    });

    it('re-fetches a chunk that does not verify, and fails naming it after 3 attempts', async () => {
        const once = reader(chunkResponse, (call) => call > 1);
        expect(await once.read(1)).toEqual(new Uint8Array(100).fill(2));
        expect(once.calls).toHaveLength(2);
        const never = reader(chunkResponse, () => false);
        await expect(never.read(1)).rejects.toThrow(IntegrityError);
        await expect(never.read(1)).rejects.toThrow(/^Chunk 1 of asset 9 failed verification 3 times: its response does not verify .*certificate mismatch/);
    });

    it('refuses a verified answer that is not the chunk asked for (another chunk, a short body)', async () => {
        const shifted = reader((request) => chunkResponse({ ...request, headers: [['Range', 'bytes=0-']] }), () => true);
        await expect(shifted.read(1)).rejects.toThrow(/^Chunk 1 of asset 9 failed verification 3 times: the bucket answered 206 \(bytes 0-99\/250\)/);
        expect(shifted.calls).toHaveLength(3);
    });

    it("treats the bucket's certified 403 and 404 as final, and reads a chunk still being certified (503) uncertified", async () => {
        const status = (code: number) => () => ({ status_code: code, headers: [], body: new Uint8Array() }) as unknown as HttpResponse;
        await expect(reader(status(403), () => true).read(0)).rejects.toThrow(UnauthorizedError);
        await expect(reader(status(403), () => true, other).read(0)).rejects.toThrow(NotSharedError);
        await expect(reader(status(404), () => true).read(0)).rejects.toThrow(AssetNotFoundError);
        const preparing = reader(status(503), () => true);
        expect(await preparing.read(1)).toEqual(new Uint8Array([42]));
        expect(preparing.fallbacks).toEqual([1]);
        expect(preparing.calls).toHaveLength(1);
    });

    it('on a 403 (a token that expired mid-download), fetches one fresh token and retries the chunk with it', async () => {
        const expired = (request: HttpRequest) => (request.url.endsWith('token=t') ? ({ status_code: 403, headers: [], body: new Uint8Array() } as unknown as HttpResponse) : chunkResponse(request));
        let refreshes = 0;
        const fresh = async () => {
            refreshes++;
            await new Promise((r) => setTimeout(r, 5));
            return '/a/9?token=u';
        };
        const { read, calls } = reader(expired, () => true, owner, fresh);
        // Two chunks refused at once share one refresh; a later chunk uses the fresh token from the start.
        expect(await Promise.all([read(0), read(1)])).toEqual([new Uint8Array(100).fill(1), new Uint8Array(100).fill(2)]);
        expect(await read(2)).toEqual(new Uint8Array(50).fill(3));
        expect(refreshes).toBe(1);
        expect(calls).toEqual(['/a/9?token=t bytes=0-', '/a/9?token=t bytes=100-', '/a/9?token=u bytes=0-', '/a/9?token=u bytes=100-', '/a/9?token=u bytes=200-']);
        // A refusal of the fresh token too is final: one refresh per chunk, then the typed error.
        refreshes = 0;
        const refused = reader(() => ({ status_code: 403, headers: [], body: new Uint8Array() }) as unknown as HttpResponse, () => true, owner, fresh);
        await expect(refused.read(0)).rejects.toThrow(UnauthorizedError);
        expect(refused.calls).toEqual(['/a/9?token=t bytes=0-', '/a/9?token=u bytes=0-']);
        expect(refreshes).toBe(1);
        // An index that no longer hands out a token (unshared meanwhile) fails the chunk with its error.
        const gone = reader(() => ({ status_code: 403, headers: [], body: new Uint8Array() }) as unknown as HttpResponse, () => true, other, () => Promise.reject(new NotSharedError(9n, other)));
        await expect(gone.read(0)).rejects.toThrow(NotSharedError);
    });
});
