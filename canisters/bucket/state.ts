/** The bucket's durable state: five stable maps, typed. */
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import type { KvMap } from '../../shared/stable';
import { BucketSessionState, Visibility } from '../../shared/types';
import type { AssetMeta } from '../../shared/types';
import type { BucketSessionState as SessionStateT, Visibility as VisibilityT } from '../../shared/types';

export const BucketSessionRecord = IDL.Record({
    session_id: IDL.Nat64,
    owner: IDL.Principal,
    size: IDL.Nat64,
    chunk_size: IDL.Nat32,
    chunk_count: IDL.Nat32,
    visibility: Visibility,
    state: BucketSessionState,
    /** Layout v2 kept one bit per chunk here; since v3 it is empty and presence.ts keeps the bits in pages. */
    received: IDL.Vec(IDL.Nat8),
    received_count: IDL.Nat32,
    received_bytes: IDL.Nat64,
    /** Chunks below this index have been verified by the index and can no longer change. */
    frozen_below: IDL.Nat32,
    last_activity: IDL.Nat64,
    /** While deleting: chunks below this index are gone, so the next batch starts here (absent: 0). */
    delete_from: IDL.Opt(IDL.Nat32)
});
export interface BucketSession {
    session_id: bigint;
    owner: Principal;
    size: bigint;
    chunk_size: number;
    chunk_count: number;
    visibility: VisibilityT;
    state: SessionStateT;
    received: Uint8Array;
    received_count: number;
    received_bytes: bigint;
    frozen_below: number;
    last_activity: bigint;
    delete_from: [] | [number];
}

/** Keys of the meta map. */
export const MetaKey = {
    layoutVersion: 0,
    index: 1,
    /** Running totals over all sessions (u64), so stats() reads two values instead of every session. */
    storedBytes: 2,
    storedChunks: 3,
    /** The key of private assets' URL tokens (32 bytes). */
    urlSecret: 4
} as const;

export interface BucketState {
    meta: KvMap<number, Uint8Array>;
    sessions: KvMap<bigint, BucketSession>;
    /** Layout v1: (session or asset id, chunk index) → the whole chunk. Only read and deleted now. */
    chunks: KvMap<[bigint, number], Uint8Array>;
    /** (session or asset id, chunk index, piece index) → a piece of the chunk's bytes (see `PIECE_BYTES`). */
    pieces: KvMap<[bigint, number, number], Uint8Array>;
    /** (session or asset id, page) → which chunks of the page the bucket holds (see presence.ts). */
    presence: KvMap<[bigint, number], Uint8Array>;
    /** Committed asset id → its HTTP metadata (layout v4; assets committed before arrive by backfill). */
    assets: KvMap<bigint, AssetMeta>;
    /** Response certification (certify.ts): nodes of the Merkle maps, keyed (map namespace, node id). */
    certNodes: KvMap<[bigint, number], Uint8Array>;
    /** (session or asset id, chunk index) → SHA-256 of the chunk as read back from stable memory. */
    digests: KvMap<[bigint, number], Uint8Array>;
    /** Asset id → progress of its certification (u32: the next chunk); one reserved key for the backfill scan. */
    certJobs: KvMap<bigint, Uint8Array>;
}

export interface Env {
    caller: Principal;
    now: bigint;
}
