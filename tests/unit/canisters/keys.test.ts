/**
 * The index's key authority for encrypted assets, without a replica: who may mark an upload encrypted,
 * who obtains a wrapped key, sharing and unsharing, the shared-with listing, and what vetKey derivations
 * may cost the index (rate limit, cycles reserve, refunds of failed calls).
 */
import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import { deleteAsset, getAsset } from '../../../canisters/index/assets';
import { registerBucket } from '../../../canisters/index/buckets';
import { inspectIndexMessage } from '../../../canisters/index/inspect';
import {
    assetAccess,
    DERIVE_WINDOW_NS,
    deriveUserKey,
    DERIVES_PER_WINDOW,
    INDEX_DERIVES_PER_WINDOW,
    ENCRYPTION_CONTEXT,
    encryptionPublicKey,
    listSharedWithMe,
    MAX_READERS,
    setUploadEncryption,
    setVetKdKey,
    share,
    unshare
} from '../../../canisters/index/keys';
import type { VetKdApi } from '../../../canisters/index/state';
import { abortUpload, beginUpload, finishUpload } from '../../../canisters/index/uploads';
import { assetUrl } from '../../../canisters/index/urls';
import { VETKD_DERIVE_KEY_FEES } from '../../../shared/management';
import { ciphertextSize, ENCRYPTED_CONTENT_TYPE, type Asset, type AssetPage, type UploadEncryptionArgs } from '../../../shared/types';
import { ADMIN, ALICE, BOB, bytes, split, unwrap, user, World } from './harness';

const CHUNK = 256;
const CAROL = user(4);
const ANONYMOUS = Principal.anonymous();
const WRAPPED = (seed: number) => new Uint8Array(152).fill(seed);

function world(): World {
    const w = new World();
    unwrap(registerBucket(w.state, w.env(ADMIN), w.addBucket(), 10_000_000n, false));
    return w;
}

function encryption(plaintextSize: number): UploadEncryptionArgs {
    return { info: { version: 1, plaintext_size: BigInt(plaintextSize), content_type: 'image/png', nonce_prefix: new Uint8Array(8).fill(7) }, owner_key: WRAPPED(1) };
}

/** Uploads `plaintextSize` bytes' worth of (fake) ciphertext as ALICE's encrypted asset. */
async function encryptedAsset(w: World, plaintextSize = 1000): Promise<Asset> {
    const data = bytes(Number(ciphertextSize(BigInt(plaintextSize), CHUNK)));
    const { digest, chunks } = split(data, CHUNK);
    const ticket = unwrap(
        await beginUpload(w.state, w.env(ALICE), w.ports, {
            name: 'cat.png',
            content_type: ENCRYPTED_CONTENT_TYPE,
            size: BigInt(data.length),
            sha256: digest,
            chunk_size: CHUNK,
            visibility: { private: null },
            checkpoints: []
        })
    );
    unwrap(setUploadEncryption(w.state, w.env(ALICE), ticket.session_id, encryption(plaintextSize)));
    chunks.forEach((chunk, i) => unwrap(w.put(ALICE, ticket.bucket, ticket.session_id, i, chunk)));
    return unwrap(await finishUpload(w.state, w.env(ALICE), w.ports, ticket.session_id));
}

class FakeVetKd implements VetKdApi {
    readonly calls: { method: string; key: string; input?: Uint8Array; fee?: bigint }[] = [];
    fail = false;
    async publicKey(key: string, context: Uint8Array): Promise<Uint8Array> {
        expect(context).toEqual(ENCRYPTION_CONTEXT);
        this.calls.push({ method: 'publicKey', key });
        return new Uint8Array(96).fill(9);
    }
    async deriveKey(key: string, input: Uint8Array, _context: Uint8Array, _tpk: Uint8Array, fee: bigint): Promise<Uint8Array> {
        this.calls.push({ method: 'deriveKey', key, input, fee });
        if (this.fail) throw new Error('vetkd_derive_key rejected');
        return new Uint8Array(192).fill(3);
    }
}

describe('marking an upload encrypted', () => {
    it('stores the format and the owner key; the owner reads them back with asset_access', async () => {
        const w = world();
        const asset = await encryptedAsset(w, 1000);
        const access = unwrap(assetAccess(w.state, w.env(ALICE), asset.id));
        expect(access.encryption).toMatchObject({ version: 1, plaintext_size: 1000n, content_type: 'image/png' });
        expect(access.wrapped_key).toEqual(WRAPPED(1));
        expect(access.readers).toEqual([]);
        expect(access.asset.content_type).toBe(ENCRYPTED_CONTENT_TYPE);
    });

    it('refuses other callers, sizes that do not add up, other content types and bad formats', async () => {
        const w = world();
        const size = ciphertextSize(100n, CHUNK);
        const { digest } = split(bytes(Number(size)), CHUNK);
        const begin = (content_type: string) =>
            beginUpload(w.state, w.env(ALICE), w.ports, { name: 'x', content_type, size, sha256: digest, chunk_size: CHUNK, visibility: { private: null }, checkpoints: [] });
        const id = unwrap(await begin(ENCRYPTED_CONTENT_TYPE)).session_id;
        expect(setUploadEncryption(w.state, w.env(BOB), id, encryption(100))).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
        expect(setUploadEncryption(w.state, w.env(ANONYMOUS), id, encryption(100))).toMatchObject({ Err: { Unauthorized: expect.stringContaining('anonymous') } });
        expect(setUploadEncryption(w.state, w.env(ALICE), id, encryption(101))).toMatchObject({ Err: { InvalidArgument: expect.stringContaining('ciphertext') } });
        expect(setUploadEncryption(w.state, w.env(ALICE), id, { ...encryption(100), info: { ...encryption(100).info, version: 2 } })).toMatchObject({ Err: { InvalidArgument: expect.stringContaining('version') } });
        expect(setUploadEncryption(w.state, w.env(ALICE), id, { ...encryption(100), info: { ...encryption(100).info, nonce_prefix: new Uint8Array(12) } })).toMatchObject({ Err: { InvalidArgument: expect.stringContaining('nonce_prefix') } });
        expect(setUploadEncryption(w.state, w.env(ALICE), id, { ...encryption(100), owner_key: new Uint8Array(513) })).toMatchObject({ Err: { InvalidArgument: expect.stringContaining('wrapped key') } });
        expect(setUploadEncryption(w.state, w.env(ALICE), 999n, encryption(100))).toEqual({ Err: { SessionNotFound: 999n } });
        const plain = unwrap(await begin('image/png')).session_id;
        expect(setUploadEncryption(w.state, w.env(ALICE), plain, encryption(100))).toMatchObject({ Err: { InvalidArgument: expect.stringContaining(ENCRYPTED_CONTENT_TYPE) } });
        // An aborted session leaves nothing behind.
        unwrap(setUploadEncryption(w.state, w.env(ALICE), id, encryption(100)));
        unwrap(await abortUpload(w.state, w.env(ALICE), w.ports, id));
        expect(w.state.keys!.encryption.len()).toBe(0);
        expect(w.state.keys!.grants.len()).toBe(0);
    });

    it('ciphertext sizes: a 16-byte tag per chunk, one chunk for an empty file', () => {
        expect(ciphertextSize(0n, CHUNK)).toBe(16n);
        expect(ciphertextSize(240n, CHUNK)).toBe(256n);
        expect(ciphertextSize(241n, CHUNK)).toBe(241n + 32n);
    });
});

describe('sharing', () => {
    it('a reader obtains its wrapped key while shared, and nothing after unshare', async () => {
        const w = world();
        const asset = await encryptedAsset(w);
        expect(assetAccess(w.state, w.env(BOB), asset.id)).toMatchObject({ Err: { Unauthorized: expect.stringContaining('not shared with you') } });
        expect(getAsset(w.state, w.env(BOB), asset.id)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });

        unwrap(share(w.state, w.env(ALICE), asset.id, BOB, WRAPPED(2)));
        const access = unwrap(assetAccess(w.state, w.env(BOB), asset.id));
        expect(access.wrapped_key).toEqual(WRAPPED(2));
        expect(access.readers).toEqual([]); // a reader does not learn who else reads
        expect(unwrap(assetAccess(w.state, w.env(ALICE), asset.id)).readers.map((p) => p.toText())).toEqual([BOB.toText()]);
        expect(unwrap(getAsset(w.state, w.env(BOB), asset.id)).id).toBe(asset.id);
        expect(unwrap(listSharedWithMe(w.state, w.env(BOB), { cursor: [], limit: [] })).assets.map((a) => a.id)).toEqual([asset.id]);
        // Readers fetch the ciphertext through a token URL, for an hour at most.
        const url = unwrap(await assetUrl(w.state, w.env(BOB), w.ports, asset.id, 600));
        expect(url.token.length).toBe(1);
        expect(await assetUrl(w.state, w.env(BOB), w.ports, asset.id, 7200)).toMatchObject({ Err: { InvalidArgument: expect.any(String) } });
        // CAROL is not a reader.
        expect(assetAccess(w.state, w.env(CAROL), asset.id)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
        expect(await assetUrl(w.state, w.env(CAROL), w.ports, asset.id, 600)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });

        unwrap(unshare(w.state, w.env(ALICE), asset.id, BOB));
        expect(assetAccess(w.state, w.env(BOB), asset.id)).toMatchObject({ Err: { Unauthorized: expect.stringContaining('not shared with you') } });
        expect(getAsset(w.state, w.env(BOB), asset.id)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
        expect(await assetUrl(w.state, w.env(BOB), w.ports, asset.id, 600)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
        expect(unwrap(listSharedWithMe(w.state, w.env(BOB), { cursor: [], limit: [] })).assets).toEqual([]);
        expect(unwrap(assetAccess(w.state, w.env(ALICE), asset.id)).readers).toEqual([]);
        // Unsharing again is not an error; sharing again works.
        unwrap(unshare(w.state, w.env(ALICE), asset.id, BOB));
        unwrap(share(w.state, w.env(ALICE), asset.id, BOB, WRAPPED(3)));
        expect(unwrap(assetAccess(w.state, w.env(BOB), asset.id)).wrapped_key).toEqual(WRAPPED(3));
    });

    it('only the owner shares and unshares, only encrypted assets, never with anonymous; readers are capped', async () => {
        const w = world();
        const asset = await encryptedAsset(w);
        expect(share(w.state, w.env(BOB), asset.id, CAROL, WRAPPED(2))).toMatchObject({ Err: { Unauthorized: expect.stringContaining('owner') } });
        expect(share(w.state, w.env(ANONYMOUS), asset.id, CAROL, WRAPPED(2))).toMatchObject({ Err: { Unauthorized: expect.stringContaining('anonymous') } });
        expect(share(w.state, w.env(ALICE), asset.id, ANONYMOUS, WRAPPED(2))).toMatchObject({ Err: { InvalidArgument: expect.stringContaining('anonymous') } });
        expect(share(w.state, w.env(ALICE), asset.id, ALICE, WRAPPED(2))).toMatchObject({ Err: { InvalidArgument: expect.any(String) } });
        expect(share(w.state, w.env(ALICE), asset.id, BOB, new Uint8Array())).toMatchObject({ Err: { InvalidArgument: expect.any(String) } });
        expect(share(w.state, w.env(ALICE), 999n, BOB, WRAPPED(2))).toEqual({ Err: { AssetNotFound: 999n } });
        unwrap(share(w.state, w.env(ALICE), asset.id, CAROL, WRAPPED(2)));
        expect(unshare(w.state, w.env(BOB), asset.id, CAROL)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
        expect(unwrap(assetAccess(w.state, w.env(CAROL), asset.id)).wrapped_key).toEqual(WRAPPED(2));

        // A plain (unencrypted) asset cannot be shared.
        const { digest, chunks } = split(bytes(10), CHUNK);
        const ticket = unwrap(await beginUpload(w.state, w.env(ALICE), w.ports, { name: 'p', content_type: 'text/plain', size: 10n, sha256: digest, chunk_size: CHUNK, visibility: { private: null }, checkpoints: [] }));
        unwrap(w.put(ALICE, ticket.bucket, ticket.session_id, 0, chunks[0]));
        const plain = unwrap(await finishUpload(w.state, w.env(ALICE), w.ports, ticket.session_id));
        expect(share(w.state, w.env(ALICE), plain.id, BOB, WRAPPED(2))).toMatchObject({ Err: { InvalidArgument: expect.stringContaining('not encrypted') } });
        expect(assetAccess(w.state, w.env(ALICE), plain.id)).toMatchObject({ Err: { InvalidArgument: expect.stringContaining('not encrypted') } });

        for (let i = 1; i < MAX_READERS; i++) unwrap(share(w.state, w.env(ALICE), asset.id, user(100 + i), WRAPPED(2)));
        expect(share(w.state, w.env(ALICE), asset.id, BOB, WRAPPED(2))).toMatchObject({ Err: { LimitExceeded: { what: 'readers per asset' } } });
        // Re-sharing with an existing reader replaces its key, within the cap.
        unwrap(share(w.state, w.env(ALICE), asset.id, CAROL, WRAPPED(5)));
    });

    it('deleting the asset drops every grant and its place in the readers\' lists', async () => {
        const w = world();
        const asset = await encryptedAsset(w);
        unwrap(share(w.state, w.env(ALICE), asset.id, BOB, WRAPPED(2)));
        unwrap(await deleteAsset(w.state, w.env(ALICE), w.ports, asset.id));
        expect(w.state.keys!.grants.len()).toBe(0);
        expect(w.state.keys!.encryption.len()).toBe(0);
        expect(unwrap(listSharedWithMe(w.state, w.env(BOB), { cursor: [], limit: [] })).assets).toEqual([]);
    });

    it('the shared-with list is paginated and examines a bounded number of entries per call', async () => {
        const w = world();
        const ids: bigint[] = [];
        for (let i = 0; i < 5; i++) {
            const asset = await encryptedAsset(w, 10);
            unwrap(share(w.state, w.env(ALICE), asset.id, BOB, WRAPPED(2)));
            ids.push(asset.id);
        }
        unwrap(unshare(w.state, w.env(ALICE), ids[1], BOB));
        const seen: bigint[] = [];
        let cursor: [] | [bigint] = [];
        do {
            const page: AssetPage = unwrap(listSharedWithMe(w.state, w.env(BOB), { cursor, limit: [2] }));
            expect(page.assets.length).toBeLessThanOrEqual(2);
            seen.push(...page.assets.map((a) => a.id));
            cursor = page.next_cursor;
        } while (cursor.length > 0);
        expect(seen).toEqual([ids[0], ids[2], ids[3], ids[4]]);
        expect(listSharedWithMe(w.state, w.env(BOB), { cursor: [], limit: [101] })).toMatchObject({ Err: { InvalidArgument: expect.any(String) } });
        expect(listSharedWithMe(w.state, w.env(ANONYMOUS), { cursor: [], limit: [] })).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
    });
});

describe('vetKey derivations', () => {
    const tpk = new Uint8Array(48).fill(1);

    it('derives with the caller\'s principal as input and the key\'s fee; anonymous and malformed calls get nothing', async () => {
        const w = world();
        const vetkd = new FakeVetKd();
        expect(unwrap(await deriveUserKey(w.state, w.env(ALICE), vetkd, tpk)).length).toBe(192);
        expect(vetkd.calls).toEqual([{ method: 'deriveKey', key: 'dfx_test_key', input: ALICE.toUint8Array(), fee: VETKD_DERIVE_KEY_FEES.dfx_test_key }]);
        expect(await deriveUserKey(w.state, w.env(ANONYMOUS), vetkd, tpk)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
        expect(await deriveUserKey(w.state, w.env(ALICE), vetkd, new Uint8Array(47))).toMatchObject({ Err: { InvalidArgument: expect.any(String) } });
        expect(vetkd.calls.length).toBe(1);
        unwrap(setVetKdKey(w.state, 'key_1'));
        unwrap(await deriveUserKey(w.state, w.env(ALICE), vetkd, tpk));
        expect(vetkd.calls[1]).toMatchObject({ key: 'key_1', fee: 26_153_846_153n });
        expect(setVetKdKey(w.state, 'nope')).toMatchObject({ Err: { InvalidArgument: expect.any(String) } });
        for (const inherited of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
            expect(setVetKdKey(w.state, inherited)).toMatchObject({ Err: { InvalidArgument: expect.any(String) } });
        }
    });

    it('rate limits each principal per window; a failed derivation gives its slot back', async () => {
        const w = world();
        const vetkd = new FakeVetKd();
        vetkd.fail = true;
        expect(await deriveUserKey(w.state, w.env(ALICE), vetkd, tpk)).toMatchObject({ Err: { Busy: expect.stringContaining('vetkd_derive_key') } });
        vetkd.fail = false;
        for (let i = 0; i < DERIVES_PER_WINDOW; i++) unwrap(await deriveUserKey(w.state, w.env(ALICE), vetkd, tpk));
        const refused = await deriveUserKey(w.state, w.env(ALICE), vetkd, tpk);
        expect(refused).toEqual({ Err: { RateLimited: { what: 'vetKey derivations', retry_at: w.now + DERIVE_WINDOW_NS } } });
        expect(vetkd.calls.length).toBe(DERIVES_PER_WINDOW + 1);
        // Others are not affected; the next window starts over.
        unwrap(await deriveUserKey(w.state, w.env(BOB), vetkd, tpk));
        w.now += DERIVE_WINDOW_NS;
        unwrap(await deriveUserKey(w.state, w.env(ALICE), vetkd, tpk));
    });

    it('bounds what all principals together spend on derivations per window: many identities cannot drain the index', async () => {
        const w = world();
        const vetkd = new FakeVetKd();
        // Each identity stays under its own limit; together they reach the index-wide one.
        let n = 0;
        for (let seed = 1000; n < INDEX_DERIVES_PER_WINDOW; seed++) {
            for (let i = 0; i < DERIVES_PER_WINDOW && n < INDEX_DERIVES_PER_WINDOW; i++, n++) unwrap(await deriveUserKey(w.state, w.env(user(seed)), vetkd, tpk));
        }
        const refused = await deriveUserKey(w.state, w.env(user(999_999)), vetkd, tpk);
        expect(refused).toEqual({ Err: { RateLimited: { what: 'vetKey derivations (all users)', retry_at: w.now + DERIVE_WINDOW_NS } } });
        // Refused before any call: the index paid for exactly the admitted derivations.
        expect(vetkd.calls.length).toBe(INDEX_DERIVES_PER_WINDOW);
        w.now += DERIVE_WINDOW_NS;
        unwrap(await deriveUserKey(w.state, w.env(user(999_999)), vetkd, tpk));
    });

    it('never spends below the index reserve: refused calls call nothing', async () => {
        const w = new World({ index_cycles_reserve: 5_000_000_000_000n });
        unwrap(registerBucket(w.state, w.env(ADMIN), w.addBucket(), 10_000_000n, false));
        const vetkd = new FakeVetKd();
        w.cycles = 5_000_000_000_000n + VETKD_DERIVE_KEY_FEES.dfx_test_key - 1n;
        expect(await deriveUserKey(w.state, w.env(ALICE), vetkd, tpk)).toMatchObject({ Err: { InsufficientCycles: { needed: VETKD_DERIVE_KEY_FEES.dfx_test_key, available: VETKD_DERIVE_KEY_FEES.dfx_test_key - 1n } } });
        expect(vetkd.calls).toEqual([]);
        w.cycles += 1n;
        unwrap(await deriveUserKey(w.state, w.env(ALICE), vetkd, tpk));
    });

    it('fetches the public key once and caches it; switching keys drops the cache', async () => {
        const w = world();
        const vetkd = new FakeVetKd();
        const first = unwrap(await encryptionPublicKey(w.state, w.env(ALICE), vetkd));
        expect(unwrap(await encryptionPublicKey(w.state, w.env(BOB), vetkd))).toEqual(first);
        expect(vetkd.calls.filter((c) => c.method === 'publicKey').length).toBe(1);
        unwrap(setVetKdKey(w.state, 'test_key_1'));
        unwrap(await encryptionPublicKey(w.state, w.env(BOB), vetkd));
        expect(vetkd.calls.map((c) => c.key)).toEqual(['dfx_test_key', 'test_key_1']);
        expect(await encryptionPublicKey(w.state, w.env(ANONYMOUS), vetkd)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
    });

    it('canister_inspect_message drops anonymous and oversized key calls', () => {
        const w = world();
        const call = (caller: Principal, method: string, argBytes: number) =>
            inspectIndexMessage(w.state, { caller, method, argBytes, isController: () => false, decode: () => [] });
        expect(call(ANONYMOUS, 'derive_user_key', 60)).toMatch(/anonymous/);
        expect(call(ALICE, 'derive_user_key', 60)).toBeNull();
        expect(call(ALICE, 'share', 100_000)).toMatch(/at most/);
        expect(call(ALICE, 'set_upload_encryption', 500)).toBeNull();
    });
});
