/**
 * Issue 9: the per-call instruction cost of list_assets, stats, the expiry sweep and delete_asset stays
 * flat as the data grows. The same Silo is measured holding B, 10 B and 100 B assets and expired
 * sessions of one owner (B = SILO_SCALING_BASE, 2 by default), on the real Wasm with the replica's metering.
 */
import { PocketIc } from '../replica';
import type { Execution } from '../replica/execution';
import { MAX_LIST_LIMIT } from '../shared/constants';
import type { UploadTicket } from '../shared/types';
import type { TestPic } from '../tests/helpers/pic';
import { deploySilo, identity, unwrap, upload, bytes } from '../tests/helpers/silo';
import { n, table, type Log } from './report';

const alice = identity('alice');
const bob = identity('bob');
const TTL_NS = 60_000_000_000n;

interface Costs {
    records: number;
    listOther: bigint;
    listOwner: bigint;
    stats: bigint;
    bucketStats: bigint;
    sweep: bigint;
    swept: number;
    deleteAsset: bigint;
    c2cDelete: bigint;
}

async function measure(records: number): Promise<Costs> {
    const pic = await PocketIc.create();
    const test = Object.assign(pic, { kind: 'replica' as const }) as unknown as TestPic;
    const silo = await deploySilo(test, {
        config: { max_open_sessions_per_owner: [1_000_000], max_assets_per_owner: [10_000_000n], session_ttl_ns: [TTL_NS], sweep_interval_seconds: [86_400] }
    });
    const index = silo.index(alice);
    const assets: bigint[] = [];
    for (let i = 0; i < records; i++) assets.push((await upload(silo, alice, bytes(0, i), { name: `a${i}` })).asset.id);
    for (let i = 0; i < records; i++) {
        unwrap<UploadTicket>(await index.begin_upload({ name: `s${i}`, content_type: '', size: 0n, sha256: new Uint8Array(32), chunk_size: 1024, visibility: { private: null }, checkpoints: [] }));
    }
    // The largest message of each call, per canister.
    let largest = { index: 0n, bucket: 0n };
    const watch = (id: string, key: 'index' | 'bucket') =>
        (pic.replica.getCanister(id)!.observer = (_c, exec: Execution) => {
            if (exec.kind !== 'F' && exec.instructions > largest[key]) largest[key] = exec.instructions;
        });
    watch(silo.indexId.toText(), 'index');
    watch(silo.buckets[0].toText(), 'bucket');
    const cost = async (run: () => Promise<unknown>, key: 'index' | 'bucket' = 'index'): Promise<bigint> => {
        largest = { index: 0n, bucket: 0n };
        await run();
        return largest[key];
    };
    const listOther = await cost(() => silo.index(bob).list_assets({ owner: [alice.getPrincipal()], cursor: [], limit: [MAX_LIST_LIMIT] }));
    const listOwner = await cost(() => index.list_assets({ owner: [], cursor: [], limit: [10] }));
    const stats = await cost(() => silo.admin.stats());
    const bucketStats = await cost(() => silo.bucket(silo.buckets[0], alice).stats(), 'bucket');
    await pic.advanceTime(Number(TTL_NS / 1_000_000n) * 2);
    const before = (await silo.admin.stats()).open_sessions as bigint;
    const sweep = await cost(() => silo.admin.admin_run_maintenance());
    const swept = Number(before - ((await silo.admin.stats()).open_sessions as bigint));
    // Drain the sweep's deletions so they do not count against delete_asset.
    for (let i = 0; i < 2 * records && Number((await silo.admin.stats()).open_sessions) > 0; i++) await silo.admin.admin_run_maintenance();
    await silo.admin.admin_run_maintenance();
    largest = { index: 0n, bucket: 0n };
    unwrap(await index.delete_asset(assets[Math.floor(records / 2)]));
    const costs = { deleteAsset: largest.index, c2cDelete: largest.bucket };
    await pic.tearDown();
    return { records, listOther, listOwner, stats, bucketStats, sweep, swept, ...costs };
}

export async function scalingBench(log: Log): Promise<void> {
    const base = Number(process.env.SILO_SCALING_BASE ?? 2);
    const rows: Costs[] = [];
    for (const records of [base, 10 * base, 100 * base]) {
        const t = performance.now();
        rows.push(await measure(records));
        log(`  measured ${records} assets + ${records} sessions in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    log('');
    log('  Largest message per call, in instructions (queries and updates, inspect_message excluded):');
    table(
        log,
        ['assets + sessions', 'list (others, 100)', 'list (owner, 10)', 'stats', 'bucket stats', 'sweep run', 'swept', 'delete_asset', 'c2c_delete'],
        rows.map((r) => [`${r.records} + ${r.records}`, n(r.listOther), n(r.listOwner), n(r.stats), n(r.bucketStats), n(r.sweep), r.swept, n(r.deleteAsset), n(r.c2cDelete)])
    );
    // Between 10× and 100× the records, each call should cost the same, or grow only until its bound fills.
    const [, tenfold, hundredfold] = rows;
    const growth = (key: 'listOther' | 'listOwner' | 'stats' | 'bucketStats' | 'sweep' | 'deleteAsset' | 'c2cDelete') => (Number(hundredfold[key]) / Number(tenfold[key])).toFixed(2);
    log('');
    log(`  From ${tenfold.records} to ${hundredfold.records} records, per-call growth:`);
    log(`    stats ${growth('stats')}×, bucket stats ${growth('bucketStats')}×, delete_asset ${growth('deleteAsset')}×, c2c_delete ${growth('c2cDelete')}×, list (owner, 10) ${growth('listOwner')}×;`);
    log(`    list (others) ${growth('listOther')}×: it examines min(records, 200) ids per call, then stops with a cursor;`);
    log(`    sweep run ${growth('sweep')}×: it handles min(due, 100) sessions per run, the next run continues.`);
}
