/**
 * What the bucket keeps about committed assets for HTTP serving: their metadata (recorded at commit, or
 * pushed later by the index for assets committed before layout v3) and the key of private URL tokens.
 */
import { URL_SECRET_BYTES } from '../../shared/url_token';
import type { AssetMeta, CommitSessionArgs, Result } from '../../shared/types';
import { certifyNow, COMMIT_BUDGET, unpublish } from './certify';
import { commitSession } from './logic';
import { type BucketSession, type BucketState, MetaKey } from './state';

/** Most metadata records one `c2c_put_asset_meta` takes (names are at most 1 KiB: ~300 KiB a call). */
export const MAX_META_BATCH = 200;

/** A committed asset and its metadata, or what is missing. */
export type ServedAsset = { session: BucketSession; meta: AssetMeta } | { missing: 'asset' | 'meta' };

export function servedAsset(state: BucketState, id: bigint): ServedAsset {
    const session = state.sessions.get(id);
    if (session === undefined || !('committed' in session.state)) return { missing: 'asset' };
    const meta = state.assets.get(id);
    return meta === undefined ? { missing: 'meta' } : { session, meta };
}

function recordMeta(state: BucketState, meta: AssetMeta): boolean {
    const session = state.sessions.get(meta.id);
    if (session === undefined || !('committed' in session.state)) return false;
    if (meta.sha256.length !== 32) return false;
    state.assets.insert(meta.id, meta);
    return true;
}

/** `c2c_commit_session`: the commit, and the metadata when the index sent it. */
export function commitWithMeta(state: BucketState, args: CommitSessionArgs): Result<null> {
    const committed = commitSession(state, args);
    const meta = args.meta[0];
    if ('Ok' in committed && meta !== undefined) {
        if (meta.id !== args.session_id) return { Err: { InvalidArgument: `metadata of asset ${meta.id} sent with the commit of ${args.session_id}` } };
        if (recordMeta(state, meta)) certifyNow(state, meta.id);
    }
    return committed;
}

/** `c2c_put_asset_meta`: records metadata of committed assets; ids that are not (any more) are skipped. */
export function putAssetMeta(state: BucketState, metas: AssetMeta[]): Result<number> {
    if (metas.length > MAX_META_BATCH) return { Err: { InvalidArgument: `at most ${MAX_META_BATCH} records per call` } };
    let recorded = 0;
    const budget = { ...COMMIT_BUDGET };
    for (const meta of metas) {
        if (!recordMeta(state, meta)) continue;
        recorded++;
        certifyNow(state, meta.id, budget);
    }
    return { Ok: recorded };
}

/** Called when the asset's deletion starts: from then on it is not served, nor certified. */
export function forgetMeta(state: BucketState, id: bigint): void {
    unpublish(state, id);
    state.assets.remove(id);
}

export function setUrlSecret(state: BucketState, secret: Uint8Array): Result<null> {
    if (secret.length !== URL_SECRET_BYTES) return { Err: { InvalidArgument: `the URL secret must be ${URL_SECRET_BYTES} bytes` } };
    state.meta.insert(MetaKey.urlSecret, secret);
    return { Ok: null };
}

export function urlSecret(state: BucketState): Uint8Array | undefined {
    return state.meta.get(MetaKey.urlSecret);
}
