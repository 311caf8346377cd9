/** The client library against the real canisters on the test replica. */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import type { Identity } from '@dfinity/agent';
import type { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
    AbortedError,
    ChecksumMismatchError,
    IntegrityError,
    InvalidArgumentError,
    QuotaExceededError,
    SessionNotFoundError,
    SiloClient,
    TransportError,
    UnauthorizedError
} from '../../client';
import { stateIdentity } from '../../client/embedded';
import { AgentTransport, ReplicaTransport, type Transport } from '../../client/transport';
import { MAX_CHUNK_SIZE } from '../../shared/constants';
import { indexIdlFactory } from '../../shared/idl';
import { sha256 } from '../../shared/sha256';
import { emptyConfigUpdate } from '../../shared/types';
import { createPic, type TestPic } from '../helpers/pic';
import { unwrap } from '../helpers/result';
import { spawnConfiguredSilo } from '../helpers/server';
import { ADMIN, bytes, deploySilo, identity } from '../helpers/silo';

const CHUNK = 1024;
const alice = identity('alice');

/** A transport whose actors pass every call through `hook` first (to count, fail or corrupt calls). */
function hooked(inner: Transport, hook: (method: string, args: unknown[]) => Promise<void> | void, reply?: (method: string, result: any) => any): Transport {
    return {
        principal: inner.principal,
        actor<T>(idl: IDL.InterfaceFactory, id: Principal): T {
            const actor = inner.actor<Record<string, (...a: unknown[]) => Promise<unknown>>>(idl, id);
            return new Proxy(actor, {
                get: (target, key) => async (...args: unknown[]) => {
                    await hook(String(key), args);
                    const result = await target[key as string](...args);
                    return reply ? reply(String(key), result) : result;
                }
            }) as T;
        }
    };
}

/** A Silo (an index and two buckets) and transports to it, as one caller or another. */
interface Network {
    indexId: Principal;
    transport(caller: Identity): Promise<Transport>;
    /** A transport as a controller of the index. */
    admin(): Promise<Transport>;
    close(): Promise<void>;
}

/** The test replica in process, the Silo deployed on it directly. */
async function inProcess(): Promise<Network> {
    const pic: TestPic = await createPic();
    const silo = await deploySilo(pic, { buckets: 2 });
    return {
        indexId: silo.indexId,
        transport: async (caller) => new ReplicaTransport(pic, caller.getPrincipal()),
        admin: async () => new ReplicaTransport(pic, ADMIN),
        close: () => pic.tearDown()
    };
}

/** A `silo start` in a child process, reached with HttpAgent; its index is configured and given a second bucket like the other. */
async function overHttp(): Promise<Network> {
    // The same configuration as the in-process deployment (tests/helpers/silo): small chunks allowed.
    const { server, state, indexId, admin } = await spawnConfiguredSilo('silo-client-http-');
    const transport = (caller?: Identity) => AgentTransport.create({ host: server.url, identity: caller, fetchRootKey: true });
    const network: Network = {
        indexId,
        transport,
        // The state directory's identity deployed the Silo: it controls the index.
        admin: async () => transport(await stateIdentity(state)),
        close: async () => {
            expect(await server.stop(), server.stderr()).toBe(0);
        }
    };
    unwrap(await admin.admin_create_bucket());
    return network;
}

// The same suite on both transports: the in-process replica, and HttpAgent through a running `silo start`.
describe.each([
    ['in process', inProcess],
    ['over HTTP', overHttp]
] as const)('SiloClient (%s)', (_, open) => {
    let network: Network;
    let silo: { indexId: Principal };
    let transport: Transport;
    let client: SiloClient;

    beforeAll(async () => {
        network = await open();
        silo = { indexId: network.indexId };
        transport = await network.transport(alice);
        client = new SiloClient({ transport, indexId: silo.indexId });
    });
    afterAll(async () => {
        await network?.close();
    });

    it('round-trips random data of every interesting size', async () => {
        for (const size of [0, 1, CHUNK, CHUNK + 1, 17 * CHUNK + 5]) {
            const data = bytes(size, size + 1);
            const asset = await client.upload(data, { chunkSize: CHUNK, name: `f${size}` });
            expect(asset.size).toBe(BigInt(size));
            expect(asset.sha256).toEqual(sha256(data));
            expect(await client.download(asset.id)).toEqual(data);
        }
    });

    it('uploads from a file path, a Blob and a stream, and downloads to a file', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'silo-client-'));
        const data = bytes(5 * CHUNK + 3, 42);
        writeFileSync(join(dir, 'in.bin'), data);
        const fromFile = await client.upload(join(dir, 'in.bin'), { chunkSize: CHUNK });
        expect(fromFile.name).toBe('in.bin');
        const fromBlob = await client.upload(new Blob([data as Uint8Array<ArrayBuffer>]), { chunkSize: CHUNK });
        const fromStream = await client.upload(Readable.from([data.subarray(0, 100), data.subarray(100)]), { chunkSize: CHUNK });
        for (const asset of [fromFile, fromBlob, fromStream]) expect(asset.sha256).toEqual(sha256(data));
        const out = join(dir, 'out.bin');
        await client.download(fromStream.id, out);
        expect(new Uint8Array(readFileSync(out))).toEqual(data);
    });

    it('records a content type by one rule: the option, else a Blob\'s type, else the name\'s extension', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'silo-client-types-'));
        const data = bytes(100, 7);
        writeFileSync(join(dir, 'x.png'), data);
        const typeOf = async (input: Parameters<SiloClient['upload']>[0], options: Parameters<SiloClient['upload']>[1] = {}) => (await client.upload(input, options)).content_type;
        expect(await typeOf(join(dir, 'x.png'))).toBe('image/png');
        expect(await typeOf(data, { name: 'report.pdf' })).toBe('application/pdf');
        expect(await typeOf(new Blob([data as Uint8Array<ArrayBuffer>], { type: 'text/plain' }), { name: 'x.bin' })).toBe('text/plain');
        // A File without a type (as browsers give for unknown extensions): its name decides.
        expect(await typeOf(new File([data as Uint8Array<ArrayBuffer>], 'photo.jpg'))).toBe('image/jpeg');
        expect(await typeOf(new File([data as Uint8Array<ArrayBuffer>], 'photo.jpg', { type: 'image/webp' }))).toBe('image/webp');
        expect(await typeOf(new Blob([data as Uint8Array<ArrayBuffer>], { type: 'text/plain' }), { contentType: 'text/csv' })).toBe('text/csv');
        expect(await typeOf(data)).toBe('application/octet-stream');
    });

    it('checks the chunk size before reading anything, with the index\'s minimum, as an InvalidArgumentError', async () => {
        // A source that must never be read: the size is refused before.
        const unread = {
            [Symbol.asyncIterator]() {
                throw new Error('the source was read');
            }
        } as AsyncIterable<Uint8Array>;
        for (const chunkSize of [0, 63, 100, 64.5, MAX_CHUNK_SIZE + 64]) {
            await expect(client.upload(unread, { chunkSize })).rejects.toThrow(InvalidArgumentError);
            await expect(client.upload(bytes(10, 1), { chunkSize })).rejects.toThrow(/chunk size must be a multiple of 64 from 64 to \d+ bytes/);
        }
        const admin = (await network.admin()).actor<any>(indexIdlFactory, network.indexId);
        unwrap(await admin.admin_set_config({ ...emptyConfigUpdate(), min_chunk_size: [4096] }));
        try {
            const refused = client.upload(bytes(5000, 2), { chunkSize: 1024 });
            await expect(refused).rejects.toThrow(InvalidArgumentError);
            await expect(client.upload(bytes(5000, 2), { chunkSize: 1024 })).rejects.toThrow(/at least 4096 bytes \(the index's min_chunk_size\)/);
            // One chunk is exempt.
            expect((await client.upload(bytes(1000, 3), { chunkSize: 1024 })).chunk_count).toBe(1);
        } finally {
            unwrap(await admin.admin_set_config({ ...emptyConfigUpdate(), min_chunk_size: [64] }));
        }
    });

    it('keeps at most `concurrency` chunks in flight and reports progress', async () => {
        let inFlight = 0;
        let peak = 0;
        const counting = hooked(transport, async (method) => {
            if (method !== 'put_chunk') return;
            inFlight++;
            peak = Math.max(peak, inFlight);
            await new Promise((r) => setTimeout(r, 2));
            inFlight--;
        });
        const progress: number[] = [];
        const data = bytes(20 * CHUNK, 7);
        const asset = await new SiloClient({ transport: counting, indexId: silo.indexId }).upload(data, {
            chunkSize: CHUNK,
            concurrency: 3,
            onProgress: (p) => p.phase === 'sending' && progress.push(p.bytesDone)
        });
        expect(peak).toBe(3);
        expect(progress.at(-1)).toBe(data.length);
        expect(await client.download(asset.id, undefined, { concurrency: 2 })).toEqual(data);
    });

    it('retries transient failures, with a counter that starts over when progress is made', async () => {
        let calls = 0;
        const flaky = hooked(transport, (method) => {
            if (method === 'put_chunk' && ++calls % 2 === 1) throw new TransportError('injected transient failure', 2);
        });
        const seen: number[] = [];
        const data = bytes(8 * CHUNK, 8);
        const retrying = new SiloClient({
            transport: flaky,
            indexId: silo.indexId,
            // Gives up on a second failure in a row: passes only because successes reset the count.
            retry: (error, attempt) => {
                seen.push(attempt);
                return error instanceof TransportError && attempt < 2 ? 1 : undefined;
            }
        });
        const asset = await retrying.upload(data, { chunkSize: CHUNK, concurrency: 1 });
        expect(asset.sha256).toEqual(sha256(data));
        expect(seen).toEqual(Array(8).fill(1));
        const neverRetry = new SiloClient({ transport: flaky, indexId: silo.indexId, retry: () => undefined });
        await expect(neverRetry.upload(data, { chunkSize: CHUNK, concurrency: 1 })).rejects.toBeInstanceOf(TransportError);
    });

    it('aborts through an AbortSignal, cleaning up the session unless asked to keep it', async () => {
        const data = bytes(30 * CHUNK, 9);
        let session: bigint | undefined;
        const controller = new AbortController();
        await expect(
            client.upload(data, { chunkSize: CHUNK, concurrency: 1, signal: controller.signal, onSession: (id) => (session = id), onProgress: (p) => p.chunkIndex !== undefined && p.phase === 'sending' && controller.abort() })
        ).rejects.toBeInstanceOf(AbortedError);
        await expect(client.session(session!)).rejects.toBeInstanceOf(SessionNotFoundError);

        const keep = new AbortController();
        await expect(
            client.upload(data, { chunkSize: CHUNK, concurrency: 1, signal: keep.signal, keepSessionOnAbort: true, onSession: (id) => (session = id), onProgress: (p) => p.chunkIndex !== undefined && p.phase === 'sending' && keep.abort() })
        ).rejects.toThrow(/resume/);
        const asset = await client.resume(session!, data);
        expect(await client.download(asset.id)).toEqual(data);
    });

    it('resumes after a crash, sending only what the bucket lacks', async () => {
        const data = bytes(12 * CHUNK, 10);
        let sent = 0;
        let session: bigint | undefined;
        const crashing = hooked(transport, (method) => {
            if (method === 'put_chunk' && ++sent > 5) throw new Error('process killed');
        });
        await expect(
            new SiloClient({ transport: crashing, indexId: silo.indexId, retry: () => undefined }).upload(data, { chunkSize: CHUNK, concurrency: 1, onSession: (id) => (session = id) })
        ).rejects.toThrow('process killed');
        const puts: number[] = [];
        const counting = hooked(transport, (method, args) => {
            if (method === 'put_chunk') puts.push(args[1] as number);
        });
        const asset = await new SiloClient({ transport: counting, indexId: silo.indexId }).resume(session!, data);
        expect(puts).toEqual([5, 6, 7, 8, 9, 10, 11]);
        expect(await client.download(asset.id)).toEqual(data);
    });

    it('re-sends a chunk the index finds corrupted, then finishes', async () => {
        const data = bytes(6 * CHUNK, 11);
        const puts: number[] = [];
        const corrupting = hooked(transport, (method, args) => {
            if (method !== 'put_chunk') return;
            puts.push(args[1] as number);
            if (args[1] === 2 && puts.filter((i) => i === 2).length === 1) {
                const corrupted = (args[2] as Uint8Array).slice();
                corrupted[0] ^= 0xff;
                args[2] = corrupted;
            }
        });
        const asset = await new SiloClient({ transport: corrupting, indexId: silo.indexId }).upload(data, { chunkSize: CHUNK, concurrency: 1 });
        expect(puts).toEqual([0, 1, 2, 3, 4, 5, 2]);
        expect(await client.download(asset.id)).toEqual(data);
        expect(new ChecksumMismatchError(2).message).toMatch(/send that chunk again/);
    });

    it('refuses to return downloaded bytes that do not match the asset hash', async () => {
        const data = bytes(3 * CHUNK, 12);
        const asset = await client.upload(data, { chunkSize: CHUNK });
        const tampering = hooked(transport, () => {}, (method, result) => {
            if (method === 'get_chunk' && 'Ok' in result) result.Ok[0] ^= 1;
            return result;
        });
        const dir = mkdtempSync(join(tmpdir(), 'silo-integrity-'));
        await expect(new SiloClient({ transport: tampering, indexId: silo.indexId }).download(asset.id, join(dir, 'x'))).rejects.toBeInstanceOf(IntegrityError);
        expect(() => readFileSync(join(dir, 'x'))).toThrow();
        expect(readdirSync(dir)).toEqual([]);
    });

    it('lists, reads and deletes assets, and names errors after the canister variants', async () => {
        const mine = [];
        for await (const asset of client.listAssets({ pageSize: 2 })) mine.push(asset.id);
        expect(mine.length).toBeGreaterThan(5);
        await client.deleteAsset(mine[0]);
        const after = [];
        for await (const asset of client.listAssets()) after.push(asset.id);
        expect(after).toEqual(mine.slice(1));
        const bob = new SiloClient({ transport: await network.transport(identity('bob')), indexId: silo.indexId });
        await expect(bob.getAsset(mine[1])).rejects.toBeInstanceOf(UnauthorizedError);
        expect((await client.stats()).buckets).toBe(2);
        expect((await client.buckets()).length).toBe(2);
        const admin = (await network.admin()).actor<any>(indexIdlFactory, silo.indexId);
        unwrap(await admin.admin_set_config({ ...emptyConfigUpdate(), quota_bytes: [100n] }));
        await expect(client.upload(bytes(200))).rejects.toBeInstanceOf(QuotaExceededError);
    });
});

// The soak found this state (seed 1397518912): finish_upload blames a chunk, but the index's re-open of
// the bucket's session is lost because the bucket is being stopped, so the bucket still refuses chunks
// until the next finish re-opens it (tests/silo/model.test.ts replays it on the canisters). Here the
// bucket's answer to the client's status question is made what it would be then: sealed.
describe('SiloClient after a re-open its bucket never heard', () => {
    it('finishes again instead of sending into a sealed session, then repairs and commits', async () => {
        const pic: TestPic = await createPic();
        try {
            const silo = await deploySilo(pic, { buckets: 1 });
            const data = bytes(6 * CHUNK, 12);
            const calls: string[] = [];
            let corrupted = false;
            let blamed = false;
            let sealedAnswer = false;
            const transport = hooked(
                new ReplicaTransport(pic, alice.getPrincipal()),
                (method, args) => {
                    calls.push(method === 'put_chunk' ? `put ${args[1]}` : method);
                    if (method === 'put_chunk' && args[1] === 3 && !corrupted) {
                        corrupted = true;
                        const bad = (args[2] as Uint8Array).slice();
                        bad[0] ^= 0xff;
                        args[2] = bad;
                    }
                },
                (method, result) => {
                    if (method === 'finish_upload' && 'Err' in result && 'ChecksumMismatch' in result.Err) blamed = true;
                    if (method === 'upload_status' && blamed && !sealedAnswer && 'Ok' in result) {
                        sealedAnswer = true;
                        return { Ok: { ...result.Ok, state: { sealed: null } } };
                    }
                    return result;
                }
            );
            const client = new SiloClient({ transport, indexId: silo.indexId });
            const asset = await client.upload(data, { chunkSize: CHUNK, concurrency: 1 });
            expect(sealedAnswer).toBe(true);
            expect(await client.download(asset.id)).toEqual(data);
            // After the first finish blamed chunk 3 the client asked the bucket, sent nothing into the
            // "sealed" session and finished again; then chunk 3 went again and the upload committed.
            const after = calls.slice(calls.indexOf('finish_upload') + 1);
            expect(after.slice(0, 2)).toEqual(['upload_status', 'finish_upload']);
            expect(after.filter((c) => c.startsWith('put'))).toEqual(['put 3']);
        } finally {
            await pic.tearDown();
        }
    }, 120_000);
});
