/**
 * Issue 9 at the logic level: bounded sweeps, queries and deletions, the maintenance lease, commit
 * notices racing deletions, settings and layouts that stay readable across versions.
 */
import { IDL } from '@dfinity/candid';
import { describe, expect, it } from 'vitest';

import { checkLayout as checkBucketLayout, deleteChunks, DELETE_SCAN_PAGES, openSession, putChunk, stats as bucketStats } from '../../../canisters/bucket/logic';
import { hasChunk, PAGE_BITS } from '../../../canisters/bucket/presence';
import { MetaKey as BucketMetaKey } from '../../../canisters/bucket/state';
import { deleteAsset, insertAsset, LIST_SCAN_LIMIT, listAssets } from '../../../canisters/index/assets';
import { registerBucket } from '../../../canisters/index/buckets';
import { MAINTENANCE_LEASE_NS, runMaintenance } from '../../../canisters/index/maintenance';
import { migrateLayout, SWEEP_BATCH, TASK_BATCH, totals } from '../../../canisters/index/schedule';
import { getConfig, type IndexState, MetaKey } from '../../../canisters/index/state';
import { enqueueTask, runDueTasks } from '../../../canisters/index/tasks';
import { abortUpload, beginUpload, expireSessions, finishUpload } from '../../../canisters/index/uploads';
import { MAX_LIST_LIMIT } from '../../../shared/constants';
import type { KvMap } from '../../../shared/stable';
import { writeLayoutVersion } from '../../../shared/stable';
import type { Asset, AssetPage, BeginUploadArgs } from '../../../shared/types';
import { ALICE, BOB, bytes, Gate, INDEX, newBucketState, split, unwrap, user, World } from './harness';

const CHUNK = 256;

function args(data: Uint8Array, name = 'f'): BeginUploadArgs {
    return { name, content_type: '', size: BigInt(data.length), sha256: split(data, CHUNK).digest, chunk_size: CHUNK, visibility: { private: null }, checkpoints: [] };
}

function worldWithBucket(config = {}): World {
    const world = new World({ max_open_sessions_per_owner: 10_000, ...config });
    unwrap(registerBucket(world.state, world.env(ALICE), world.addBucket(), 1n << 40n, false));
    return world;
}

async function uploadAll(world: World, owner = ALICE, data = bytes(600, 1)): Promise<Asset> {
    const ticket = unwrap(await beginUpload(world.state, world.env(owner), world.ports, args(data)));
    split(data, CHUNK).chunks.forEach((c, i) => unwrap(world.put(owner, ticket.bucket, ticket.session_id, i, c)));
    return unwrap(await finishUpload(world.state, world.env(owner), world.ports, ticket.session_id));
}

/** Counts the reads of a map (get, items, keys). */
function counted<K, V>(map: KvMap<K, V>): { map: KvMap<K, V>; reads: () => number } {
    let reads = 0;
    const proxy = new Proxy(map, {
        get(target, key) {
            const value = Reflect.get(target, key);
            if (typeof value !== 'function') return value;
            return (...a: unknown[]) => {
                const result = value.apply(target, a);
                if (key === 'get') reads += 1;
                if (key === 'items' || key === 'keys') reads += (result as unknown[]).length;
                return result;
            };
        }
    });
    return { map: proxy, reads: () => reads };
}

describe('4. sweeps work in bounded batches', () => {
    it('examines at most SWEEP_BATCH sessions per run, the earliest to expire, until all are swept', async () => {
        const world = worldWithBucket({ session_ttl_ns: 1_000_000_000_000n });
        const total = SWEEP_BATCH + 10;
        for (let i = 0; i < total; i++) unwrap(await beginUpload(world.state, world.env(user(10 + (i % 7))), world.ports, args(new Uint8Array(0), `s${i}`)));
        world.now += 2_000_000_000_000n;
        // Sessions that are not due never reach the bucket.
        for (let i = 0; i < 50; i++) unwrap(await beginUpload(world.state, world.env(BOB), world.ports, args(new Uint8Array(0), `late${i}`)));
        for (let run = 1; run <= 2; run++) {
            world.calls.length = 0;
            await expireSessions(world.state, world.env(ALICE), world.ports);
            const asked = world.calls.filter((c) => c.method === 'sessionActivity').reduce((n, c) => n + (c.args[0] as bigint[]).length, 0);
            expect(asked).toBeLessThanOrEqual(SWEEP_BATCH);
            expect(world.state.sessions.len()).toBe(Math.max(total - run * SWEEP_BATCH, 0) + 50);
        }
        expect(world.state.expiries.len()).toBe(50);
    });

    it('runs at most TASK_BATCH due tasks per run', async () => {
        const world = worldWithBucket();
        const bucket = world.state.buckets.items()[0][1].id;
        world.unreachable.add(bucket.toText());
        for (let i = 0; i < 3 * TASK_BATCH; i++) enqueueTask(world.state, world.env(ALICE), { delete_chunks: { bucket, id: BigInt(1000 + i), bytes: [] } });
        world.calls.length = 0;
        await runDueTasks(world.state, world.env(ALICE), world.ports);
        expect(world.calls.filter((c) => c.method === 'deleteChunks')).toHaveLength(TASK_BATCH);
        // Failed tasks back off and move behind the others: the next run takes the next batch.
        world.calls.length = 0;
        await runDueTasks(world.state, world.env(ALICE), world.ports);
        expect(new Set(world.calls.map((c) => c.args[0])).size).toBe(TASK_BATCH);
        expect(world.calls.every((c) => (c.args[0] as bigint) >= 1000n + BigInt(TASK_BATCH))).toBe(true);
    });
});

describe('5. queries examine a bounded number of records', () => {
    function manyAssets(world: World, count: number) {
        for (let i = 0; i < count; i++) {
            insertAsset(world.state, {
                id: BigInt(i + 1),
                owner: ALICE,
                name: `a${i}`,
                content_type: '',
                size: 1n,
                sha256: new Uint8Array(32),
                chunk_size: CHUNK,
                chunk_count: 1,
                bucket: INDEX,
                visibility: i % 100 === 99 ? { public: null } : { private: null },
                created_at: 0n
            });
        }
    }

    it("lists someone else's private assets without examining more than LIST_SCAN_LIMIT per call", () => {
        const world = new World();
        manyAssets(world, 1.5 * LIST_SCAN_LIMIT);
        const assets = counted(world.state.assets);
        const state: IndexState = { ...world.state, assets: assets.map };
        const seen: bigint[] = [];
        let cursor: [] | [bigint] = [];
        let calls = 0;
        do {
            const before = assets.reads();
            const page: AssetPage = unwrap(listAssets(state, world.env(BOB), { owner: [ALICE], cursor, limit: [MAX_LIST_LIMIT] }));
            expect(assets.reads() - before).toBeLessThanOrEqual(LIST_SCAN_LIMIT);
            seen.push(...page.assets.map((a) => a.id));
            cursor = page.next_cursor;
            calls++;
        } while (cursor.length > 0 && calls < 20);
        // Every public one, once, in order.
        expect(seen).toEqual(Array.from({ length: (1.5 * LIST_SCAN_LIMIT) / 100 }, (_, i) => BigInt(i * 100 + 100)));
        // The owner pages through all of them.
        const own = unwrap(listAssets(world.state, world.env(ALICE), { owner: [], cursor: [], limit: [MAX_LIST_LIMIT] }));
        expect(own.assets).toHaveLength(MAX_LIST_LIMIT);
        expect(own.next_cursor).toHaveLength(1);
    });

    it('keeps running totals that equal the per-owner records, through uploads, deletes and aborts', async () => {
        const world = worldWithBucket();
        const a = await uploadAll(world, ALICE, bytes(600, 1));
        await uploadAll(world, BOB, bytes(300, 2));
        const open = unwrap(await beginUpload(world.state, world.env(ALICE), world.ports, args(bytes(700, 3))));
        unwrap(await beginUpload(world.state, world.env(BOB), world.ports, args(bytes(100, 4))));
        unwrap(await deleteAsset(world.state, world.env(ALICE), world.ports, a.id));
        unwrap(await abortUpload(world.state, world.env(ALICE), world.ports, open.session_id));
        const sum = { assets: 0n, committed: 0n, reserved: 0n };
        for (const [, o] of world.state.owners.items()) {
            sum.assets += o.asset_count;
            sum.committed += o.committed_bytes;
            sum.reserved += o.reserved_bytes;
        }
        expect(totals(world.state)).toEqual(sum);
        expect(sum).toEqual({ assets: 1n, committed: 300n, reserved: 100n });
        // The bucket's totals too, without reading its sessions.
        const bucket = world.bucket(open.bucket);
        const sessions = counted(bucket.sessions);
        await runDueTasks(world.state, world.env(ALICE), world.ports);
        expect(bucketStats({ ...bucket, sessions: sessions.map })).toMatchObject({ chunks: 2n, stored_bytes: 300n });
        expect(sessions.reads()).toBe(0);
    });
});

describe('2 and 10. bucket deletion', () => {
    it('walks only the pages that exist and never starts over from chunk 0', () => {
        const state = newBucketState();
        const chunkCount = 1 << 20;
        unwrap(openSession(state, { caller: INDEX, now: 1n }, { session_id: 9n, owner: ALICE, size: BigInt(chunkCount) * 64n, chunk_size: 64, chunk_count: chunkCount, visibility: { private: null } }));
        const present = [0, 1, 500_000, chunkCount - 1];
        for (const i of present) unwrap(putChunk(state, { caller: ALICE, now: 1n }, 9n, i, bytes(64, i)));
        expect(state.presence.len()).toBe(3);
        const presence = counted(state.presence);
        const counting = { ...state, presence: presence.map };
        let calls = 0;
        let remaining = present.length;
        while (remaining > 0 && calls < 100) {
            remaining = unwrap(deleteChunks(counting, 9n, 1)).remaining;
            calls++;
        }
        expect(remaining).toBe(0);
        // Each page is read about once (plus the page a batch stopped in), and calls are few.
        expect(presence.reads()).toBeLessThanOrEqual(chunkCount / PAGE_BITS + 2 * calls);
        expect(calls).toBeLessThanOrEqual(present.length + chunkCount / PAGE_BITS / DELETE_SCAN_PAGES + 1);
        expect([state.pieces.len(), state.presence.len(), state.sessions.len()]).toEqual([0, 0, 0]);
        expect(bucketStats(state)).toMatchObject({ chunks: 0n, stored_bytes: 0n, sessions: 0n });
    });

    it('takes a layout v2 session (bitmap in the record) over: reads, adds to and deletes its chunks', () => {
        const state = newBucketState();
        unwrap(openSession(state, { caller: INDEX, now: 1n }, { session_id: 4n, owner: ALICE, size: 64n * 20n, chunk_size: 64, chunk_count: 20, visibility: { private: null } }));
        unwrap(putChunk(state, { caller: ALICE, now: 1n }, 4n, 3, bytes(64, 3)));
        // Rewrite as v2 stored it: the bit in the record, no presence page, no totals.
        const session = state.sessions.get(4n)!;
        session.received = new Uint8Array(3);
        session.received[0] = 1 << 3;
        state.sessions.insert(4n, session);
        state.presence.remove([4n, 0]);
        state.meta.remove(BucketMetaKey.storedBytes);
        state.meta.remove(BucketMetaKey.storedChunks);
        writeLayoutVersion(state.meta, BucketMetaKey.layoutVersion, 2);
        expect(checkBucketLayout(state)).toBeNull();
        expect(bucketStats(state)).toMatchObject({ chunks: 1n, stored_bytes: 64n });
        expect(hasChunk(state, state.sessions.get(4n)!, 3)).toBe(true);
        unwrap(putChunk(state, { caller: ALICE, now: 2n }, 4n, 17, bytes(64, 17)));
        expect(unwrap(deleteChunks(state, 4n, 1)).remaining).toBe(1);
        expect(unwrap(deleteChunks(state, 4n, 1)).remaining).toBe(0);
        expect([state.pieces.len(), state.presence.len(), state.sessions.len()]).toEqual([0, 0, 0]);
        expect(bucketStats(state)).toMatchObject({ chunks: 0n, stored_bytes: 0n });
    });
});

describe('8. maintenance and commit notices', () => {
    it('a run that never comes back (a trap after an await) holds maintenance only until its lease lapses', async () => {
        const world = worldWithBucket({ session_ttl_ns: 1_000_000_000n });
        unwrap(await beginUpload(world.state, world.env(ALICE), world.ports, args(new Uint8Array(0))));
        world.now += 2_000_000_000n;
        world.holds.set('sessionActivity', new Gate()); // never opened
        void runMaintenance(world.state, world.env(ALICE), world.ports);
        await new Promise((r) => setTimeout(r, 0));
        expect(await runMaintenance(world.state, world.env(ALICE), world.ports)).toBe(false);
        world.now += MAINTENANCE_LEASE_NS + 1n;
        expect(await runMaintenance(world.state, world.env(ALICE), world.ports)).toBe(true);
        expect(world.state.sessions.len()).toBe(0);
    });

    it('drops a commit notice whose asset was deleted before the bucket heard it', async () => {
        const world = worldWithBucket();
        const data = bytes(600, 5);
        const ticket = unwrap(await beginUpload(world.state, world.env(ALICE), world.ports, args(data)));
        split(data, CHUNK).chunks.forEach((c, i) => unwrap(world.put(ALICE, ticket.bucket, ticket.session_id, i, c)));
        // The bucket is unreachable exactly when the commit notice goes out.
        const gate = new Gate();
        world.holds.set('commitSession', gate);
        const finishing = finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id);
        await new Promise((r) => setTimeout(r, 0));
        world.unreachable.add(ticket.bucket.toText());
        gate.open();
        const asset = unwrap(await finishing);
        expect(world.state.tasks.len()).toBe(1);
        world.unreachable.clear();
        unwrap(await deleteAsset(world.state, world.env(ALICE), world.ports, asset.id));
        world.now += 3_600_000_000_000n;
        await runDueTasks(world.state, world.env(ALICE), world.ports);
        expect(world.state.tasks.len()).toBe(0);
        expect(world.bucket(ticket.bucket).sessions.len()).toBe(0);
    });
});

describe('10. settings and layouts across versions', () => {
    it('reads settings stored by layout v1 (a Config record) and gives new fields their defaults', () => {
        const world = new World();
        const v1 = IDL.Record({
            quota_bytes: IDL.Nat64,
            session_ttl_ns: IDL.Nat64,
            bucket_capacity_bytes: IDL.Nat64,
            full_threshold_percent: IDL.Nat8,
            bucket_cycles: IDL.Nat,
            sweep_interval_seconds: IDL.Nat32,
            auto_create_buckets: IDL.Bool,
            hash_slice_bytes: IDL.Nat32,
            bucket_controllers: IDL.Vec(IDL.Principal)
        });
        const stored = { quota_bytes: 77n, session_ttl_ns: 5_000_000_000n, bucket_capacity_bytes: 9n, full_threshold_percent: 50, bucket_cycles: 1n, sweep_interval_seconds: 7, auto_create_buckets: false, hash_slice_bytes: 128, bucket_controllers: [] };
        world.state.meta.insert(MetaKey.config, new Uint8Array(IDL.encode([v1], [stored])));
        const config = getConfig(world.state);
        expect(config).toMatchObject(stored);
        expect(config.max_failed_finishes).toBe(5);
        // And what this version stores, a later one with more (optional) fields reads.
        world.state.meta.insert(MetaKey.config, new Uint8Array(IDL.encode([IDL.Record({ quota_bytes: IDL.Opt(IDL.Nat64) })], [{ quota_bytes: [3n] }])));
        expect(getConfig(world.state)).toMatchObject({ quota_bytes: 3n, sweep_interval_seconds: 60 });
    });

    it('takes a layout v1 index over: time indexes, totals and open-session counts are rebuilt once', async () => {
        const world = worldWithBucket();
        await uploadAll(world, ALICE);
        unwrap(await beginUpload(world.state, world.env(ALICE), world.ports, args(bytes(100, 9))));
        const bucket = world.state.buckets.items()[0][1].id;
        enqueueTask(world.state, world.env(ALICE), { delete_chunks: { bucket, id: 999n, bytes: [] } });
        const expected = { expiries: world.state.expiries.items(), queue: world.state.taskQueue.items(), totals: totals(world.state), owner: world.state.owners.get(ALICE) };
        // As v1 left it: no indexes, no totals, owners without session counts.
        for (const map of [world.state.expiries, world.state.taskQueue]) for (const key of map.keys()) map.remove(key);
        for (const key of [MetaKey.totalAssets, MetaKey.totalCommittedBytes, MetaKey.totalReservedBytes]) world.state.meta.remove(key);
        world.state.owners.insert(ALICE, { ...world.state.owners.get(ALICE)!, open_sessions: [] });
        writeLayoutVersion(world.state.meta, MetaKey.layoutVersion, 1);
        expect(migrateLayout(world.state)).toBeNull();
        expect({ expiries: world.state.expiries.items(), queue: world.state.taskQueue.items(), totals: totals(world.state), owner: world.state.owners.get(ALICE) }).toEqual(expected);
    });
});
