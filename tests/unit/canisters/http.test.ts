/**
 * The index's side of HTTP serving without a replica: metadata backfill for assets committed without it
 * (bounded batches, a position that survives deletions and insertions, resumption after failures) and the
 * per-bucket URL secrets behind `asset_url`.
 */
import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { httpRequest } from '../../../canisters/bucket/http';
import { urlSecret } from '../../../canisters/bucket/assets';
import { certification, destroyResponses, isPublished, setUpCertification, startBackfill, step } from '../../../canisters/bucket/certify';
import { bytesSerializer, idIndexKey, MemoryMap, u64Key } from '../../../shared/stable';
import { checkLayout } from '../../../canisters/bucket/logic';
import { MetaKey } from '../../../canisters/bucket/state';
import { deleteAsset } from '../../../canisters/index/assets';
import { registerBucket } from '../../../canisters/index/buckets';
import { assetUrl, BackfillKey, backfillMeta, maintainUrls } from '../../../canisters/index/urls';
import { beginUpload, finishUpload } from '../../../canisters/index/uploads';
import type { Asset, AssetUrl, HttpRequest } from '../../../shared/types';
import { ADMIN, ALICE, BOB, bytes, newBucketState, split, unwrap, World } from './harness';

const CHUNK = 256;

function worldWithBuckets(count = 1): World {
    const world = new World();
    for (let i = 0; i < count; i++) unwrap(registerBucket(world.state, world.env(ADMIN), world.addBucket(), 1_000_000n, false));
    return world;
}

async function commit(world: World, data: Uint8Array, name = 'file.bin', visibility: Asset['visibility'] = { public: null }): Promise<Asset> {
    const { digest, chunks } = split(data, CHUNK);
    const ticket = unwrap(
        await beginUpload(world.state, world.env(ALICE), world.ports, { name, content_type: 'text/plain', size: BigInt(data.length), sha256: digest, chunk_size: CHUNK, visibility, checkpoints: [] })
    );
    chunks.forEach((chunk, i) => unwrap(world.put(ALICE, ticket.bucket, ticket.session_id, i, chunk)));
    return unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id));
}

/** Commits as an index older than HTTP serving did: without metadata. */
async function commitWithoutMeta(world: World, data: Uint8Array, name?: string): Promise<Asset> {
    const original = world.bucketApi.commitSession;
    world.bucketApi.commitSession = (bucket, args) => original(bucket, { ...args, meta: [] });
    try {
        return await commit(world, data, name);
    } finally {
        world.bucketApi.commitSession = original;
    }
}

const get = (url: string): HttpRequest => ({ method: 'GET', url, headers: [], body: new Uint8Array(), certificate_version: [] });
const status = (world: World, asset: Asset, url = `/a/${asset.id}`) => httpRequest(world.bucket(asset.bucket), { now: world.now }, get(url)).status_code;

describe('metadata backfill', () => {
    it('an asset committed without metadata answers 503 until maintenance pushes it, then 200', async () => {
        const world = worldWithBuckets();
        const asset = await commitWithoutMeta(world, bytes(100));
        expect(status(world, asset)).toBe(503);
        await maintainUrls(world.state, world.ports);
        expect(status(world, asset)).toBe(200);
        expect(world.state.meta.containsKey(BackfillKey.done)).toBe(false);
        await maintainUrls(world.state, world.ports);
        expect(world.state.meta.containsKey(BackfillKey.done)).toBe(true);
        // Done: later runs call no bucket.
        const calls = world.calls.length;
        await backfillMeta(world.state, world.ports);
        expect(world.calls.length).toBe(calls);
    });

    it('goes through every asset in bounded batches, across buckets, while assets are added and deleted', async () => {
        const world = worldWithBuckets(2);
        const assets: Asset[] = [];
        for (let i = 0; i < 9; i++) assets.push(await commitWithoutMeta(world, bytes(10 + i, i)));
        await backfillMeta(world.state, world.ports, 2); // assets 0, 1
        // Deleting before the position and after it, and adding new ones, must not skip anything.
        unwrap(await deleteAsset(world.state, world.env(ALICE), world.ports, assets[0].id));
        unwrap(await deleteAsset(world.state, world.env(ALICE), world.ports, assets[3].id));
        await backfillMeta(world.state, world.ports, 2);
        for (let i = 0; i < 2; i++) assets.push(await commitWithoutMeta(world, bytes(5, 50 + i)));
        unwrap(await deleteAsset(world.state, world.env(ALICE), world.ports, assets[1].id));
        const batches: number[] = [];
        const original = world.bucketApi.putAssetMeta;
        world.bucketApi.putAssetMeta = (bucket, metas) => (batches.push(metas.length), original(bucket, metas));
        for (let run = 0; run < 10 && !world.state.meta.containsKey(BackfillKey.done); run++) await backfillMeta(world.state, world.ports, 2);
        expect(world.state.meta.containsKey(BackfillKey.done)).toBe(true);
        expect(Math.max(...batches)).toBeLessThanOrEqual(2);
        const deleted = new Set([assets[0].id, assets[1].id, assets[3].id]);
        for (const asset of assets) expect(status(world, asset), `asset ${asset.id}`).toBe(deleted.has(asset.id) ? 404 : 200);
    });

    it('an unreachable bucket stops the pass, which resumes at the same place', async () => {
        const world = worldWithBuckets();
        const asset = await commitWithoutMeta(world, bytes(100));
        world.unreachable.add(asset.bucket.toText());
        await backfillMeta(world.state, world.ports);
        world.unreachable.clear();
        expect(status(world, asset)).toBe(503);
        await backfillMeta(world.state, world.ports);
        expect(status(world, asset)).toBe(200);
    });
});

describe('certification', () => {
    it('a bucket upgraded from before certification backfills: a scan page, then bounded batches; 503 until certified', async () => {
        const world = worldWithBuckets();
        const assets = [await commit(world, bytes(3 * CHUNK + 5, 1)), await commit(world, bytes(10, 2)), await commit(world, bytes(2 * CHUNK, 3))];
        const bucket = world.bucket(assets[0].bucket);
        for (const asset of assets) expect(status(world, asset)).not.toBe(503);
        // The module before: no certification maps at all.
        bucket.certNodes = new MemoryMap(idIndexKey, bytesSerializer);
        bucket.digests = new MemoryMap(idIndexKey, bytesSerializer);
        bucket.certJobs = new MemoryMap(u64Key, bytesSerializer);
        // What postUpgrade does: nothing per asset.
        setUpCertification(bucket);
        startBackfill(bucket);
        expect(bucket.certNodes.len()).toBeLessThanOrEqual(12);
        for (const asset of assets) expect(status(world, asset)).toBe(503);
        let steps = 0;
        while (step(bucket, { chunks: 2, bytes: 1 << 20 })) {
            steps++;
            // A step certifies at most 2 chunks: never more than one asset's worth published per step here.
            expect(steps).toBeLessThan(20);
        }
        expect(steps).toBeGreaterThanOrEqual(3);
        for (const asset of assets) expect(isPublished(bucket, asset.id), `asset ${asset.id}`).toBe(true);
        expect(status(world, assets[0])).toBe(206);
        expect(status(world, assets[1])).toBe(200);
        // The chunk digests were read back once and kept.
        expect(bucket.digests.len()).toBe(4 + 1 + 2);
    });

    it('a large asset is served (certified 503 meanwhile) once timer steps finish what the commit began', async () => {
        const world = worldWithBuckets();
        const asset = await commit(world, bytes(40 * CHUNK, 4));
        const bucket = world.bucket(asset.bucket);
        expect(status(world, asset)).toBe(503);
        expect(bucket.certJobs.get(asset.id)).toEqual(Uint8Array.of(0, 0, 0, 16));
        while (step(bucket)) {}
        expect(status(world, asset)).toBe(206);
    });

    it('a chunk whose digest was not kept is hashed over several messages within the byte budget, to its true SHA-256', async () => {
        const world = worldWithBuckets();
        const data = bytes(3 * CHUNK + 5, 6);
        const asset = await commit(world, data);
        const bucket = world.bucket(asset.bucket);
        // As after the in-canister fallback (or a bucket from before digests were kept): no digests, no tree.
        bucket.certNodes = new MemoryMap(idIndexKey, bytesSerializer);
        bucket.digests = new MemoryMap(idIndexKey, bytesSerializer);
        bucket.certJobs = new MemoryMap(u64Key, bytesSerializer);
        setUpCertification(bucket);
        startBackfill(bucket);
        const budget = Math.floor(CHUNK / 3 / 64) * 64;
        let steps = 0;
        let partials = 0;
        while (step(bucket, { chunks: 8, bytes: budget })) {
            steps++;
            const job = bucket.certJobs.get(asset.id);
            // A job longer than its chunk number carries the partial digest of a chunk hashed part way.
            if (job !== undefined && job.length > 4) partials++;
            expect(steps).toBeLessThan(40);
        }
        expect(partials).toBeGreaterThan(0);
        expect(isPublished(bucket, asset.id)).toBe(true);
        for (let i = 0; i < 4; i++) {
            const chunk = data.subarray(i * CHUNK, Math.min(data.length, (i + 1) * CHUNK));
            expect(Buffer.from(bucket.digests.get([asset.id, i])!).toString('hex')).toBe(createHash('sha256').update(chunk).digest('hex'));
        }
        expect(status(world, asset)).toBe(206);
    });

    it('a deletion takes the asset out of the tree in its first call; its map goes in batches', async () => {
        const world = worldWithBuckets();
        const asset = await commit(world, bytes(8 * CHUNK, 5));
        const bucket = world.bucket(asset.bucket);
        setUpCertification(bucket); // as the canister's init does
        const root = certification(bucket).rootHash();
        const nodes = bucket.certNodes.len();
        unwrap(await deleteAsset(world.state, world.env(ALICE), world.ports, asset.id));
        expect(isPublished(bucket, asset.id)).toBe(false);
        expect(certification(bucket).rootHash()).not.toEqual(root);
        expect(status(world, asset)).toBe(404);
        let left = destroyResponses(bucket, asset.id, 10);
        expect(left).toBeGreaterThan(0);
        while (left > 0) left = destroyResponses(bucket, asset.id, 10);
        expect(Number(bucket.certNodes.len())).toBeLessThan(Number(nodes) - 30);
    });
});

describe('URL secrets', () => {
    it('asset_url gives the bucket its secret first; concurrent calls agree on one secret', async () => {
        const world = worldWithBuckets();
        const asset = await commit(world, bytes(300), 'a.txt', { private: null });
        const [a, b] = await Promise.all([1, 2].map(() => assetUrl(world.state, world.env(ALICE), world.ports, asset.id, 60)));
        const bucketSecret = urlSecret(world.bucket(asset.bucket))!;
        expect(world.state.urlSecrets.get(asset.bucket)).toEqual({ secret: bucketSecret, delivered: true });
        for (const url of [unwrap<AssetUrl>(a), unwrap<AssetUrl>(b)]) {
            expect(status(world, asset, url.path)).toBe(206);
        }
        expect(await assetUrl(world.state, world.env(BOB), world.ports, asset.id, 60)).toEqual({ Err: { Unauthorized: expect.any(String) } });
    });

    it('an unreachable bucket gets no token minted; maintenance delivers the secret later', async () => {
        const world = worldWithBuckets();
        const asset = await commit(world, bytes(300), 'a.txt', { private: null });
        world.unreachable.add(asset.bucket.toText());
        expect(await assetUrl(world.state, world.env(ALICE), world.ports, asset.id, 60)).toEqual({ Err: { BucketUnavailable: expect.anything() } });
        expect(world.state.urlSecrets.get(asset.bucket)?.delivered).toBe(false);
        world.unreachable.clear();
        await maintainUrls(world.state, world.ports);
        expect(world.state.urlSecrets.get(asset.bucket)?.delivered).toBe(true);
        const url = unwrap<AssetUrl>(await assetUrl(world.state, world.env(ALICE), world.ports, asset.id, 60));
        expect(status(world, asset, url.path)).toBe(206);
        // The token expires with the bucket's clock.
        world.now += 61n * 1_000_000_000n;
        expect(status(world, asset, url.path)).toBe(403);
    });
});

describe('bucket layout v4', () => {
    it('an upgrade takes over v2 and v3 buckets (no HTTP metadata) and refuses an unknown later layout', () => {
        for (const old of [2, 3]) {
            const state = newBucketState();
            state.meta.insert(MetaKey.layoutVersion, Uint8Array.of(0, 0, 0, old));
            expect(checkLayout(state)).toBeNull();
            expect(state.meta.get(MetaKey.layoutVersion)).toEqual(Uint8Array.of(0, 0, 0, 4));
        }
        const state = newBucketState();
        state.meta.insert(MetaKey.layoutVersion, Uint8Array.of(0, 0, 0, 5));
        expect(checkLayout(state)).toMatch(/v5 is not the v4/);
    });
});
