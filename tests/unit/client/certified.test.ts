/**
 * The certified chunk reader's decisions, with a stand-in verifier (the real one, against a real
 * certificate, is exercised in tests/client/certified.test.ts): what verifies and is the chunk asked for
 * is returned; what does not is fetched again, then fails naming the chunk; the bucket's certified
 * refusals (403, 404) are final, and its certified 503 (asset still being certified) falls back.
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

function reader(answer: (request: HttpRequest, call: number) => HttpResponse, verifies: (call: number) => boolean, principal = owner) {
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
});
