/** Silo's upload protocol across the real index and bucket Wasm, on the test replica. */
import { Principal } from '@dfinity/principal';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { IDL } from '@dfinity/candid';

import { bucketInitArg, indexInitArg } from '../../client/deploy';
import { bucketIdlFactory, indexIdlFactory } from '../../shared/idl';
import { sha256 } from '../../shared/sha256';
import { canisterWasm, createPic, fixtureWasm, type TestPic } from '../helpers/pic';
import { PROBE_WASM, probeArg } from '../replica/probe';
import {
    ADMIN,
    beginArgs,
    bytes,
    deploySilo,
    download,
    identity,
    type Service,
    type Silo,
    split,
    storeBucketWasm,
    stage,
    unwrap,
    upgradeBucket,
    upgradeIndex,
    upload
} from '../helpers/silo';

const alice = identity('alice');
const bob = identity('bob');

let pic: TestPic;
beforeEach(async () => {
    pic = await createPic();
});
afterEach(async () => {
    await pic.tearDown();
});

describe('uploads', () => {
    it('stores files across several buckets and reads back exactly what was uploaded', async () => {
        const silo = await deploySilo(pic, { buckets: 2 });
        const files = [bytes(5000, 1), bytes(1024, 2), bytes(0, 3), bytes(3333, 4)];
        const assets = [];
        for (const data of files) {
            const { asset } = await upload(silo, alice, data);
            expect(asset.sha256).toEqual(sha256(data));
            expect(await download(silo, alice, asset)).toEqual(data);
            assets.push(asset);
        }
        expect(new Set(assets.map((a) => a.bucket.toText())).size).toBe(2);
        const page = unwrap<{ assets: { id: bigint }[] }>(await silo.index(alice).list_assets({ owner: [], cursor: [], limit: [10] }));
        expect(page.assets.map((a) => a.id)).toEqual(assets.map((a) => a.id));
        const stats = await silo.admin.stats();
        expect(stats).toMatchObject({ assets: 4n, stored_bytes: BigInt(5000 + 1024 + 3333), open_sessions: 0n, buckets: 2 });
    });

    it('accepts chunks in parallel and out of order', async () => {
        const silo = await deploySilo(pic);
        const data = bytes(10_000, 5);
        const ticket = unwrap<any>(await silo.index(alice).begin_upload(beginArgs(data)));
        const deferred = pic.createDeferredActor<Service>(bucketIdlFactory, ticket.bucket);
        deferred.setIdentity(alice);
        const { chunks } = split(data, ticket.chunk_size);
        const pending = [];
        for (let i = chunks.length - 1; i >= 0; i--) pending.push(await deferred.put_chunk(ticket.session_id, i, chunks[i]));
        for (const result of await Promise.all(pending.map((p) => p()))) unwrap(result);
        const asset = unwrap<any>(await silo.index(alice).finish_upload(ticket.session_id));
        expect(await download(silo, alice, asset)).toEqual(data);
    });

    it('resumes: upload_status lists what the bucket has, the rest is sent and finish succeeds', async () => {
        const silo = await deploySilo(pic);
        const data = bytes(4500, 6);
        const { index, bucket, ticket, chunks } = await stage(silo, alice, data, { only: [0, 2, 4] });
        expect(await index.finish_upload(ticket.session_id)).toEqual({ Err: { MissingChunks: { missing: Uint32Array.from([1, 3]), count: 2 } } });
        const status = unwrap<any>(await bucket.upload_status(ticket.session_id));
        expect([...status.received]).toEqual([0, 2, 4]);
        for (let i = 0; i < chunks.length; i++) if (!status.received.includes(i)) unwrap(await bucket.put_chunk(ticket.session_id, i, chunks[i]));
        const asset = unwrap<any>(await index.finish_upload(ticket.session_id));
        expect(await download(silo, alice, asset)).toEqual(data);
    });

    it('detects a corrupted chunk at exactly its index by checkpoints, then resumes after the fix', async () => {
        const silo = await deploySilo(pic);
        const data = bytes(6 * 1024, 7);
        const { index, bucket, ticket, chunks } = await stage(silo, alice, data, { only: [] });
        const corrupted = chunks[3].slice();
        corrupted[100] ^= 0x40;
        for (let i = 0; i < chunks.length; i++) unwrap(await bucket.put_chunk(ticket.session_id, i, i === 3 ? corrupted : chunks[i]));
        expect(await index.finish_upload(ticket.session_id)).toEqual({ Err: { ChecksumMismatch: { chunk_index: 3 } } });
        const session = unwrap<any>(await index.upload_session(ticket.session_id));
        expect(session.verified_bytes).toBe(3n * 1024n);
        // The verified prefix is frozen; the bad chunk must be sent again.
        expect(await bucket.put_chunk(ticket.session_id, 1, chunks[1])).toMatchObject({ Err: { SessionClosed: expect.anything() } });
        unwrap(await bucket.put_chunk(ticket.session_id, 3, chunks[3]));
        const asset = unwrap<any>(await index.finish_upload(ticket.session_id));
        expect(await download(silo, alice, asset)).toEqual(data);
    });

    it('reports a hash mismatch without checkpoints, and accepts the repaired upload', async () => {
        const silo = await deploySilo(pic);
        const data = bytes(3000, 8);
        const { index, bucket, ticket, chunks } = await stage(silo, alice, data, { checkpoints: false, only: [] });
        const wrong = chunks[1].slice();
        wrong[0] ^= 1;
        for (let i = 0; i < chunks.length; i++) unwrap(await bucket.put_chunk(ticket.session_id, i, i === 1 ? wrong : chunks[i]));
        const result = await index.finish_upload(ticket.session_id);
        expect(result).toMatchObject({ Err: { HashMismatch: { expected: sha256(data) } } });
        unwrap(await bucket.put_chunk(ticket.session_id, 1, chunks[1]));
        const asset = unwrap<any>(await index.finish_upload(ticket.session_id));
        expect(asset.sha256).toEqual(sha256(data));
        expect(unwrap<any>(await silo.index(alice).get_asset(asset.id))).toEqual(asset);
    });

    it('aborts: the session, its reservation and its chunks are gone', async () => {
        const silo = await deploySilo(pic);
        const data = bytes(3000, 9);
        const { index, bucket, ticket } = await stage(silo, alice, data, { only: [0] });
        unwrap(await index.abort_upload(ticket.session_id));
        expect(await index.finish_upload(ticket.session_id)).toEqual({ Err: { SessionNotFound: ticket.session_id } });
        expect(await bucket.upload_status(ticket.session_id)).toEqual({ Err: { SessionNotFound: ticket.session_id } });
        const [info] = await silo.admin.buckets();
        expect(info.reserved_bytes).toBe(0n);
        expect(await silo.admin.stats()).toMatchObject({ open_sessions: 0n, pending_bucket_tasks: 0 });
    });

    it('expires sessions without progress after the configured time', async () => {
        const silo = await deploySilo(pic, { config: { session_ttl_ns: [3_600_000_000_000n], sweep_interval_seconds: [60] } });
        const data = bytes(2000, 10);
        const { index, bucket, ticket } = await stage(silo, alice, data, { only: [0] });
        await pic.advanceTime(30 * 60 * 1000);
        await pic.tick(5);
        expect('Ok' in (await index.upload_session(ticket.session_id))).toBe(true);
        await pic.advanceTime(2 * 60 * 60 * 1000);
        await pic.tick(10);
        expect(await index.upload_session(ticket.session_id)).toEqual({ Err: { SessionExpired: ticket.session_id } });
        expect(await bucket.upload_status(ticket.session_id)).toEqual({ Err: { SessionNotFound: ticket.session_id } });
    });

    it('answers Busy to a second finish_upload while the first runs', async () => {
        const silo = await deploySilo(pic);
        const data = bytes(8000, 11);
        const { index, ticket } = await stage(silo, alice, data);
        const deferred = pic.createDeferredActor<Service>(indexIdlFactory, silo.indexId);
        deferred.setIdentity(alice);
        const first = await deferred.finish_upload(ticket.session_id);
        await pic.tick(2);
        const second = await deferred.finish_upload(ticket.session_id);
        expect(await second()).toMatchObject({ Err: { Busy: expect.any(String) } });
        expect(unwrap<any>(await first()).size).toBe(8000n);
    });

    it('keeps the session when the bucket is stopped during finish, and finishes later', async () => {
        const silo = await deploySilo(pic);
        const data = bytes(8000, 12);
        const { index, ticket } = await stage(silo, alice, data);
        const deferred = pic.createDeferredActor<Service>(indexIdlFactory, silo.indexId);
        deferred.setIdentity(alice);
        const finish = await deferred.finish_upload(ticket.session_id);
        await pic.tick(4);
        await pic.stopCanister({ canisterId: ticket.bucket, sender: ADMIN });
        expect(await finish()).toMatchObject({ Err: { BucketUnavailable: { bucket: ticket.bucket } } });
        const session = unwrap<any>(await index.upload_session(ticket.session_id));
        expect(session.state).toEqual({ open: null });
        expect(session.verified_bytes).toBeGreaterThan(0n);
        await pic.startCanister({ canisterId: ticket.bucket, sender: ADMIN });
        const asset = unwrap<any>(await index.finish_upload(ticket.session_id));
        expect(await download(silo, alice, asset)).toEqual(data);
    });

    it('keeps the session when the bucket traps during finish; an upgraded bucket then finishes it', async () => {
        const silo = await deploySilo(pic, { bucketWasm: fixtureWasm('bucket_faulty') });
        const data = bytes(3000, 13);
        const { index, ticket } = await stage(silo, alice, data);
        const failed = await index.finish_upload(ticket.session_id);
        expect(failed).toMatchObject({ Err: { BucketUnavailable: { reason: expect.stringContaining('fault injection') } } });
        await upgradeBucket(silo, ticket.bucket);
        const asset = unwrap<any>(await index.finish_upload(ticket.session_id));
        expect(await download(silo, alice, asset)).toEqual(data);
    });

    it('survives upgrades of the index and of the bucket in the middle of an upload', async () => {
        const silo = await deploySilo(pic);
        const data = bytes(5000, 14);
        const { index, bucket, ticket, chunks } = await stage(silo, alice, data, { only: [0] });
        await upgradeIndex(silo);
        unwrap(await bucket.put_chunk(ticket.session_id, 1, chunks[1]));
        await upgradeBucket(silo, ticket.bucket);
        for (let i = 2; i < chunks.length; i++) unwrap(await bucket.put_chunk(ticket.session_id, i, chunks[i]));
        const asset = unwrap<any>(await index.finish_upload(ticket.session_id));
        expect(await download(silo, alice, asset)).toEqual(data);
        await upgradeIndex(silo);
        expect(unwrap<any>(await index.get_asset(asset.id))).toEqual(asset);
    });

    it('creates a new bucket through the management canister when the others are full', async () => {
        const silo = await deploySilo(pic, { bucketCapacity: 10_000n, config: { bucket_capacity_bytes: [1_000_000n], bucket_cycles: [2_000_000_000_000n] } });
        await storeBucketWasm(silo);
        const first = await upload(silo, alice, bytes(9000, 15));
        expect(first.asset.bucket.toText()).toBe(silo.buckets[0].toText());
        const second = await upload(silo, alice, bytes(9000, 16));
        const buckets = await silo.admin.buckets();
        expect(buckets).toHaveLength(2);
        const created = buckets.find((b: any) => b.created_by_index);
        expect(created.id.toText()).toBe(second.asset.bucket.toText());
        expect(created.capacity_bytes).toBe(1_000_000n);
        expect(await pic.getControllers(created.id)).toEqual([silo.indexId]);
        expect(await download(silo, alice, second.asset)).toEqual(bytes(9000, 16));
    });
});

describe('operations', () => {
    it('upgrades every bucket through the index, one at a time, recording failures', async () => {
        const silo = await deploySilo(pic, { buckets: 2 });
        const { asset } = await upload(silo, alice, bytes(3000, 20));
        // A third bucket the index does not control: its upgrade must fail and be reported, not stop the rest.
        const orphan = await pic.createCanister({ sender: ADMIN, controllers: [ADMIN], cycles: 10_000_000_000_000n });
        await pic.installCode({ canisterId: orphan, wasm: canisterWasm('bucket'), arg: bucketInitArg(silo.indexId), sender: ADMIN });
        unwrap(await silo.admin.admin_register_bucket(orphan, []));
        await storeBucketWasm(silo);
        const status = unwrap<any>(await silo.admin.admin_upgrade_buckets());
        expect(status.upgraded.map((p: Principal) => p.toText()).sort()).toEqual(silo.buckets.map((p) => p.toText()).sort());
        expect(status.failed).toMatchObject([{ bucket: orphan, attempts: 1, error: expect.stringContaining('controllers') }]);
        expect((await silo.admin.bucket_upgrade_status()).failed).toHaveLength(1);
        // Upgraded buckets still serve what they held, and run again.
        expect(await download(silo, alice, asset)).toEqual(bytes(3000, 20));
        await upload(silo, alice, bytes(500, 21));
    });

    it('deletes an asset at once, and its chunks once an unreachable bucket is back', async () => {
        const silo = await deploySilo(pic, { config: { sweep_interval_seconds: [60] } });
        const { asset } = await upload(silo, alice, bytes(4000, 22));
        await pic.stopCanister({ canisterId: asset.bucket, sender: ADMIN });
        unwrap(await silo.index(alice).delete_asset(asset.id));
        expect(await silo.index(alice).get_asset(asset.id)).toEqual({ Err: { AssetNotFound: asset.id } });
        expect(await silo.admin.stats()).toMatchObject({ assets: 0n, pending_bucket_tasks: 1 });
        await pic.startCanister({ canisterId: asset.bucket, sender: ADMIN });
        await pic.advanceTime(5 * 60 * 1000);
        await pic.tick(10);
        expect(await silo.admin.stats()).toMatchObject({ pending_bucket_tasks: 0 });
        expect(await silo.bucket(asset.bucket, alice).stats()).toMatchObject({ chunks: 0n, sessions: 0n });
    });

    it('refuses to upgrade onto a stable memory layout it does not know', async () => {
        // A probe canister's stable memory is not a Silo index layout: the upgrade must fail and roll back.
        const other = await pic.createCanister({ sender: ADMIN, controllers: [ADMIN] });
        await pic.installCode({ canisterId: other, wasm: PROBE_WASM, arg: probeArg('x'), sender: ADMIN });
        await expect(pic.upgradeCanister({ canisterId: other, wasm: canisterWasm('index'), arg: indexInitArg(), sender: ADMIN })).rejects.toThrow(/no layout version/);
        // Rolled back: still the probe, answering as before.
        expect(await pic.queryCall({ canisterId: other, method: 'get', arg: new Uint8Array(IDL.encode([], [])) })).toEqual(new Uint8Array(IDL.encode([IDL.Nat], [0n])));
    });
});

describe('access control and malformed calls', () => {
    let silo: Silo;
    beforeEach(async () => {
        silo = await deploySilo(pic);
    });

    it('anonymous callers cannot upload; only owners write and read private data', async () => {
        // Writes that can only be refused are dropped by inspect_message before they run.
        const anonymous = pic.createActor<Service>(indexIdlFactory, silo.indexId);
        await expect(anonymous.begin_upload(beginArgs(bytes(10)))).rejects.toThrow(/rejected the message/);
        const data = bytes(2000, 17);
        const ticket = unwrap<any>(await silo.index(alice).begin_upload(beginArgs(data)));
        const asBob = silo.bucket(ticket.bucket, bob);
        await expect(asBob.put_chunk(ticket.session_id, 0, data.subarray(0, 1024))).rejects.toThrow(/rejected the message/);
        await expect(silo.index(bob).finish_upload(ticket.session_id)).rejects.toThrow(/rejected the message/);
        const { asset } = await upload(silo, alice, data);
        expect(await silo.index(bob).get_asset(asset.id)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
        expect(await asBob.get_chunk(asset.id, 0)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
        await expect(silo.index(bob).delete_asset(asset.id)).rejects.toThrow(/rejected the message/);
        const pub = await upload(silo, alice, data, { visibility: { public: null } });
        expect(unwrap<Uint8Array>(await asBob.get_chunk(pub.asset.id, 1))).toEqual(data.subarray(1024, 2000));
    });

    it('c2c methods answer only the index, admin methods only controllers', async () => {
        // Ingress calls of c2c and admin methods by others are dropped at inspect_message; the query answers.
        const bucket = silo.bucket(silo.buckets[0], alice);
        await expect(bucket.c2c_seal_session(1n)).rejects.toThrow(/rejected the message/);
        await expect(bucket.c2c_delete(1n)).rejects.toThrow(/rejected the message/);
        await expect(bucket.c2c_hash_chunk({ session_id: 1n, index: 0, offset: 0, length: 0, state: new Uint8Array(40) })).rejects.toThrow(/rejected the message/);
        expect(await bucket.c2c_session_activity([1n])).toMatchObject({ Err: { Unauthorized: expect.stringContaining('index') } });
        const index = silo.index(alice);
        await expect(index.admin_register_bucket(Principal.anonymous(), [])).rejects.toThrow(/rejected the message/);
        await expect(index.admin_begin_bucket_wasm()).rejects.toThrow(/rejected the message/);
        await expect(index.admin_upgrade_buckets()).rejects.toThrow(/rejected the message/);
        await expect(index.admin_create_bucket()).rejects.toThrow(/rejected the message/);
    });

    it('rejects wrong chunk lengths, out-of-range indexes and unknown sessions with typed errors', async () => {
        const data = bytes(2500, 18);
        const ticket = unwrap<any>(await silo.index(alice).begin_upload(beginArgs(data)));
        const bucket = silo.bucket(ticket.bucket, alice);
        expect(await bucket.put_chunk(ticket.session_id, 0, data.subarray(0, 1000))).toEqual({ Err: { WrongChunkLength: { index: 0, expected: 1024, actual: 1000 } } });
        expect(await bucket.put_chunk(ticket.session_id, 2, data.subarray(0, 1024))).toEqual({ Err: { WrongChunkLength: { index: 2, expected: 452, actual: 1024 } } });
        expect(await bucket.put_chunk(ticket.session_id, 3, data.subarray(0, 452))).toEqual({ Err: { ChunkOutOfRange: { index: 3, chunk_count: 3 } } });
        await expect(bucket.put_chunk(999n, 0, data.subarray(0, 10))).rejects.toThrow(/rejected the message/);
        expect(await silo.index(alice).finish_upload(999n)).toEqual({ Err: { SessionNotFound: 999n } });
        expect(await silo.index(alice).begin_upload({ ...beginArgs(data), chunk_size: 1000 })).toMatchObject({ Err: { InvalidArgument: expect.stringContaining('chunk_size') } });
        expect(await silo.index(alice).get_asset(12345n)).toEqual({ Err: { AssetNotFound: 12345n } });
    });
});
