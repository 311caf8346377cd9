import { describe, expect, it } from 'vitest';

import { deleteAsset, getAsset, listAssets } from '../../../canisters/index/assets';
import { writeChunk } from '../../../canisters/bucket/logic';
import { registerBucket } from '../../../canisters/index/buckets';
import { startEpoch } from '../../../canisters/index/state';
import { runDueTasks } from '../../../canisters/index/tasks';
import { abortUpload, beginUpload, expireSessions, finishUpload, sessionInfo } from '../../../canisters/index/uploads';
import { sha256 } from '../../../shared/sha256';
import type { BeginUploadArgs, UploadTicket } from '../../../shared/types';
import { ADMIN, ALICE, BOB, bytes, Gate, split, unwrap, World } from './harness';

const CHUNK = 256;

function args(data: Uint8Array, overrides: Partial<BeginUploadArgs> = {}, checkpoints = false): BeginUploadArgs {
    const { checkpoints: cps, digest } = split(data, overrides.chunk_size ?? CHUNK);
    return {
        name: 'file.bin',
        content_type: 'application/octet-stream',
        size: BigInt(data.length),
        sha256: digest,
        chunk_size: CHUNK,
        visibility: { private: null },
        checkpoints: checkpoints ? [cps] : [],
        ...overrides
    };
}

function worldWithBucket(config = {}): World {
    const world = new World(config);
    unwrap(registerBucket(world.state, world.env(ADMIN), world.addBucket(), 1_000_000n, false));
    return world;
}

async function begin(world: World, data: Uint8Array, overrides: Partial<BeginUploadArgs> = {}, checkpoints = false): Promise<UploadTicket> {
    return unwrap(await beginUpload(world.state, world.env(ALICE), world.ports, args(data, overrides, checkpoints)));
}

function putAll(world: World, ticket: UploadTicket, data: Uint8Array, skip: number[] = []): void {
    split(data, ticket.chunk_size).chunks.forEach((chunk, i) => {
        if (!skip.includes(i)) unwrap(world.put(ALICE, ticket.bucket, ticket.session_id, i, chunk));
    });
}

/** Stages an upload and starts finishing it, held at its first readback until `gate.open()`. */
async function heldFinish(data: Uint8Array, checkpoints = false) {
    const world = worldWithBucket();
    const ticket = await begin(world, data, {}, checkpoints);
    putAll(world, ticket, data);
    const gate = new Gate();
    world.holds.set('hashChunk', gate);
    const finishing = finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id);
    await new Promise((r) => setTimeout(r, 0));
    return { world, ticket, gate, finishing };
}

describe('begin_upload', () => {
    it('rejects anonymous callers and malformed arguments with typed errors', async () => {
        const world = worldWithBucket();
        const data = bytes(1000);
        const { Principal } = await import('@dfinity/principal');
        expect(await beginUpload(world.state, world.env(Principal.anonymous()), world.ports, args(data))).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
        const bad: [Partial<BeginUploadArgs>, string][] = [
            [{ name: '' }, 'name'],
            [{ chunk_size: 100 }, 'chunk_size'],
            [{ chunk_size: 0 }, 'chunk_size'],
            [{ chunk_size: 4 * 1024 * 1024 }, 'chunk_size'],
            [{ sha256: new Uint8Array(31) }, 'sha256'],
            [{ checkpoints: [[new Uint8Array(32)]] }, 'checkpoints'],
            [{ name: 'x'.repeat(2000) }, 'name']
        ];
        for (const [override, word] of bad) {
            const result = await beginUpload(world.state, world.env(ALICE), world.ports, { ...args(data), ...override });
            expect(result).toMatchObject({ Err: { InvalidArgument: expect.stringContaining(word) } });
        }
        expect(world.state.sessions.len()).toBe(0);
    });

    it('enforces the quota against committed plus reserved bytes', async () => {
        const world = worldWithBucket({ quota_bytes: 1500n });
        await begin(world, bytes(1000));
        const second = await beginUpload(world.state, world.env(ALICE), world.ports, args(bytes(600)));
        expect(second).toEqual({ Err: { QuotaExceeded: { limit: 1500n, used: 1000n, requested: 600n } } });
        // Another owner has a quota of their own.
        expect('Ok' in (await beginUpload(world.state, world.env(BOB), world.ports, args(bytes(600))))).toBe(true);
    });

    it('reports NoCapacity when no bucket has room and none can be created', async () => {
        const world = worldWithBucket();
        const result = await beginUpload(world.state, world.env(ALICE), world.ports, args(bytes(10), { size: 2_000_000n }));
        expect(result).toMatchObject({ Err: { NoCapacity: expect.stringContaining('bucket module') } });
    });

    it('releases the reservation when the bucket cannot open the session', async () => {
        const world = worldWithBucket();
        const bucket = world.state.buckets.items()[0][1].id;
        world.unreachable.add(bucket.toText());
        const result = await beginUpload(world.state, world.env(ALICE), world.ports, args(bytes(1000)));
        expect(result).toMatchObject({ Err: { BucketUnavailable: { bucket } } });
        expect(world.state.buckets.get(bucket)!.reserved_bytes).toBe(0n);
        expect(world.state.sessions.len()).toBe(0);
    });
});

describe('finish_upload', () => {
    it('commits an asset whose every byte was read back and hashed', async () => {
        const world = worldWithBucket();
        const data = bytes(1000, 7);
        const ticket = await begin(world, data);
        expect(ticket.chunk_count).toBe(4);
        putAll(world, ticket, data);
        const asset = unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id));
        expect(asset).toMatchObject({ id: ticket.session_id, size: 1000n, chunk_count: 4, name: 'file.bin' });
        expect(asset.sha256).toEqual(sha256(data));
        expect(world.calls.filter((c) => c.method === 'hashChunk')).toHaveLength(4);
        // Committed: reservation became usage, the bucket heard of it, and the session is gone.
        const bucket = world.state.buckets.get(ticket.bucket)!;
        expect([bucket.used_bytes, bucket.reserved_bytes]).toEqual([1000n, 0n]);
        expect(world.state.tasks.len()).toBe(0);
        expect(world.state.sessions.len()).toBe(0);
        expect('committed' in world.bucket(ticket.bucket).sessions.get(ticket.session_id)!.state).toBe(true);
        // A second finish returns the committed asset.
        expect(unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id))).toEqual(asset);
        expect(unwrap(getAsset(world.state, world.env(ALICE), asset.id))).toEqual(asset);
        expect(getAsset(world.state, world.env(BOB), asset.id)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
    });

    it('commits empty files and files of exactly one chunk', async () => {
        for (const size of [0, 1, CHUNK, CHUNK + 1, 64, 63]) {
            const world = worldWithBucket();
            const data = bytes(size, size + 3);
            const ticket = await begin(world, data, {}, true);
            putAll(world, ticket, data);
            const asset = unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id));
            expect(asset.sha256).toEqual(sha256(data));
            expect(asset.size).toBe(BigInt(size));
        }
    });

    it('lists missing chunks, and finishes once they arrive', async () => {
        const world = worldWithBucket();
        const data = bytes(1000);
        const ticket = await begin(world, data);
        putAll(world, ticket, data, [1, 3]);
        expect(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id)).toEqual({ Err: { MissingChunks: { missing: Uint32Array.from([1, 3]), count: 2 } } });
        expect(unwrap(sessionInfo(world.state, world.env(ALICE), ticket.session_id)).state).toEqual({ open: null });
        putAll(world, ticket, data);
        unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id));
    });

    it('names the corrupted chunk by checkpoint, keeps the verified prefix and resumes from it', async () => {
        const world = worldWithBucket();
        const data = bytes(1200, 9);
        const ticket = await begin(world, data, {}, true);
        putAll(world, ticket, data);
        // Corrupt chunk 2 in the bucket behind the client's back.
        const corrupted = data.slice(2 * CHUNK, 3 * CHUNK);
        corrupted[17] ^= 0xff;
        writeChunk(world.bucket(ticket.bucket), ticket.session_id, 2, corrupted);
        expect(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id)).toEqual({ Err: { ChecksumMismatch: { chunk_index: 2 } } });
        const info = unwrap(sessionInfo(world.state, world.env(ALICE), ticket.session_id));
        expect(info.verified_bytes).toBe(BigInt(2 * CHUNK));
        expect(info.state).toEqual({ open: null });
        // Verified chunks are frozen; the bad one was dropped and must be re-sent.
        expect(world.put(ALICE, ticket.bucket, ticket.session_id, 0, data.subarray(0, CHUNK))).toMatchObject({ Err: { SessionClosed: expect.anything() } });
        expect(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id)).toEqual({ Err: { MissingChunks: { missing: Uint32Array.from([2]), count: 1 } } });
        unwrap(world.put(ALICE, ticket.bucket, ticket.session_id, 2, data.subarray(2 * CHUNK, 3 * CHUNK)));
        world.calls.length = 0;
        const asset = unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id));
        expect(asset.sha256).toEqual(sha256(data));
        // Resumed at chunk 2: chunks 0 and 1 were not read again.
        expect(world.calls.filter((c) => c.method === 'hashChunk').map((c) => (c.args[0] as { index: number }).index)).toEqual([2, 3, 4]);
    });

    it('detects a wrong whole-file hash without checkpoints and lets the client repair it', async () => {
        const world = worldWithBucket();
        const data = bytes(700, 5);
        const ticket = await begin(world, data);
        const wrong = data.slice();
        wrong[300] ^= 1;
        putAll(world, ticket, wrong);
        const result = await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id);
        expect(result).toEqual({ Err: { HashMismatch: { expected: sha256(data), actual: sha256(wrong) } } });
        expect(unwrap(sessionInfo(world.state, world.env(ALICE), ticket.session_id)).verified_bytes).toBe(0n);
        putAll(world, ticket, data);
        expect(unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id)).sha256).toEqual(sha256(data));
    });

    it('hashes in slices when configured, with the same result', async () => {
        const world = worldWithBucket({ hash_slice_bytes: 64 });
        const data = bytes(1000, 11);
        const ticket = await begin(world, data, {}, true);
        putAll(world, ticket, data);
        unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id));
        expect(world.calls.filter((c) => c.method === 'hashChunk').length).toBe(Math.ceil(1000 / 64));
    });

    it('answers Busy to a second finish while one runs, and to abort', async () => {
        const { world, ticket, gate, finishing: first } = await heldFinish(bytes(600));
        expect(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id)).toMatchObject({ Err: { Busy: expect.any(String) } });
        expect(await abortUpload(world.state, world.env(ALICE), world.ports, ticket.session_id)).toMatchObject({ Err: { Busy: expect.any(String) } });
        gate.open();
        unwrap(await first);
    });

    it('treats a finish lock from before an upgrade as stale', async () => {
        const { world, ticket, gate, finishing: interrupted } = await heldFinish(bytes(600));
        // The index is upgraded while the first finish waits on the bucket: its lock no longer counts.
        startEpoch(world.state);
        unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id));
        gate.open();
        expect(await interrupted).toMatchObject({ Err: { SessionNotFound: ticket.session_id } });
    });

    it('keeps the session when the bucket fails mid-finish, and finishes later', async () => {
        const { world, ticket, gate, finishing: pending } = await heldFinish(bytes(1000), true);
        world.unreachable.add(ticket.bucket.toText());
        gate.open();
        expect(await pending).toMatchObject({ Err: { BucketUnavailable: { bucket: ticket.bucket } } });
        expect(unwrap(sessionInfo(world.state, world.env(ALICE), ticket.session_id)).state).toEqual({ open: null });
        world.unreachable.clear();
        expect(unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id)).size).toBe(1000n);
    });

    it('commits even when the bucket cannot hear about it yet, and tells it later', async () => {
        const world = worldWithBucket();
        const data = bytes(300);
        const ticket = await begin(world, data);
        putAll(world, ticket, data);
        const originalCommit = world.bucketApi.commitSession;
        world.bucketApi.commitSession = async () => {
            throw new Error('bucket is stopping');
        };
        unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id));
        expect(world.state.tasks.len()).toBe(1);
        world.bucketApi.commitSession = originalCommit;
        world.now += 3_600_000_000_000n;
        await runDueTasks(world.state, world.env(ALICE), world.ports);
        expect(world.state.tasks.len()).toBe(0);
        expect('committed' in world.bucket(ticket.bucket).sessions.get(ticket.session_id)!.state).toBe(true);
    });

    it('refuses other callers', async () => {
        const world = worldWithBucket();
        const data = bytes(100);
        const ticket = await begin(world, data);
        putAll(world, ticket, data);
        expect(await finishUpload(world.state, world.env(BOB), world.ports, ticket.session_id)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
        expect(world.put(BOB, ticket.bucket, ticket.session_id, 0, data)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
    });
});

describe('abort and expiry', () => {
    it('abort frees the session, its reservation and its chunks', async () => {
        const world = worldWithBucket();
        const data = bytes(1000);
        const ticket = await begin(world, data);
        putAll(world, ticket, data);
        unwrap(await abortUpload(world.state, world.env(ALICE), world.ports, ticket.session_id));
        expect(world.state.sessions.len()).toBe(0);
        expect(world.state.buckets.get(ticket.bucket)!.reserved_bytes).toBe(0n);
        expect(world.bucket(ticket.bucket).pieces.len()).toBe(0);
        expect(world.bucket(ticket.bucket).sessions.len()).toBe(0);
        expect(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id)).toEqual({ Err: { SessionNotFound: ticket.session_id } });
    });

    it('expires sessions without progress, but not those the bucket saw writes for', async () => {
        const world = worldWithBucket({ session_ttl_ns: 1_000_000_000_000n });
        const idle = await begin(world, bytes(300, 1));
        const busy = await begin(world, bytes(300, 2));
        world.now += 900_000_000_000n;
        unwrap(world.put(ALICE, busy.bucket, busy.session_id, 0, bytes(300, 2).subarray(0, CHUNK)));
        world.now += 200_000_000_000n;
        await expireSessions(world.state, world.env(ALICE), world.ports);
        expect(world.state.sessions.containsKey(idle.session_id)).toBe(false);
        expect(world.state.sessions.containsKey(busy.session_id)).toBe(true);
        expect(world.state.buckets.get(idle.bucket)!.reserved_bytes).toBe(300n);
        world.now += 2_000_000_000_000n;
        await expireSessions(world.state, world.env(ALICE), world.ports);
        expect(world.state.sessions.len()).toBe(0);
        expect(world.bucket(busy.bucket).pieces.len()).toBe(0);
        expect(await finishUpload(world.state, world.env(ALICE), world.ports, busy.session_id)).toEqual({ Err: { SessionExpired: busy.session_id } });
        expect(sessionInfo(world.state, world.env(ALICE), idle.session_id)).toEqual({ Err: { SessionExpired: idle.session_id } });
        // A week later the note is forgotten too.
        world.now += 8n * 24n * 3_600_000_000_000n;
        await expireSessions(world.state, world.env(ALICE), world.ports);
        expect(sessionInfo(world.state, world.env(ALICE), idle.session_id)).toEqual({ Err: { SessionNotFound: idle.session_id } });
    });
});

describe('assets', () => {
    it('lists by owner in pages that survive deletions, hiding others’ private assets', async () => {
        const world = worldWithBucket();
        const ids: bigint[] = [];
        for (let i = 0; i < 7; i++) {
            const data = bytes(10 + i, i);
            const ticket = await begin(world, data, { visibility: i % 2 ? { public: null } : { private: null } });
            putAll(world, ticket, data);
            ids.push(unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id)).id);
        }
        const first = unwrap(listAssets(world.state, world.env(ALICE), { owner: [], cursor: [], limit: [3] }));
        expect(first.assets.map((a) => a.id)).toEqual(ids.slice(0, 3));
        unwrap(await deleteAsset(world.state, world.env(ALICE), world.ports, ids[3]));
        const second = unwrap(listAssets(world.state, world.env(ALICE), { owner: [], cursor: first.next_cursor, limit: [3] }));
        expect(second.assets.map((a) => a.id)).toEqual([ids[4], ids[5], ids[6]]);
        const seenByBob = unwrap(listAssets(world.state, world.env(BOB), { owner: [ALICE], cursor: [], limit: [100] }));
        expect(seenByBob.assets.map((a) => a.id)).toEqual([ids[1], ids[5]]);
        expect(listAssets(world.state, world.env(BOB), { owner: [], cursor: [], limit: [0] })).toMatchObject({ Err: { InvalidArgument: expect.any(String) } });
    });

    it('deletes atomically from the index and later from an unreachable bucket', async () => {
        const world = worldWithBucket();
        const data = bytes(900);
        const ticket = await begin(world, data);
        putAll(world, ticket, data);
        const asset = unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id));
        expect(await deleteAsset(world.state, world.env(BOB), world.ports, asset.id)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
        world.unreachable.add(asset.bucket.toText());
        unwrap(await deleteAsset(world.state, world.env(ALICE), world.ports, asset.id));
        expect(getAsset(world.state, world.env(ALICE), asset.id)).toEqual({ Err: { AssetNotFound: asset.id } });
        // The chunks still occupy the bucket: its used_bytes keeps them until they are gone (issue 9, hole 10).
        expect(world.state.buckets.get(asset.bucket)!.used_bytes).toBe(900n);
        expect(world.bucket(asset.bucket).pieces.len()).toBe(4);
        world.unreachable.clear();
        world.now += 3_600_000_000_000n;
        // Deletion proceeds in batches across maintenance runs until nothing is left.
        for (let i = 0; i < 5 && world.state.tasks.len() > 0; i++) await runDueTasks(world.state, world.env(ALICE), world.ports);
        expect(world.bucket(asset.bucket).pieces.len()).toBe(0);
        expect(world.state.tasks.len()).toBe(0);
        expect(world.state.buckets.get(asset.bucket)!.used_bytes).toBe(0n);
    });
});
