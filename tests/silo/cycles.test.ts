/**
 * Buckets must not silently die: the index reads its buckets' balances on its maintenance timer, tops up
 * those running low from its own balance while keeping its reserve, refuses an upload a bucket cannot
 * pay for, and reports every canister's cycles and runway. On the real Wasm, with the replica's IC fees.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { BUCKET_FREEZING_THRESHOLD_SECONDS, BUCKET_RESERVED_CYCLES_LIMIT, uploadCost } from '../../canisters/index/cycles';
import { chunkCount } from '../../shared/constants';
import { emptyConfigUpdate, type ConfigUpdate, type BucketInfo, type Stats } from '../../shared/types';
import { createPic, canisterWasm, type TestPic } from '../helpers/pic';
import { beginArgs, bytes, deployBucket, deploySilo, download, identity, storeBucketWasm, unwrap, upload } from '../helpers/silo';

const T = 1_000_000_000_000n;
const alice = identity('alice');

let pic: TestPic;
beforeEach(async () => {
    pic = await createPic();
});
afterEach(async () => {
    await pic.tearDown();
});

/** A Silo whose one bucket starts with `cycles`. */
async function siloWithBucket(cycles: bigint, config: Partial<ConfigUpdate> = {}) {
    const silo = await deploySilo(pic, { buckets: 0, config });
    const bucket = await deployBucket(pic, silo.indexId, canisterWasm('bucket'), cycles);
    unwrap(await silo.admin.admin_register_bucket(bucket, []));
    silo.buckets.push(bucket);
    return { silo, bucket };
}

describe('cycles', () => {
    it('tops up a bucket below the threshold from the index, and reports balance, burn and runway', async () => {
        const { silo, bucket } = await siloWithBucket(1n * T, { cycles_topup_threshold: [2n * T], cycles_topup_amount: [3n * T] });
        const indexBefore = await pic.getCyclesBalance(silo.indexId);
        unwrap(await silo.admin.admin_run_maintenance());
        const balance = await pic.getCyclesBalance(bucket);
        expect(balance).toBeGreaterThan(3n * T + T / 2n);
        expect(indexBefore - (await pic.getCyclesBalance(silo.indexId))).toBeGreaterThanOrEqual(3n * T);

        const [info] = (await silo.admin.buckets()) as BucketInfo[];
        const report = info.cycles[0]!;
        expect(report.topped_up).toBe(3n * T);
        expect(report.low).toBe(false);
        expect(report.balance).toBeGreaterThan(3n * T);
        expect(report.burn_per_day).toBeGreaterThan(0n);
        expect(report.runway_days[0]).toBeGreaterThan(0);

        // A day later the burn is measured between the two readings; above the threshold, no more top-up.
        await upload(silo, alice, bytes(50_000, 1), { chunkSize: 16_384 });
        await pic.advanceTime(24 * 3600 * 1000);
        unwrap(await silo.admin.admin_run_maintenance());
        const [later] = (await silo.admin.buckets()) as BucketInfo[];
        expect(later.cycles[0]!.topped_up).toBe(3n * T);
        expect(later.cycles[0]!.observed_at).toBeGreaterThan(report.observed_at);
        const lost = report.balance - later.cycles[0]!.balance;
        expect(later.cycles[0]!.burn_per_day).toBeGreaterThanOrEqual((lost * 9n) / 10n);

        const stats = (await silo.admin.stats()) as Stats;
        expect(stats.index_cycles.balance).toBe(stats.cycles);
        expect(stats.index_cycles.burn_per_day).toBeGreaterThan(0n);
        expect(stats.index_cycles.runway_days[0]).toBeGreaterThan(0);
        expect(stats.index_cycles.low).toBe(false);
        expect(stats.low_cycles_buckets).toBe(0);
    });

    it('keeps its own reserve: tops up only what it can spare, then reports the bucket and itself low', async () => {
        const { silo, bucket } = await siloWithBucket(1n * T, { cycles_topup_threshold: [500n * T], index_cycles_reserve: [90n * T] });
        unwrap(await silo.admin.admin_run_maintenance());
        const index = await pic.getCyclesBalance(silo.indexId);
        // The index had ~100 T: it gave what was above 90 T and no more.
        expect(index).toBeGreaterThan(89n * T);
        expect(index).toBeLessThan(90n * T);
        expect(await pic.getCyclesBalance(bucket)).toBeGreaterThan(10n * T);
        const [info] = (await silo.admin.buckets()) as BucketInfo[];
        expect(info.cycles[0]!.low).toBe(true);
        unwrap(await silo.admin.admin_run_maintenance());
        const [after] = (await silo.admin.buckets()) as BucketInfo[];
        expect(after.cycles[0]!.error[0]).toMatch(/at or below its reserve/);
        const stats = (await silo.admin.stats()) as Stats;
        expect(stats.index_cycles.low).toBe(true);
        expect(stats.low_cycles_buckets).toBe(1);
    });

    it('refuses up front an upload its bucket cannot pay for, reserving nothing; a top-up then lets it through', async () => {
        const { silo, bucket } = await siloWithBucket(300_000_000_000n, { index_cycles_reserve: [1000n * T] });
        unwrap(await silo.admin.admin_run_maintenance());
        const size = 30_000_000n;
        const args = { ...beginArgs(new Uint8Array(0)), size, chunk_size: 1 << 20, checkpoints: [] };
        const refused = await silo.index(alice).begin_upload(args);
        expect(refused).toMatchObject({ Err: { InsufficientCycles: { canister: bucket, needed: uploadCost(size, chunkCount(size, 1 << 20)) } } });
        expect(refused.Err.InsufficientCycles.available).toBeLessThan(refused.Err.InsufficientCycles.needed);
        expect(await silo.admin.stats()).toMatchObject({ open_sessions: 0n, reserved_bytes: 0n });
        expect(((await silo.admin.buckets()) as BucketInfo[])[0].reserved_bytes).toBe(0n);

        unwrap(await silo.admin.admin_set_config({ ...emptyConfigUpdate(), index_cycles_reserve: [5n * T] }));
        const ticket = unwrap<any>(await silo.index(alice).begin_upload(args));
        expect(ticket.bucket.toText()).toBe(bucket.toText());
        expect(await pic.getCyclesBalance(bucket)).toBeGreaterThan(uploadCost(size, 30));
    });

    it('estimates at least what an upload really costs its bucket, and not wildly more', async () => {
        const { silo, bucket } = await siloWithBucket(50n * T);
        const data = bytes(400_000, 7);
        // Let the bucket's start-up calls return: their reserved response fees come back as refunds.
        await pic.tick(5);
        const before = await pic.getCyclesBalance(bucket);
        const { asset } = await upload(silo, alice, data, { chunkSize: 128 * 1024 });
        const spent = before - (await pic.getCyclesBalance(bucket));
        const estimate = uploadCost(BigInt(data.length), asset.chunk_count);
        expect(spent).toBeLessThanOrEqual(estimate);
        expect(estimate).toBeLessThan(spent * 2n);
        expect(await download(silo, alice, asset)).toEqual(data);
    });

    it('creates buckets with a 90-day freezing threshold and a reserved cycles limit', async (context) => {
        if (pic.replica === undefined) context.skip(); // reads the settings from the replica
        const silo = await deploySilo(pic, { buckets: 0 });
        await storeBucketWasm(silo);
        const created = unwrap<BucketInfo>(await silo.admin.admin_create_bucket());
        const settings = pic.replica!.getCanister(created.id)!.settings;
        expect(settings.freezingThreshold).toBe(BUCKET_FREEZING_THRESHOLD_SECONDS);
        expect(settings.reservedCyclesLimit).toBe(BUCKET_RESERVED_CYCLES_LIMIT);
    });
});
