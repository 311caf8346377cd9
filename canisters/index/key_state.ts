/**
 * The stable records of the index's key authority (keys.ts): encryption records, wrapped-key grants,
 * per-principal key use, their serializers and key encodings, and the vetKD port. Kept apart from the
 * logic so that state.ts can name them without an import cycle.
 */
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import type { KvMap } from '../../shared/stable';
import { candidSerializer, PRINCIPAL_KEY_BYTES, principalKey, readU64, writeU64 } from '../../shared/stable';
import { EncryptionInfo, type EncryptionInfo as EncryptionInfoT } from '../../shared/types';

export const EncryptionRecord = IDL.Record({ info: EncryptionInfo, readers: IDL.Vec(IDL.Principal) });
export interface EncryptionRecord {
    info: EncryptionInfoT;
    /** Whom the asset is shared with, in the order shared (the owner is not listed). */
    readers: Principal[];
}

export const GrantRecord = IDL.Record({ wrapped_key: IDL.Vec(IDL.Nat8), page: IDL.Opt(IDL.Nat32) });
export interface GrantRecord {
    wrapped_key: Uint8Array;
    /** The reader's shared-with page listing the asset (absent for the owner's own grant). */
    page: [] | [number];
}

export const KeyUserRecord = IDL.Variant({
    user: IDL.Record({ shared_pages: IDL.Nat32, window_start: IDL.Nat64, derived: IDL.Nat32 }),
    key: IDL.Record({ name: IDL.Text, public_key: IDL.Opt(IDL.Vec(IDL.Nat8)) })
});
export type KeyUserRecord =
    | { user: { shared_pages: number; window_start: bigint; derived: number } }
    | { key: { name: string; public_key: [] | [Uint8Array] } };

export interface KeyState {
    encryption: KvMap<bigint, EncryptionRecord>;
    grants: KvMap<[bigint, Principal], GrantRecord>;
    sharedPages: KvMap<[Principal, number], bigint[]>;
    /** Per principal; the management canister's entry (it never calls the index) holds the vetKD key. */
    keyUsers: KvMap<Principal, KeyUserRecord>;
}

export const encryptionSerializer = candidSerializer<EncryptionRecord>(EncryptionRecord);
export const grantSerializer = candidSerializer<GrantRecord>(GrantRecord);
export const keyUserSerializer = candidSerializer<KeyUserRecord>(KeyUserRecord);

/** (asset id, principal): 38 bytes, the grants of one asset adjacent. */
export const grantKey = {
    toBytes([id, principal]: [bigint, Principal]): Uint8Array {
        const out = new Uint8Array(8 + PRINCIPAL_KEY_BYTES);
        writeU64(out, 0, id);
        out.set(principalKey.toBytes(principal), 8);
        return out;
    },
    fromBytes: (bytes: Uint8Array): [bigint, Principal] => [readU64(bytes, 0), principalKey.fromBytes(bytes.subarray(8))]
};

/** Calls to the management canister's vetKD methods; each rejects with the system's message when it fails. */
export interface VetKdApi {
    publicKey(keyName: string, context: Uint8Array): Promise<Uint8Array>;
    /** Attaches `fee` cycles (what the key's `vetkd_derive_key` charges). */
    deriveKey(keyName: string, input: Uint8Array, context: Uint8Array, transportPublicKey: Uint8Array, fee: bigint): Promise<Uint8Array>;
}
