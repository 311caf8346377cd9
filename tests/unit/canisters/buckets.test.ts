import { describe, expect, it } from 'vitest';

import {
    allocateBucket,
    beginBucketWasm,
    commitBucketWasm,
    createBucket,
    putBucketWasmPiece,
    registerBucket,
    runUpgrades,
    scheduleUpgrades,
    upgradeStatus
} from '../../../canisters/index/buckets';
import { checkLayout, getConfig, MetaKey, updateConfig } from '../../../canisters/index/state';
import { beginUpload } from '../../../canisters/index/uploads';
import { checkLayout as checkBucketLayout } from '../../../canisters/bucket/logic';
import { sha256 } from '../../../shared/sha256';
import { emptyConfigUpdate } from '../../../shared/types';
import { ADMIN, ALICE, bytes, newBucketState, unwrap, World } from './harness';

function uploadArgs(size: number) {
    const data = bytes(size);
    return { name: 'f', content_type: '', size: BigInt(size), sha256: sha256(data), chunk_size: 256, visibility: { private: null }, checkpoints: [] as [] };
}

function storeModule(world: World, module: Uint8Array): void {
    const generation = beginBucketWasm(world.state);
    unwrap(putBucketWasmPiece(world.state, generation, 0, module.subarray(0, 10)));
    unwrap(putBucketWasmPiece(world.state, generation, 1, module.subarray(10)));
    unwrap(commitBucketWasm(world.state, generation, sha256(module)));
}

describe('bucket registry', () => {
    it('spreads uploads over the bucket with the most room and marks buckets full before capacity', async () => {
        const world = new World({ full_threshold_percent: 90 });
        const a = unwrap(registerBucket(world.state, world.env(ADMIN), world.addBucket(), 1000n, false)).id;
        const b = unwrap(registerBucket(world.state, world.env(ADMIN), world.addBucket(), 1000n, false)).id;
        const first = unwrap(await beginUpload(world.state, world.env(ALICE), world.ports, uploadArgs(500)));
        const second = unwrap(await beginUpload(world.state, world.env(ALICE), world.ports, uploadArgs(500)));
        expect(new Set([first.bucket.toText(), second.bucket.toText()])).toEqual(new Set([a.toText(), b.toText()]));
        // 500 + 400 reaches 90% of 1000: full, although 100 bytes are technically left.
        unwrap(await beginUpload(world.state, world.env(ALICE), world.ports, uploadArgs(400)));
        const statuses = world.state.buckets.items().map(([, x]) => Object.keys(x.status)[0]);
        expect(statuses.sort()).toEqual(['active', 'full']);
        expect(allocateBucket(world.state, 401n)).toBeNull();
        expect(registerBucket(world.state, world.env(ADMIN), a, 10n, false)).toMatchObject({ Err: { InvalidArgument: expect.any(String) } });
    });

    it('stores the bucket module in pieces and activates it only when the hash matches', () => {
        const world = new World();
        const module = bytes(50, 3);
        const generation = beginBucketWasm(world.state);
        unwrap(putBucketWasmPiece(world.state, generation, 0, module));
        expect(commitBucketWasm(world.state, generation, new Uint8Array(32))).toMatchObject({ Err: { HashMismatch: expect.anything() } });
        unwrap(commitBucketWasm(world.state, generation, sha256(module)));
        expect(putBucketWasmPiece(world.state, generation, 1, module)).toMatchObject({ Err: { InvalidArgument: expect.stringContaining('active') } });
        expect(putBucketWasmPiece(world.state, 99n, 0, module)).toMatchObject({ Err: { InvalidArgument: expect.any(String) } });
        // A newer generation replaces the old pieces.
        storeModule(world, bytes(30, 4));
        expect(world.state.bucketWasm.len()).toBe(2);
    });

    it('creates a bucket through the management canister when none has room', async () => {
        const world = new World({ bucket_capacity_bytes: 10_000n, bucket_cycles: 1_000n });
        storeModule(world, bytes(40));
        const ticket = unwrap(await beginUpload(world.state, world.env(ALICE), world.ports, uploadArgs(700)));
        expect(world.calls.map((c) => c.method).slice(0, 2)).toEqual(['createCanister', 'installCode:install']);
        const bucket = world.state.buckets.get(ticket.bucket)!;
        expect(bucket).toMatchObject({ created_by_index: true, capacity_bytes: 10_000n, reserved_bytes: 700n });
        expect(world.state.meta.get(MetaKey.pendingBucket)).toBeUndefined();
    });

    it('installs a created-but-uninstalled bucket on the next attempt instead of creating another', async () => {
        const world = new World({ bucket_cycles: 1_000n });
        storeModule(world, bytes(40));
        const created: string[] = [];
        const create = world.management.createCanister;
        world.management.createCanister = async (c, n) => {
            const id = await create(c, n);
            created.push(id.toText());
            world.unreachable.add(id.toText());
            return id;
        };
        expect(await createBucket(world.state, world.env(ADMIN), world.ports)).toMatchObject({ Err: { NoCapacity: expect.stringContaining('install failed') } });
        world.unreachable.clear();
        const bucket = unwrap(await createBucket(world.state, world.env(ADMIN), world.ports));
        expect(created).toEqual([bucket.id.toText()]);
    });

    it('refuses to create a bucket without cycles to give it', async () => {
        const world = new World({ bucket_cycles: 1_000n });
        storeModule(world, bytes(40));
        world.cycles = 1_500n;
        expect(await createBucket(world.state, world.env(ADMIN), world.ports)).toMatchObject({ Err: { NoCapacity: expect.stringContaining('cycles') } });
    });

    it('upgrades buckets one at a time, records failures and retries them', async () => {
        const world = new World();
        const a = unwrap(registerBucket(world.state, world.env(ADMIN), world.addBucket(), 1000n, false)).id;
        const b = unwrap(registerBucket(world.state, world.env(ADMIN), world.addBucket(), 1000n, false)).id;
        expect(scheduleUpgrades(world.state, world.env(ADMIN))).toMatchObject({ Err: { InvalidArgument: expect.any(String) } });
        storeModule(world, bytes(40));
        unwrap(scheduleUpgrades(world.state, world.env(ADMIN)));
        world.unreachable.add(b.toText());
        await runUpgrades(world.state, world.env(ADMIN), world.ports);
        const status = upgradeStatus(world.state);
        expect(status.upgraded.map((p) => p.toText())).toEqual([a.toText()]);
        expect(status.failed).toMatchObject([{ bucket: b, attempts: 1 }]);
        // Each bucket is stopped, upgraded and started again, even when the upgrade failed.
        expect(world.calls.filter((c) => c.method === 'startCanister')).toHaveLength(2);
        world.unreachable.clear();
        await runUpgrades(world.state, world.env(ADMIN), world.ports);
        expect(upgradeStatus(world.state).failed).toHaveLength(1);
        world.now += 3_600_000_000_000n;
        await runUpgrades(world.state, world.env(ADMIN), world.ports);
        expect(upgradeStatus(world.state).upgraded).toHaveLength(2);
        expect(world.state.buckets.get(b)!.module_hash).toEqual([sha256(bytes(40))]);
    });
});

describe('settings', () => {
    it('saves a valid update and refuses an invalid one whole, saving none of it', () => {
        const world = new World();
        const before = getConfig(world.state);
        expect(updateConfig(world.state, { ...emptyConfigUpdate(), full_threshold_percent: [0], sweep_interval_seconds: [5] })).toBe('full_threshold_percent must be between 1 and 100');
        expect(getConfig(world.state)).toEqual(before);
        expect(updateConfig(world.state, { ...emptyConfigUpdate(), hash_slice_bytes: [100] })).toBe('hash_slice_bytes must be a multiple of 64');
        expect(updateConfig(world.state, { ...emptyConfigUpdate(), sweep_interval_seconds: [5] })).toBeNull();
        expect(getConfig(world.state)).toEqual({ ...before, sweep_interval_seconds: 5 });
    });
});

describe('layout versions', () => {
    it('refuse to start on an unknown layout', () => {
        const world = new World();
        expect(checkLayout(world.state)).toBeNull();
        world.state.meta.insert(MetaKey.layoutVersion, Uint8Array.of(0, 0, 0, 9));
        expect(checkLayout(world.state)).toMatch(/v9/);
        const bucket = newBucketState();
        expect(checkBucketLayout(bucket)).toBeNull();
        bucket.meta.insert(0, Uint8Array.of(0, 0, 0, 9));
        expect(checkBucketLayout(bucket)).toMatch(/v9/);
    });
});
