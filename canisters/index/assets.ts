/** The asset index: committed assets, per-owner listing pages and per-owner byte accounting. */
import type { Principal } from '@dfinity/principal';

import { MAX_LIST_LIMIT } from '../../shared/constants';
import type { Asset, AssetPage, ListAssetsArgs, Result } from '../../shared/types';
import { addTotals } from './schedule';
import { type Env, type IndexState, type OwnerRecord, type Ports } from './state';
import { forgetEncryption, hasGrant } from './keys';
import { enqueueTask, runTask } from './tasks';
import { shiftBackfill } from './urls';

/** Asset ids per owner page. */
export const OWNER_PAGE_SIZE = 256;
/** `list_assets` cursors pack (page, position in it): the position in the low 40 bits, the page above. */
const CURSOR_ID_BITS = 40n;

export function getOwner(state: IndexState, owner: Principal): OwnerRecord {
    return state.owners.get(owner) ?? { committed_bytes: 0n, reserved_bytes: 0n, asset_count: 0n, pages: 0, open_sessions: [0] };
}

export function openSessions(owner: OwnerRecord): number {
    return owner.open_sessions[0] ?? 0;
}

/** Adds to an owner's reserved and committed bytes and open sessions (negative to release), and to the totals. */
export function adjustOwner(state: IndexState, owner: Principal, delta: { reserved?: bigint; committed?: bigint; sessions?: number }): void {
    const record = getOwner(state, owner);
    record.reserved_bytes += delta.reserved ?? 0n;
    record.committed_bytes += delta.committed ?? 0n;
    record.open_sessions = [openSessions(record) + (delta.sessions ?? 0)];
    if (record.reserved_bytes < 0n || record.committed_bytes < 0n || openSessions(record) < 0) throw new Error(`invariant broken: accounting of ${owner.toText()} went negative`);
    state.owners.insert(owner, record);
    addTotals(state, { reserved: delta.reserved, committed: delta.committed });
}

/** Records a committed asset and lists it on its owner's last page. */
export function insertAsset(state: IndexState, asset: Asset): void {
    const owner = getOwner(state, asset.owner);
    let page = owner.pages - 1;
    let ids = page >= 0 ? (state.ownerPages.get([asset.owner, page]) ?? []) : [];
    if (page < 0 || ids.length >= OWNER_PAGE_SIZE) {
        page = owner.pages;
        owner.pages += 1;
        ids = [];
    }
    ids.push(asset.id);
    state.ownerPages.insert([asset.owner, page], ids);
    owner.asset_count += 1n;
    state.owners.insert(asset.owner, owner);
    state.assets.insert(asset.id, { asset, page });
    addTotals(state, { assets: 1n });
    shiftBackfill(state, asset.id, 1);
}

function removeAssetRecord(state: IndexState, id: bigint): Asset | undefined {
    const record = state.assets.remove(id);
    if (record === undefined) return undefined;
    shiftBackfill(state, id, -1);
    const { asset, page } = record;
    // A deleted id leaves a 0 (no id is 0) in its place: positions, which list_assets cursors name, never shift.
    const ids = state.ownerPages.get([asset.owner, page]) ?? [];
    state.ownerPages.insert(
        [asset.owner, page],
        Array.from(ids, (x) => (x === id ? 0n : x))
    );
    const owner = getOwner(state, asset.owner);
    owner.asset_count -= 1n;
    owner.committed_bytes -= asset.size;
    state.owners.insert(asset.owner, owner);
    addTotals(state, { assets: -1n, committed: -asset.size });
    return asset;
}

function mayRead(state: IndexState, env: Env, asset: Asset): boolean {
    return 'public' in asset.visibility || asset.owner.toText() === env.caller.toText() || env.isController(env.caller) || hasGrant(state, asset.id, env.caller);
}

export function getAsset(state: IndexState, env: Env, id: bigint): Result<Asset> {
    const record = state.assets.get(id);
    if (record === undefined) return { Err: { AssetNotFound: id } };
    if (!mayRead(state, env, record.asset)) {
        // The client recognises this refusal (NotSharedError): an encrypted asset may be shared with the caller.
        if (state.keys?.encryption.containsKey(id)) return { Err: { Unauthorized: `asset ${id} is encrypted and not shared with you` } };
        return { Err: { Unauthorized: `asset ${id} is private to its owner` } };
    }
    return { Ok: record.asset };
}

/** Asset ids (and pages) `list_assets` examines per call at most, readable or not. */
export const LIST_SCAN_LIMIT = 2 * MAX_LIST_LIMIT;

/**
 * Lists an owner's assets in commit order, a page at a time. Others see only public assets. A cursor
 * names a position (owner page, index in it): pages hold ids in commit order, which is not id order (an
 * upload begun earlier may commit later), and deletions leave their place empty, so positions stay valid
 * while assets are deleted. A call examines at most LIST_SCAN_LIMIT ids and pages, so a page may come
 * back short (even empty) with a next_cursor: continue from it until there is none.
 */
export function listAssets(state: IndexState, env: Env, args: ListAssetsArgs): Result<AssetPage> {
    const owner = args.owner[0] ?? env.caller;
    const limit = args.limit[0] ?? 100;
    if (limit < 1 || limit > MAX_LIST_LIMIT) return { Err: { InvalidArgument: `limit must be between 1 and ${MAX_LIST_LIMIT}` } };
    const cursor = args.cursor[0];
    let page = cursor === undefined ? 0 : Number(cursor >> CURSOR_ID_BITS);
    let at = cursor === undefined ? 0 : Number(cursor & ((1n << CURSOR_ID_BITS) - 1n));
    const pages = getOwner(state, owner).pages;
    const assets: Asset[] = [];
    let examined = 0;
    const next = (): [bigint] => [(BigInt(page) << CURSOR_ID_BITS) | BigInt(at)];
    for (; page < pages; page++, at = 0) {
        if (++examined > LIST_SCAN_LIMIT) return { Ok: { assets, next_cursor: next() } };
        const ids = state.ownerPages.get([owner, page]) ?? [];
        for (; at < ids.length; at++) {
            if (assets.length >= limit || ++examined > LIST_SCAN_LIMIT) return { Ok: { assets, next_cursor: next() } };
            const id = ids[at];
            if (id === 0n) continue;
            const record = state.assets.get(id);
            if (record !== undefined && mayRead(state, env, record.asset)) assets.push(record.asset);
        }
    }
    return { Ok: { assets, next_cursor: [] } };
}

/**
 * Removes an asset from the index at once (it is gone for readers from this message on), then has its
 * bucket delete the chunks, now or later from the persisted task queue.
 */
export async function deleteAsset(state: IndexState, env: Env, ports: Ports, id: bigint): Promise<Result<null>> {
    const record = state.assets.get(id);
    if (record === undefined) return { Err: { AssetNotFound: id } };
    const asset = record.asset;
    if (asset.owner.toText() !== env.caller.toText() && !env.isController(env.caller)) {
        return { Err: { Unauthorized: `only the owner of asset ${id} may delete it` } };
    }
    removeAssetRecord(state, id);
    forgetEncryption(state, id, asset.owner);
    // The bucket's used_bytes keeps the asset until its chunks are gone (the task releases them).
    const task = enqueueTask(state, env, { delete_chunks: { bucket: asset.bucket, id, bytes: [asset.size] } });
    await runTask(state, env, ports, task);
    return { Ok: null };
}
