/** The bucket's durable state: four stable maps, typed. */
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
    /** One bit per chunk: set when the bucket holds it. */
    received: IDL.Vec(IDL.Nat8),
    received_count: IDL.Nat32,
    received_bytes: IDL.Nat64,
    /** Chunks below this index have been verified by the index and can no longer change. */
    frozen_below: IDL.Nat32,
    last_activity: IDL.Nat64
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
}

/** Keys of the meta map. */
export const MetaKey = { layoutVersion: 0, index: 1, /** The key of private assets' URL tokens (32 bytes). */ urlSecret: 2 } as const;

export interface BucketState {
    meta: KvMap<number, Uint8Array>;
    sessions: KvMap<bigint, BucketSession>;
    /** Layout v1: (session or asset id, chunk index) → the whole chunk. Only read and deleted now. */
    chunks: KvMap<[bigint, number], Uint8Array>;
    /** (session or asset id, chunk index, piece index) → a piece of the chunk's bytes (see `PIECE_BYTES`). */
    pieces: KvMap<[bigint, number, number], Uint8Array>;
    /** Committed asset id → its HTTP metadata (layout v3; assets committed before arrive by backfill). */
    assets: KvMap<bigint, AssetMeta>;
}

export interface Env {
    caller: Principal;
    now: bigint;
}
