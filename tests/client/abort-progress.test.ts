/**
 * The client with any kind of bytes (Buffer, views), and its abort signals, timers and progress while
 * the in-process replica executes (issue 10, items 1-3).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { AbortedError, SessionNotFoundError, SiloClient } from '../../client';
import type { Progress } from '../../client/silo';
import { ReplicaTransport } from '../../client/transport';
import { sha256 } from '../../shared/sha256';
import { createPic, type TestPic } from '../helpers/pic';
import { bytes, deploySilo, identity } from '../helpers/silo';

const CHUNK = 4096;
let pic: TestPic;
let client: SiloClient;

beforeAll(async () => {
    pic = await createPic();
    const silo = await deploySilo(pic);
    client = new SiloClient({ transport: new ReplicaTransport(pic, identity('carol').getPrincipal()), indexId: silo.indexId });
});
afterAll(async () => {
    await pic.tearDown();
});

/** Aborts from a timer once `phase` starts: the timer only runs if the event loop does. */
function abortWhen(phase: Progress['phase']): { controller: AbortController; onProgress: (p: Progress) => void; phases: string[] } {
    const controller = new AbortController();
    const phases: string[] = [];
    return {
        controller,
        phases,
        onProgress: (p) => {
            if (phases.at(-1) !== p.phase) phases.push(p.phase);
            if (p.phase === phase && !controller.signal.aborted) setTimeout(() => controller.abort(), 0);
        }
    };
}

describe('uploads of any Uint8Array', () => {
    it('uploads a Buffer from readFileSync, a pooled Buffer and views at odd offsets, leaving them unchanged', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'silo-buffers-'));
        const data = bytes(5 * CHUNK + 7, 31);
        writeFileSync(join(dir, 'f.bin'), data);
        const backing = bytes(3 * CHUNK + 100, 32);
        const inputs: [string, Uint8Array][] = [
            ['readFileSync', readFileSync(join(dir, 'f.bin'))],
            ['pooled Buffer', Buffer.from(data.subarray(0, 3000))],
            ['Buffer.subarray', Buffer.from(backing).subarray(13, 13 + 2 * CHUNK + 1)],
            ['view at an odd offset', new Uint8Array(backing.buffer, 7, 2 * CHUNK + 64)]
        ];
        for (const [kind, input] of inputs) {
            const before = Uint8Array.from(input);
            const asset = await client.upload(input, { chunkSize: CHUNK, name: kind });
            expect(asset.sha256, kind).toEqual(sha256(before));
            expect(Uint8Array.from(input), kind).toEqual(before);
            expect(await client.download(asset.id), kind).toEqual(before);
        }
    });
});

describe('abort, timers and progress while the replica runs', () => {
    it('aborts in the hashing phase, before any session exists', async () => {
        const { controller, onProgress } = abortWhen('hashing');
        let session: bigint | undefined;
        const big = bytes(16 * 1024 * 1024, 33);
        const error = await client.upload(big, { chunkSize: 1024 * 1024, signal: controller.signal, onProgress, onSession: (id) => (session = id) }).catch((e) => e);
        expect(error).toBeInstanceOf(AbortedError);
        expect(error).toMatchObject({ operation: 'upload', phase: 'hashing', committing: false });
        expect(session).toBeUndefined();
    });

    it('aborts in the sending phase and drops the session', async () => {
        const { controller, onProgress } = abortWhen('sending');
        let session: bigint | undefined;
        const error = await client.upload(bytes(40 * CHUNK, 34), { chunkSize: CHUNK, concurrency: 1, signal: controller.signal, onProgress, onSession: (id) => (session = id) }).catch((e) => e);
        expect(error).toBeInstanceOf(AbortedError);
        expect(error).toMatchObject({ phase: 'sending', sessionId: session, committing: false });
        await expect(client.session(session!)).rejects.toBeInstanceOf(SessionNotFoundError);
    });

    it('aborts in the verifying phase, says the index may still commit, and committedAsset tells the truth', async () => {
        const { controller, onProgress } = abortWhen('verifying');
        const data = bytes(40 * CHUNK, 35);
        let session: bigint | undefined;
        let ticks = 0;
        const timer = setInterval(() => ticks++, 1);
        const error = await client.upload(data, { chunkSize: CHUNK, concurrency: 1, signal: controller.signal, onProgress, onSession: (id) => (session = id) }).catch((e) => e);
        clearInterval(timer);
        expect(ticks).toBeGreaterThan(0);
        expect(error).toBeInstanceOf(AbortedError);
        expect(error).toMatchObject({ phase: 'verifying', sessionId: session, committing: true });
        expect(error.message).toMatch(/may still be committed as asset/);
        // The index finishes on its own; once it has, the asset is there, exactly once.
        const asset = await vi.waitFor(async () => {
            const committed = await client.committedAsset(session!);
            if (committed === undefined) throw new Error('not yet');
            return committed;
        }, { timeout: 60_000, interval: 100 });
        expect(asset.sha256).toEqual(sha256(data));
        expect(await client.committedAsset(session!)).toEqual(asset);
    });

    it('ends every abort in an AbortedError: before the start, and during a download', async () => {
        const before = await client.upload(bytes(10), { signal: AbortSignal.abort() }).catch((e) => e);
        expect(before).toBeInstanceOf(AbortedError);
        const asset = await client.upload(bytes(30 * CHUNK, 36), { chunkSize: CHUNK });
        const notStarted = await client.download(asset.id, undefined, { signal: AbortSignal.abort() }).catch((e) => e);
        expect(notStarted).toBeInstanceOf(AbortedError);
        expect(notStarted.operation).toBe('download');
        const { controller, onProgress } = abortWhen('receiving');
        const during = await client.download(asset.id, undefined, { concurrency: 1, signal: controller.signal, onProgress }).catch((e) => e);
        expect(during).toBeInstanceOf(AbortedError);
        expect(during.operation).toBe('download');
    });

    it('reports hashing, sending and verifying, for an empty upload too', async () => {
        const empty: Progress[] = [];
        await client.upload(new Uint8Array(0), { onProgress: (p) => empty.push(p) });
        expect([...new Set(empty.map((p) => p.phase))]).toEqual(['hashing', 'sending', 'verifying']);
        expect(empty.every((p) => p.bytesTotal === 0 && p.bytesDone === 0)).toBe(true);

        const data = bytes(12 * CHUNK + 5, 37);
        const seen: Progress[] = [];
        await client.upload(data, { chunkSize: CHUNK, onProgress: (p) => seen.push(p) });
        expect([...new Set(seen.map((p) => p.phase))]).toEqual(['hashing', 'sending', 'verifying']);
        for (const phase of ['hashing', 'sending', 'verifying'] as const) {
            const of = seen.filter((p) => p.phase === phase);
            expect(of.at(-1)!.bytesDone, phase).toBe(data.length);
            // Never backwards within a phase.
            expect(of.map((p) => p.bytesDone), phase).toEqual([...of.map((p) => p.bytesDone)].sort((a, b) => a - b));
        }
        expect(seen.filter((p) => p.phase === 'sending' && p.chunkIndex !== undefined)).toHaveLength(13);
    });
});
