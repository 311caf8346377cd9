/**
 * Downloads verify each chunk as it arrives: through a running `silo start` with HttpAgent, the client
 * fetches every chunk as the bucket's certified `http_request` response and checks it with
 * @dfinity/response-verification against the replica's root key. A corrupted chunk is detected on that
 * chunk and fetched again; one that never verifies fails the download naming it, before later chunks.
 */
import type { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { IntegrityError } from '../../client/errors';
import { SiloClient } from '../../client/silo';
import { AgentTransport, type Transport } from '../../client/transport';
import type { Asset, HttpRequest, HttpResponse } from '../../shared/types';
import { spawnConfiguredSilo, type SpawnedServer } from '../helpers/server';
import { bytes, identity } from '../helpers/silo';

const CHUNK = 1024;
const alice = identity('alice');

/**
 * Alice's transport, spying on the buckets' `http_request` (the Range start of each call) and flipping
 * one body byte of the response for the chunk starting at `corrupt.start`, `corrupt.times` times. It
 * corrupts `get_chunk`'s bytes for that chunk too, so a client without per-chunk checks fails as well.
 */
class Tampering implements Transport {
    readonly ranges: number[] = [];
    corrupt = { start: -1, times: 0 };
    constructor(private readonly inner: AgentTransport) {}
    get principal(): Principal {
        return this.inner.principal;
    }
    rootKey(): Uint8Array | undefined {
        return this.inner.rootKey();
    }
    actor<T>(idlFactory: IDL.InterfaceFactory, canisterId: Principal): T {
        const actor = this.inner.actor<Record<string, (...args: any[]) => Promise<any>>>(idlFactory, canisterId);
        const flip = (body: Uint8Array, start: number): Uint8Array => {
            if (start !== this.corrupt.start || this.corrupt.times <= 0) return body;
            this.corrupt.times--;
            const copy = new Uint8Array(body);
            copy[copy.length >> 1] ^= 0x40;
            return copy;
        };
        return new Proxy(actor, {
            get: (target, key) => {
                if (key === 'http_request') {
                    return async (request: HttpRequest) => {
                        const start = Number(/bytes=(\d+)-/.exec(request.headers.find(([k]) => k.toLowerCase() === 'range')?.[1] ?? '')?.[1] ?? -1);
                        this.ranges.push(start);
                        const response: HttpResponse = await target.http_request(request);
                        return { ...response, body: flip(new Uint8Array(response.body), start) };
                    };
                }
                if (key === 'get_chunk') {
                    return async (id: bigint, index: number) => {
                        const result = await target.get_chunk(id, index);
                        return 'Ok' in result ? { Ok: flip(new Uint8Array(result.Ok), index * CHUNK) } : result;
                    };
                }
                return target[key as string];
            }
        }) as T;
    }
}

describe('per-chunk certified downloads over the HTTP interface', () => {
    let server: SpawnedServer;
    let indexId: Principal;
    let tamper: Tampering;
    let silo: SiloClient;
    let publicFile: { asset: Asset; data: Uint8Array };
    let privateFile: { asset: Asset; data: Uint8Array };

    beforeAll(async () => {
        ({ server, indexId } = await spawnConfiguredSilo('silo-certified-'));
        tamper = new Tampering(await AgentTransport.create({ host: server.url, identity: alice, fetchRootKey: true }));
        silo = new SiloClient({ transport: tamper, indexId });
        const data = bytes(5 * CHUNK + 321, 7);
        publicFile = { asset: await silo.upload(data, { chunkSize: CHUNK, name: 'public.bin', visibility: 'public' }), data };
        const secret = bytes(3 * CHUNK + 5, 8);
        privateFile = { asset: await silo.upload(secret, { chunkSize: CHUNK, name: 'private.bin', visibility: 'private' }), data: secret };
    }, 120_000);
    afterAll(async () => {
        expect(await server?.stop(), server?.stderr()).toBe(0);
    });

    it('fetches every chunk of a public and a private file as a verified certified response', async () => {
        expect(publicFile.asset.visibility).toEqual({ public: null });
        expect(privateFile.asset.visibility).toEqual({ private: null });
        tamper.ranges.length = 0;
        expect(await silo.download(publicFile.asset.id)).toEqual(publicFile.data);
        expect([...tamper.ranges].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5].map((i) => i * CHUNK));
        tamper.ranges.length = 0;
        expect(await silo.download(privateFile.asset.id)).toEqual(privateFile.data);
        expect([...tamper.ranges].sort((a, b) => a - b)).toEqual([0, 1, 2, 3].map((i) => i * CHUNK));
    });

    it('an encrypted file: the verified ciphertext chunks are decrypted', async () => {
        const plain = bytes(3 * CHUNK, 9);
        const sealed = await silo.upload(plain, { encrypt: true, chunkSize: CHUNK, name: 'sealed.bin' });
        tamper.ranges.length = 0;
        tamper.corrupt = { start: CHUNK, times: 1 };
        expect(await silo.download(sealed.id)).toEqual(plain);
        expect(tamper.corrupt.times).toBe(0);
        expect([...tamper.ranges].sort((a, b) => a - b)).toEqual([0, 1, 1, 2, 3].map((i) => i * CHUNK));
    });

    it('detects a corrupted chunk on arrival and fetches it again', async () => {
        tamper.ranges.length = 0;
        tamper.corrupt = { start: 2 * CHUNK, times: 1 };
        expect(await silo.download(publicFile.asset.id)).toEqual(publicFile.data);
        expect(tamper.corrupt.times).toBe(0);
        expect(tamper.ranges.filter((start) => start === 2 * CHUNK)).toHaveLength(2);
        // Private (token-protected) chunks are checked the same way.
        tamper.corrupt = { start: CHUNK, times: 2 };
        expect(await silo.download(privateFile.asset.id)).toEqual(privateFile.data);
        expect(tamper.corrupt.times).toBe(0);
    });

    it('a chunk that never verifies fails the download naming it, before any later chunk is fetched', async () => {
        tamper.ranges.length = 0;
        tamper.corrupt = { start: 2 * CHUNK, times: Infinity };
        const failure = silo.download(publicFile.asset.id, undefined, { concurrency: 1 });
        await expect(failure).rejects.toBeInstanceOf(IntegrityError);
        await expect(failure).rejects.toThrow(/^Chunk 2 of asset \d+ failed verification 3 times: its response does not verify/);
        expect(tamper.ranges).toEqual([0, CHUNK, 2 * CHUNK, 2 * CHUNK, 2 * CHUNK]);
        tamper.corrupt = { start: -1, times: 0 };
    });
});
