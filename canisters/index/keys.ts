/**
 * Key authority for end-to-end encrypted assets (issue 21). The index never sees a data key or plaintext:
 * it keeps, per encrypted asset, the data key wrapped (vetKeys IBE) to each principal allowed to read it,
 * releases each wrapped key only to its principal, and derives each user's vetKey (which opens what is
 * wrapped to that user) at most a few times per interval, paying the management canister's fee.
 *
 * Costs the index pays: `derive_user_key` attaches the vetKD fee (tens of billions of cycles on the IC),
 * so it is rate limited per principal and refused below the index's cycles reserve; everything else is a
 * bounded number of map reads and writes (at most MAX_READERS grants per asset).
 */
import { Principal } from '@dfinity/principal';

import { MAX_CONTENT_TYPE_BYTES, MAX_LIST_LIMIT } from '../../shared/constants';
import { VETKD_DERIVE_KEY_FEES, vetkdDeriveKeyFee } from '../../shared/management';
import {
    ciphertextSize,
    ENCRYPTED_CONTENT_TYPE,
    ENCRYPTION_NONCE_PREFIX_BYTES,
    ENCRYPTION_TAG_BYTES,
    ENCRYPTION_VERSION,
    type Asset,
    type AssetAccess,
    type AssetPage,
    type ListSharedArgs,
    type Result,
    type SiloError,
    type UploadEncryptionArgs
} from '../../shared/types';
import { type EncryptionRecord, getConfig, type Env, type IndexState, type KeyState, type VetKdApi } from './state';

/** The vetKD derivation context of every Silo file key: one public key for all users, a vetKey per principal. */
export const ENCRYPTION_CONTEXT = new TextEncoder().encode('silo-e2e-v1');
/** Principals (besides the owner) one asset may be shared with. */
export const MAX_READERS = 32;
/** An IBE ciphertext of a 32-byte key is 152 bytes; room for a later format, not for storage abuse. */
export const MAX_WRAPPED_KEY_BYTES = 512;
/** A compressed BLS12-381 G1 point: the transport public key `vetkd_derive_key` takes. */
export const TRANSPORT_PUBLIC_KEY_BYTES = 48;
/** vetKey derivations per principal per window (each costs the index the vetKD fee). */
export const DERIVES_PER_WINDOW = 10;
export const DERIVE_WINDOW_NS = 3_600_000_000_000n;
/**
 * vetKey derivations the index pays for per window across all principals: one user with many identities
 * (each under its own limit) cannot spend the index's cycles down to its reserve, stalling bucket top-ups
 * and creation for everyone. 100 an hour is 1 T cycles at the test keys' fee, 2.6 T with `key_1`.
 */
export const INDEX_DERIVES_PER_WINDOW = 100;
/** The keyUsers entry counting every derivation (the anonymous principal never derives: it is refused first). */
const ALL_USERS = Principal.anonymous();
/** Longest-lived URL token a reader gets (`asset_url`): readers fetch ciphertext with it, so unsharing ends that soon after. */
export const READER_URL_TTL_SECONDS = 3600;
/** Asset ids per shared-with page. */
export const SHARED_PAGE_SIZE = 256;
const CURSOR_ID_BITS = 40n;

/** The vetKD key the index uses until a controller picks another (fees: VETKD_DERIVE_KEY_FEES in shared/management). */
export const DEFAULT_VETKD_KEY = 'dfx_test_key';

const KEY_ENTRY = Principal.managementCanister();
const same = (a: Principal, b: Principal): boolean => a.toText() === b.toText();

function keys(state: IndexState): KeyState {
    if (state.keys === undefined) throw new Error('invariant broken: the index has no key maps');
    return state.keys;
}

function userRecord(k: KeyState, principal: Principal): { shared_pages: number; window_start: bigint; derived: number } {
    const record = k.keyUsers.get(principal);
    return record !== undefined && 'user' in record ? record.user : { shared_pages: 0, window_start: 0n, derived: 0 };
}

function keyEntry(k: KeyState): { name: string; public_key: [] | [Uint8Array] } {
    const record = k.keyUsers.get(KEY_ENTRY);
    return record !== undefined && 'key' in record ? record.key : { name: DEFAULT_VETKD_KEY, public_key: [] };
}

const anonymousRefusal = { Err: { Unauthorized: 'anonymous callers cannot use encrypted files: sign in with an identity' } } as const;

// ------------------------------------------------------------------ uploads

/**
 * Marks an open upload session as encrypted (owner only; its content type must be ENCRYPTED_CONTENT_TYPE
 * and its size the ciphertext size of `plaintext_size`) and stores the owner's wrapped data key. Sent
 * again (a retry), it replaces what is stored, until finish starts.
 */
export function setUploadEncryption(state: IndexState, env: Env, sessionId: bigint, args: UploadEncryptionArgs): Result<null> {
    if (env.caller.isAnonymous()) return anonymousRefusal;
    const session = state.sessions.get(sessionId);
    if (session === undefined) return { Err: { SessionNotFound: sessionId } };
    if (!same(session.owner, env.caller)) return { Err: { Unauthorized: `session ${sessionId} belongs to another caller` } };
    if ('finishing' in session.state) return { Err: { SessionClosed: { session_id: sessionId, state: 'finishing' } } };
    const { info } = args;
    if (session.content_type !== ENCRYPTED_CONTENT_TYPE) return { Err: { InvalidArgument: `an encrypted upload's content_type must be ${ENCRYPTED_CONTENT_TYPE}` } };
    if (info.version !== ENCRYPTION_VERSION) return { Err: { InvalidArgument: `encryption format version ${info.version} is not supported (only ${ENCRYPTION_VERSION})` } };
    if (info.nonce_prefix.length !== ENCRYPTION_NONCE_PREFIX_BYTES) return { Err: { InvalidArgument: `nonce_prefix must be ${ENCRYPTION_NONCE_PREFIX_BYTES} bytes` } };
    if (new TextEncoder().encode(info.content_type).length > MAX_CONTENT_TYPE_BYTES) return { Err: { InvalidArgument: `the plaintext content_type is longer than ${MAX_CONTENT_TYPE_BYTES} bytes` } };
    if (session.chunk_size <= ENCRYPTION_TAG_BYTES || ciphertextSize(info.plaintext_size, session.chunk_size) !== session.size) {
        return { Err: { InvalidArgument: `${info.plaintext_size} bytes of plaintext in chunks of ${session.chunk_size} do not make the session's ${session.size} bytes of ciphertext` } };
    }
    if (args.owner_key.length === 0 || args.owner_key.length > MAX_WRAPPED_KEY_BYTES) return { Err: { InvalidArgument: `a wrapped key has 1 to ${MAX_WRAPPED_KEY_BYTES} bytes` } };
    const k = keys(state);
    k.encryption.insert(sessionId, { info, readers: [] });
    k.grants.insert([sessionId, env.caller], { wrapped_key: args.owner_key, page: [] });
    return { Ok: null };
}

/** Drops everything the index keeps about an encrypted asset or session `id` (deleted, aborted, expired). Bounded by MAX_READERS. */
export function forgetEncryption(state: IndexState, id: bigint, owner: Principal): void {
    const k = state.keys;
    if (k === undefined) return;
    const record = k.encryption.remove(id);
    if (record === undefined) return;
    k.grants.remove([id, owner]);
    for (const reader of record.readers) dropGrant(k, id, reader);
}

function dropGrant(k: KeyState, id: bigint, reader: Principal): void {
    const grant = k.grants.remove([id, reader]);
    const page = grant?.page[0];
    if (page === undefined) return;
    // A 0 keeps positions (which cursors name) in place, as the owners' pages do.
    const ids = k.sharedPages.get([reader, page]) ?? [];
    k.sharedPages.insert([reader, page], Array.from(ids, (x) => (x === id ? 0n : x)));
}

/** Whether `principal` may obtain asset `id`'s key material: its owner's or a reader's grant exists. */
export function hasGrant(state: IndexState, id: bigint, principal: Principal): boolean {
    return state.keys?.grants.containsKey([id, principal]) ?? false;
}

// ------------------------------------------------------------------ sharing

function ownedEncrypted(state: IndexState, env: Env, id: bigint, verb: string): { Ok: { asset: Asset; record: EncryptionRecord } } | { Err: SiloError } {
    const stored = state.assets.get(id);
    if (stored === undefined) return { Err: { AssetNotFound: id } };
    if (!same(stored.asset.owner, env.caller)) return { Err: { Unauthorized: `only the owner of asset ${id} may ${verb} it` } };
    const record = keys(state).encryption.get(id);
    if (record === undefined) return { Err: { InvalidArgument: `asset ${id} is not encrypted: only encrypted assets are shared (upload it again with encryption)` } };
    return { Ok: { asset: stored.asset, record } };
}

/**
 * Lets `reader` obtain asset `id`'s data key, `wrappedKey` being that key wrapped to the reader's
 * principal (the index cannot check what it wraps). Owner only; sharing again replaces the wrapped key.
 */
export function share(state: IndexState, env: Env, id: bigint, reader: Principal, wrappedKey: Uint8Array): Result<null> {
    if (env.caller.isAnonymous()) return anonymousRefusal;
    const owned = ownedEncrypted(state, env, id, 'share');
    if ('Err' in owned) return owned;
    if (reader.isAnonymous() || same(reader, KEY_ENTRY)) return { Err: { InvalidArgument: 'an asset cannot be shared with the anonymous principal or the management canister' } };
    if (same(reader, env.caller)) return { Err: { InvalidArgument: 'the owner always has access to its assets' } };
    if (wrappedKey.length === 0 || wrappedKey.length > MAX_WRAPPED_KEY_BYTES) return { Err: { InvalidArgument: `a wrapped key has 1 to ${MAX_WRAPPED_KEY_BYTES} bytes` } };
    const k = keys(state);
    const { record } = owned.Ok;
    const existing = k.grants.get([id, reader]);
    if (existing !== undefined) {
        k.grants.insert([id, reader], { ...existing, wrapped_key: wrappedKey });
        return { Ok: null };
    }
    if (record.readers.length >= MAX_READERS) return { Err: { LimitExceeded: { what: 'readers per asset', limit: BigInt(MAX_READERS), requested: BigInt(record.readers.length + 1) } } };
    const user = userRecord(k, reader);
    let page = user.shared_pages - 1;
    let ids = page >= 0 ? (k.sharedPages.get([reader, page]) ?? []) : [];
    if (page < 0 || ids.length >= SHARED_PAGE_SIZE) {
        page = user.shared_pages;
        user.shared_pages += 1;
        ids = [];
        k.keyUsers.insert(reader, { user });
    }
    ids.push(id);
    k.sharedPages.insert([reader, page], ids);
    k.grants.insert([id, reader], { wrapped_key: wrappedKey, page: [page] });
    record.readers.push(reader);
    k.encryption.insert(id, record);
    return { Ok: null };
}

/**
 * Stops releasing asset `id`'s key to `reader` (owner only; unsharing someone it is not shared with is
 * not an error). What the reader already decrypted, or a wrapped key it kept, cannot be taken back.
 */
export function unshare(state: IndexState, env: Env, id: bigint, reader: Principal): Result<null> {
    if (env.caller.isAnonymous()) return anonymousRefusal;
    const owned = ownedEncrypted(state, env, id, 'unshare');
    if ('Err' in owned) return owned;
    if (same(reader, env.caller)) return { Err: { InvalidArgument: 'the owner cannot lose access to its own asset' } };
    const k = keys(state);
    const { record } = owned.Ok;
    if (!record.readers.some((r) => same(r, reader))) return { Ok: null };
    dropGrant(k, id, reader);
    record.readers = record.readers.filter((r) => !same(r, reader));
    k.encryption.insert(id, record);
    return { Ok: null };
}

/** An encrypted asset, its format and the caller's wrapped key: for its owner (with the readers) and its readers only. */
export function assetAccess(state: IndexState, env: Env, id: bigint): Result<AssetAccess> {
    if (env.caller.isAnonymous()) return anonymousRefusal;
    const stored = state.assets.get(id);
    const k = keys(state);
    const grant = k.grants.get([id, env.caller]);
    // Without a grant, an existing private asset and a missing one look the same.
    if (stored === undefined || grant === undefined) {
        if (stored !== undefined && same(stored.asset.owner, env.caller)) return { Err: { InvalidArgument: `asset ${id} is not encrypted` } };
        if (stored === undefined || !('public' in stored.asset.visibility)) return { Err: { Unauthorized: `asset ${id} is not shared with you: ask its owner to share it with ${env.caller.toText()}` } };
        return { Err: { Unauthorized: `asset ${id} is ${k.encryption.containsKey(id) ? 'encrypted and not shared with you' : 'not encrypted'}: ask its owner to share it with ${env.caller.toText()}` } };
    }
    const record = k.encryption.get(id);
    if (record === undefined) throw new Error(`invariant broken: asset ${id} has a grant but no encryption record`);
    const owner = same(stored.asset.owner, env.caller);
    return { Ok: { asset: stored.asset, encryption: record.info, wrapped_key: grant.wrapped_key, readers: owner ? record.readers : [] } };
}

/** Encrypted assets shared with the caller, a page at a time (scan-bounded like `list_assets`: continue from `next_cursor`). */
export function listSharedWithMe(state: IndexState, env: Env, args: ListSharedArgs): Result<AssetPage> {
    if (env.caller.isAnonymous()) return anonymousRefusal;
    const limit = args.limit[0] ?? 100;
    if (limit < 1 || limit > MAX_LIST_LIMIT) return { Err: { InvalidArgument: `limit must be between 1 and ${MAX_LIST_LIMIT}` } };
    const k = keys(state);
    const cursor = args.cursor[0];
    let page = cursor === undefined ? 0 : Number(cursor >> CURSOR_ID_BITS);
    let at = cursor === undefined ? 0 : Number(cursor & ((1n << CURSOR_ID_BITS) - 1n));
    const pages = userRecord(k, env.caller).shared_pages;
    const assets: Asset[] = [];
    let examined = 0;
    const scanLimit = 2 * MAX_LIST_LIMIT;
    const next = (): [bigint] => [(BigInt(page) << CURSOR_ID_BITS) | BigInt(at)];
    for (; page < pages; page++, at = 0) {
        if (++examined > scanLimit) return { Ok: { assets, next_cursor: next() } };
        const ids = k.sharedPages.get([env.caller, page]) ?? [];
        for (; at < ids.length; at++) {
            if (assets.length >= limit || ++examined > scanLimit) return { Ok: { assets, next_cursor: next() } };
            const id = ids[at];
            if (id === 0n || !k.grants.containsKey([id, env.caller])) continue;
            const stored = state.assets.get(id);
            if (stored !== undefined) assets.push(stored.asset);
        }
    }
    return { Ok: { assets, next_cursor: [] } };
}

// ------------------------------------------------------------------ vetKD

/** Which vetKD key the index uses, and the fee of a derivation with it. */
export function vetKdKey(state: IndexState): { name: string; fee: bigint } {
    const { name } = keyEntry(keys(state));
    return { name, fee: vetkdDeriveKeyFee(name) ?? VETKD_DERIVE_KEY_FEES.key_1 };
}

/** Switches the vetKD key (controllers): the cached public key is dropped, and data keys wrapped under the old one no longer open. */
export function setVetKdKey(state: IndexState, name: string): Result<null> {
    if (vetkdDeriveKeyFee(name) === undefined) {
        return { Err: { InvalidArgument: `unknown vetKD key ${JSON.stringify(name)}: use one of ${Object.keys(VETKD_DERIVE_KEY_FEES).join(', ')}` } };
    }
    keys(state).keyUsers.insert(KEY_ENTRY, { key: { name, public_key: [] } });
    return { Ok: null };
}

/** The derived public key of ENCRYPTION_CONTEXT (fetched from the management canister once, then cached). */
export async function encryptionPublicKey(state: IndexState, env: Env, vetkd: VetKdApi): Promise<Result<Uint8Array>> {
    if (env.caller.isAnonymous()) return anonymousRefusal;
    const k = keys(state);
    const entry = keyEntry(k);
    if (entry.public_key[0] !== undefined) return { Ok: entry.public_key[0] };
    let publicKey: Uint8Array;
    try {
        publicKey = await vetkd.publicKey(entry.name, ENCRYPTION_CONTEXT);
    } catch (error) {
        return { Err: { Busy: `vetkd_public_key failed: ${error instanceof Error ? error.message : String(error)}; retry later` } };
    }
    // Another call may have cached it, or a controller switched keys meanwhile: keep what matches the key now in use.
    const now = keyEntry(k);
    if (now.name !== entry.name) return { Err: { Busy: 'the vetKD key changed while its public key was fetched; retry' } };
    k.keyUsers.insert(KEY_ENTRY, { key: { name: now.name, public_key: [publicKey] } });
    return { Ok: publicKey };
}

/**
 * The caller's vetKey (input: the caller's principal bytes, context ENCRYPTION_CONTEXT), encrypted to
 * `transportPublicKey`. The index pays the vetKD fee, so: at most DERIVES_PER_WINDOW per principal per
 * DERIVE_WINDOW_NS (`RateLimited`), never below the index's cycles reserve (`InsufficientCycles`); a
 * refused call spends nothing, and a failed derivation gives its slot back.
 */
export async function deriveUserKey(state: IndexState, env: Env, vetkd: VetKdApi, transportPublicKey: Uint8Array): Promise<Result<Uint8Array>> {
    if (env.caller.isAnonymous()) return anonymousRefusal;
    if (transportPublicKey.length !== TRANSPORT_PUBLIC_KEY_BYTES) return { Err: { InvalidArgument: `a transport public key has ${TRANSPORT_PUBLIC_KEY_BYTES} bytes` } };
    const k = keys(state);
    const { name, fee } = vetKdKey(state);
    const user = userRecord(k, env.caller);
    if (env.now - user.window_start >= DERIVE_WINDOW_NS) {
        user.window_start = env.now;
        user.derived = 0;
    }
    if (user.derived >= DERIVES_PER_WINDOW) return { Err: { RateLimited: { what: 'vetKey derivations', retry_at: user.window_start + DERIVE_WINDOW_NS } } };
    const all = userRecord(k, ALL_USERS);
    if (env.now - all.window_start >= DERIVE_WINDOW_NS) {
        all.window_start = env.now;
        all.derived = 0;
    }
    if (all.derived >= INDEX_DERIVES_PER_WINDOW) return { Err: { RateLimited: { what: 'vetKey derivations (all users)', retry_at: all.window_start + DERIVE_WINDOW_NS } } };
    const reserve = getConfig(state).index_cycles_reserve;
    const balance = env.cycles();
    if (balance < reserve + fee) {
        return { Err: { InsufficientCycles: { canister: env.self, available: balance > reserve ? balance - reserve : 0n, needed: fee } } };
    }
    // Counted before the call, so concurrent calls cannot overrun the limit while it is in flight.
    user.derived += 1;
    k.keyUsers.insert(env.caller, { user });
    all.derived += 1;
    k.keyUsers.insert(ALL_USERS, { user: all });
    try {
        const encrypted = await vetkd.deriveKey(name, env.caller.toUint8Array(), ENCRYPTION_CONTEXT, transportPublicKey, fee);
        return { Ok: encrypted };
    } catch (error) {
        for (const [who, counted] of [[env.caller, user], [ALL_USERS, all]] as const) {
            const after = userRecord(k, who);
            if (after.window_start === counted.window_start && after.derived > 0) {
                after.derived -= 1;
                k.keyUsers.insert(who, { user: after });
            }
        }
        return { Err: { Busy: `vetkd_derive_key failed: ${error instanceof Error ? error.message : String(error)}; retry later` } };
    }
}

// ------------------------------------------------------------------ ingress inspection

/** The largest argument each key method takes. */
const KEY_METHOD_ARG_BYTES: Record<string, number> = {
    set_upload_encryption: 2048,
    derive_user_key: 256,
    encryption_public_key: 64,
    share: 1024,
    unshare: 256
};

/** For canister_inspect_message: why an ingress call to a key method should be dropped, null to accept, undefined if not a key method. */
export function inspectKeyCall(caller: Principal, method: string, argBytes: number): string | null | undefined {
    const max = KEY_METHOD_ARG_BYTES[method];
    if (max === undefined) return undefined;
    if (caller.isAnonymous()) return 'anonymous callers cannot use encrypted files';
    return argBytes > max ? `${method} takes at most ${max} bytes of arguments` : null;
}
