/**
 * HTTP URLs of assets: `asset_url` (where an asset is served, with a token for a private one), the
 * per-bucket URL secrets the tokens are keyed with, and the backfill that gives buckets committed before
 * HTTP serving the metadata their responses need.
 *
 * Secrets: the index draws 32 bytes from `raw_rand` per bucket, keeps them, and sends them to the bucket
 * (`c2c_set_url_secret`) before minting any token for it. The index is the single source: a bucket
 * never invents one, so the two cannot disagree.
 */
import type { Principal } from '@dfinity/principal';

import { NANOS_PER_SECOND } from '../../shared/constants';
import type { AssetMeta, AssetUrl, Result, SiloError } from '../../shared/types';
import { DEFAULT_URL_TTL_SECONDS, MAX_URL_TTL_SECONDS, mintUrlToken, TOKEN_PARAM, URL_SECRET_BYTES } from '../../shared/url_token';
import { describeError } from './errors';
import { hasGrant, READER_URL_TTL_SECONDS } from './keys';
import { type Env, getU64, type IndexState, type Ports, setU64 } from './state';

/** Meta keys of the metadata backfill (after the index's own keys in state.ts, which end at 17). */
export const BackfillKey = {
    /** Position in `assets` (key order) of the next asset to push. */
    position: 18,
    /** Id of the last asset pushed: inserts and removals at or below it shift `position`. */
    lastId: 19,
    /** Set once a pass has gone through every asset. */
    done: 20
} as const;

/** Assets pushed per maintenance run, and per bucket call (the bucket takes at most 200). */
export const BACKFILL_BATCH = 100;
/** Buckets given a URL secret per maintenance run. */
const SECRETS_PER_RUN = 8;

export function assetMetaOf(state: IndexState, id: bigint): [] | [AssetMeta] {
    const record = state.assets.get(id);
    if (record === undefined) return [];
    const { name, content_type, sha256 } = record.asset;
    return [{ id, name, content_type, sha256 }];
}

/** The path of an asset on its bucket: `/a/<id>/<name>`, the name percent-encoded. */
export function assetPath(id: bigint, name: string): string {
    return `/a/${id}/${encodeURIComponent(name)}`;
}

// ------------------------------------------------------------------ secrets

/**
 * The bucket's URL secret, generated and delivered first if need be. After each await the record is read
 * again: a concurrent call may have generated one meanwhile, and that one wins.
 */
export async function ensureUrlSecret(state: IndexState, ports: Ports, bucket: Principal): Promise<Result<Uint8Array>> {
    let record = state.urlSecrets.get(bucket);
    if (record?.delivered) return { Ok: record.secret };
    const unavailable = (reason: string): Result<Uint8Array> => ({ Err: { BucketUnavailable: { bucket, reason } } });
    if (record === undefined) {
        let random: Uint8Array;
        try {
            random = await ports.management.rawRand();
        } catch (error) {
            return unavailable(`raw_rand failed: ${describeError(error)}`);
        }
        if (random.length < URL_SECRET_BYTES) throw new Error(`invariant broken: raw_rand returned ${random.length} bytes`);
        record = state.urlSecrets.get(bucket) ?? { secret: random.slice(0, URL_SECRET_BYTES), delivered: false };
        state.urlSecrets.insert(bucket, record);
        if (record.delivered) return { Ok: record.secret };
    }
    const secret = record.secret;
    let error: SiloError | null = null;
    try {
        const result = await ports.bucket.setUrlSecret(bucket, secret);
        if ('Err' in result) error = result.Err;
    } catch (e) {
        return unavailable(`c2c_set_url_secret failed: ${describeError(e)}`);
    }
    if (error !== null) return { Err: error };
    const current = state.urlSecrets.get(bucket);
    // Only the secret this call delivered is marked; a different one (impossible today) is left to its caller.
    if (current !== undefined && current.secret.length === secret.length && current.secret.every((b, i) => b === secret[i])) {
        state.urlSecrets.insert(bucket, { secret, delivered: true });
    }
    return { Ok: secret };
}

// ------------------------------------------------------------------ asset_url

/**
 * Where asset `id` is served. Public: anyone gets the path. Private: only the owner, and the path carries
 * a token valid `ttlSeconds` (default an hour, at most 30 days).
 */
export async function assetUrl(state: IndexState, env: Env, ports: Ports, id: bigint, ttlSeconds: number | undefined): Promise<Result<AssetUrl>> {
    const record = state.assets.get(id);
    if (record === undefined) return { Err: { AssetNotFound: id } };
    const asset = record.asset;
    const path = assetPath(id, asset.name);
    if ('public' in asset.visibility) return { Ok: { bucket: asset.bucket, path, token: [], expires_at: [] } };
    // Readers of an encrypted asset fetch its ciphertext through such URLs too, for at most READER_URL_TTL_SECONDS.
    const reader = asset.owner.toText() !== env.caller.toText() && hasGrant(state, id, env.caller);
    if (asset.owner.toText() !== env.caller.toText() && !reader) return { Err: { Unauthorized: `asset ${id} is private: only its owner may get a URL for it` } };
    const ttl = ttlSeconds ?? DEFAULT_URL_TTL_SECONDS;
    const maxTtl = reader ? READER_URL_TTL_SECONDS : MAX_URL_TTL_SECONDS;
    if (ttl < 1 || ttl > maxTtl) return { Err: { InvalidArgument: `ttl_seconds must be between 1 and ${maxTtl}` } };

    const secret = await ensureUrlSecret(state, ports, asset.bucket);
    if ('Err' in secret) return secret;
    // The asset may have been deleted while the secret was set up.
    if (!state.assets.containsKey(id)) return { Err: { AssetNotFound: id } };
    if (reader && !hasGrant(state, id, env.caller)) return { Err: { Unauthorized: `asset ${id} is no longer shared with you` } };
    const expiresAt = env.now / NANOS_PER_SECOND + BigInt(ttl);
    const token = mintUrlToken(secret.Ok, id, expiresAt);
    return { Ok: { bucket: asset.bucket, path: `${path}?${TOKEN_PARAM}=${token}`, token: [token], expires_at: [expiresAt * NANOS_PER_SECOND] } };
}

// ------------------------------------------------------------------ maintenance

/** Keeps the backfill position right when an asset is added or removed before it (see assets.ts). */
export function shiftBackfill(state: IndexState, id: bigint, delta: 1 | -1): void {
    if (state.meta.containsKey(BackfillKey.done) || !state.meta.containsKey(BackfillKey.lastId)) return;
    if (id <= getU64(state, BackfillKey.lastId)) setU64(state, BackfillKey.position, getU64(state, BackfillKey.position) + BigInt(delta));
}

/** The position in `assets` of the first asset after `lastId`, from a guess that is usually right. */
function settle(state: IndexState, guess: number, lastId: bigint): number {
    const keyAt = (i: number): bigint | undefined => state.assets.keys(i, 1)[0];
    let position = guess;
    while (position > 0 && (keyAt(position - 1) ?? -1n) > lastId) position--;
    for (let key = keyAt(position); key !== undefined && key <= lastId; key = keyAt(position)) position++;
    return position;
}

/**
 * Pushes the metadata of the next `BACKFILL_BATCH` assets (in id order) to their buckets, once per index
 * lifetime: assets committed by this code carry it in their commit already. A bucket that cannot take it
 * (unreachable, or not yet upgraded) stops the pass, which resumes at the same place next run. The
 * position is kept right by `shiftBackfill` and checked against the last id pushed before each batch.
 */
export async function backfillMeta(state: IndexState, ports: Ports, batch = BACKFILL_BATCH): Promise<void> {
    if (state.meta.containsKey(BackfillKey.done)) return;
    let position = Number(getU64(state, BackfillKey.position));
    if (state.meta.containsKey(BackfillKey.lastId)) position = settle(state, position, getU64(state, BackfillKey.lastId));
    setU64(state, BackfillKey.position, BigInt(position));
    const page = state.assets.items(position, batch);
    if (page.length === 0) {
        setU64(state, BackfillKey.done, 1n);
        return;
    }
    const byBucket = new Map<string, { bucket: Principal; metas: AssetMeta[] }>();
    for (const [id, { asset }] of page) {
        const group = byBucket.get(asset.bucket.toText()) ?? { bucket: asset.bucket, metas: [] };
        group.metas.push({ id, name: asset.name, content_type: asset.content_type, sha256: asset.sha256 });
        byBucket.set(asset.bucket.toText(), group);
    }
    for (const { bucket, metas } of byBucket.values()) {
        try {
            const result = await ports.bucket.putAssetMeta(bucket, metas);
            if ('Err' in result) return;
        } catch {
            return;
        }
    }
    // Shifts recorded during the awaits are kept; the next batch settles the position against lastId.
    setU64(state, BackfillKey.position, getU64(state, BackfillKey.position) + BigInt(page.length));
    setU64(state, BackfillKey.lastId, page[page.length - 1][0]);
}

/** Maintenance-timer work: URL secrets for buckets without one, and a batch of the metadata backfill. */
export async function maintainUrls(state: IndexState, ports: Ports): Promise<void> {
    let given = 0;
    for (const [bucket] of state.buckets.items()) {
        if (given >= SECRETS_PER_RUN) break;
        if (state.urlSecrets.get(bucket)?.delivered) continue;
        given++;
        await ensureUrlSecret(state, ports, bucket);
    }
    await backfillMeta(state, ports);
}
