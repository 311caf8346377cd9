/**
 * Attacks on the index's cycles (issue 17): no refused call moves cycles; an admitted upload's top-up is
 * at most what that upload needs; the index's reserve holds under an adversary that opens and abandons
 * uploads in a loop, from one identity or many. On the real Wasm, with the replica's IC fees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TOPUP_WINDOW_NS, topUpBudget, uploadCost } from '../../canisters/index/cycles';
import { DEFAULT_CYCLES_TOPUP_AMOUNT, chunkCount } from '../../shared/constants';
import type { BucketInfo, ConfigUpdate } from '../../shared/types';
import { canisterWasm, createPic, type TestPic } from '../helpers/pic';
import { deployBucket, deploySilo, identity, storeBucketWasm, unwrap, type Silo } from '../helpers/silo';

const T = 1_000_000_000_000n;
const G = 1_000_000_000n;
/** What the index's own executions of a few dozen refused calls may cost it: fees, not transfers. */
const FEES = 50n * G;
const MIB = 1 << 20;

let pic: TestPic;
beforeAll(async () => {
    pic = await createPic();
});
afterAll(async () => {
    await pic.tearDown();
});

/** A Silo whose one bucket holds `cycles`, read once by maintenance so the index knows its balance. */
async function siloWithBucket(cycles: bigint, config: Partial<ConfigUpdate> = {}): Promise<{ silo: Silo; bucket: Silo['buckets'][number] }> {
    const silo = await deploySilo(pic, { buckets: 0, config: { cycles_topup_threshold: [100n * G], ...config } });
    const bucket = await deployBucket(pic, silo.indexId, canisterWasm('bucket'), cycles);
    unwrap(await silo.admin.admin_register_bucket(bucket, []));
    silo.buckets.push(bucket);
    unwrap(await silo.admin.admin_run_maintenance());
    return { silo, bucket };
}

function args(size: bigint, name = 'big.bin') {
    return { name, content_type: 'application/octet-stream', size, sha256: new Uint8Array(32), chunk_size: MIB, visibility: { private: null }, checkpoints: [] };
}

const balances = async (silo: Silo) => ({ index: await pic.getCyclesBalance(silo.indexId), buckets: await Promise.all(silo.buckets.map((b) => pic.getCyclesBalance(b))) });

/** Nothing went into any bucket, and the index lost at most its own execution fees. */
function expectNothingMoved(before: Awaited<ReturnType<typeof balances>>, after: Awaited<ReturnType<typeof balances>>): void {
    after.buckets.forEach((b, i) => expect(b).toBeLessThanOrEqual(before.buckets[i]));
    expect(after.index).toBeLessThanOrEqual(before.index);
    expect(before.index - after.index).toBeLessThan(FEES);
}

describe('cycles: refused calls move nothing', () => {
    it('a begin_upload its bucket cannot be paid for, repeated by one user, moves no cycles', async () => {
        // 10 GiB costs its bucket ~150 T: more than the index can spare (it holds 100 T, keeps 5 T).
        const { silo, bucket } = await siloWithBucket(300n * G);
        const before = await balances(silo);
        const mallory = identity('mallory');
        for (let i = 0; i < 4; i++) {
            const r = await silo.index(mallory).begin_upload(args(10n << 30n));
            expect(r).toMatchObject({ Err: { InsufficientCycles: { canister: bucket } } });
        }
        expectNothingMoved(before, await balances(silo));
        expect(await silo.admin.stats()).toMatchObject({ open_sessions: 0n, reserved_bytes: 0n });
    });

    it('the same from many identities: every balance unchanged, and other buckets can still be funded', async () => {
        const { silo } = await siloWithBucket(300n * G);
        const second = await deployBucket(pic, silo.indexId, canisterWasm('bucket'), 300n * G);
        unwrap(await silo.admin.admin_register_bucket(second, []));
        silo.buckets.push(second);
        unwrap(await silo.admin.admin_run_maintenance());
        const before = await balances(silo);
        for (let i = 0; i < 6; i++) {
            const r = await silo.index(identity(`sybil-${i}`)).begin_upload(args(10n << 30n));
            expect('InsufficientCycles' in r.Err).toBe(true);
        }
        expectNothingMoved(before, await balances(silo));
        // An honest upload that needs a small top-up still gets it.
        const honest = unwrap<any>(await silo.index(identity('honest')).begin_upload(args(20n * BigInt(MIB), 'honest.bin')));
        expect(honest.session_id).toBeGreaterThan(0n);
    });

    it('begin_upload does not create a bucket with cycles the index keeps in reserve', async () => {
        const silo = await deploySilo(pic, { buckets: 0, config: { index_cycles_reserve: [98n * T] } });
        await storeBucketWasm(silo);
        const before = await pic.getCyclesBalance(silo.indexId);
        const r = await silo.index(identity('mallory')).begin_upload(args(1n * BigInt(MIB)));
        expect(Object.keys(r.Err)).toEqual(['NoCapacity']);
        expect(r.Err.NoCapacity).toMatch(/reserve/);
        expect((await silo.admin.buckets()) as BucketInfo[]).toHaveLength(0);
        expect(before - (await pic.getCyclesBalance(silo.indexId))).toBeLessThan(FEES);
    });
});

describe('cycles: admitted uploads are funded by at most what they need', () => {
    it('tops a bucket up by no more than the upload needs', async () => {
        const { silo, bucket } = await siloWithBucket(300n * G);
        const size = 64n * BigInt(MIB);
        const needed = uploadCost(size, chunkCount(size, MIB));
        const before = await pic.getCyclesBalance(bucket);
        unwrap(await silo.index(identity('alice')).begin_upload(args(size)));
        const given = (await pic.getCyclesBalance(bucket)) - before;
        expect(given).toBeGreaterThan(0n);
        expect(given).toBeLessThanOrEqual(needed);
        const [info] = (await silo.admin.buckets()) as BucketInfo[];
        expect(info.cycles[0]!.topped_up).toBeLessThanOrEqual(needed);
    });

    it('refuses, moving nothing, an upload whose top-up would exceed cycles_topup_amount', async () => {
        const { silo } = await siloWithBucket(300n * G, { cycles_topup_amount: [500n * G] });
        const before = await balances(silo);
        // ~1 GiB needs ~15 T: admitted against the quota, but more than one top-up may give.
        const r = await silo.index(identity('alice')).begin_upload(args(1n << 30n));
        expect(Object.keys(r.Err)).toEqual(['InsufficientCycles']);
        expectNothingMoved(before, await balances(silo));
        expect(await silo.admin.stats()).toMatchObject({ open_sessions: 0n, reserved_bytes: 0n });
    });

    it('keeps the index reserve and the per-bucket budget under identities that open and abandon uploads in a loop', async () => {
        // The index can spare ~10 T; each open upload of 64 MiB needs ~0.94 T of its bucket.
        const reserve = 90n * T;
        const threshold = 100n * G;
        const { silo, bucket } = await siloWithBucket(300n * G, { index_cycles_reserve: [reserve], cycles_topup_threshold: [threshold] });
        const budget = topUpBudget({ cycles_topup_amount: DEFAULT_CYCLES_TOPUP_AMOUNT, cycles_topup_threshold: threshold });
        const indexBefore = await pic.getCyclesBalance(silo.indexId);
        const bucketBefore = await pic.getCyclesBalance(bucket);
        const size = 64n * BigInt(MIB);
        let admitted = 0n;
        let refused = 0;
        for (let round = 0; round < 4; round++) {
            const open: [ReturnType<typeof identity>, bigint][] = [];
            for (let i = 0; i < 8; i++) {
                const who = identity(`abandoner-${i}`);
                const r = await silo.index(who).begin_upload(args(size));
                if ('Ok' in r) {
                    open.push([who, r.Ok.session_id]);
                    admitted += uploadCost(size, chunkCount(size, MIB));
                } else {
                    expect(Object.keys(r.Err)).toEqual(['InsufficientCycles']);
                    refused++;
                }
                expect(await pic.getCyclesBalance(silo.indexId)).toBeGreaterThanOrEqual(reserve - FEES);
            }
            // Within one window the bucket receives at most its budget; the next window renews it.
            const given = (await pic.getCyclesBalance(bucket)) - bucketBefore;
            expect(given).toBeLessThanOrEqual(budget * BigInt(round + 1));
            // Cycles moved never exceed what the admitted uploads cost.
            expect(given).toBeLessThanOrEqual(admitted);
            for (const [who, id] of open) unwrap(await silo.index(who).abort_upload(id));
            await pic.advanceTime(Number(TOPUP_WINDOW_NS / 1_000_000n) + 1000);
        }
        const lost = indexBefore - (await pic.getCyclesBalance(silo.indexId));
        expect(lost).toBeGreaterThan(0n);
        // Both limits bit: the budget within a window, and the reserve in the last ones.
        expect(refused).toBeGreaterThan(0);
        expect(admitted).toBeGreaterThan(0n);
        expect(await pic.getCyclesBalance(silo.indexId)).toBeGreaterThanOrEqual(reserve - FEES);
        // Whatever was topped up sits in the bucket, for the uploads that come.
        expect(await pic.getCyclesBalance(bucket)).toBeGreaterThan(bucketBefore);
    });
});
