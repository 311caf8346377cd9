/**
 * End-to-end encrypted files through a running `silo start`, with HttpAgent as real users would: the
 * bucket stores only ciphertext, the owner and the principals the asset is shared with download the
 * plaintext (their vetKeys derived by the replica's vetKD and verified by @dfinity/vetkeys), nobody else
 * can, and unsharing stops the key being released.
 */
import { join } from 'node:path';

import type { Identity } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AssetNotFoundError, NotSharedError, UnauthorizedError } from '../../client/errors';
import { SiloClient } from '../../client/silo';
import { AgentTransport } from '../../client/transport';
import { bucketIdlFactory, indexIdlFactory } from '../../shared/idl';
import { ENCRYPTED_CONTENT_TYPE, type HttpResponse } from '../../shared/types';
import { unwrap } from '../helpers/result';
import { spawnConfiguredSilo, type SpawnedServer } from '../helpers/server';
import { identity } from '../helpers/silo';

const CHUNK = 1024;
/** A recognisable plaintext: if any 32-byte run of it reached the bucket, the test would see it. */
const PLAIN = new TextEncoder().encode('Silo end-to-end encryption test. '.repeat(100));

describe('encrypted files over the HTTP interface', () => {
    let server: SpawnedServer;
    let indexId: Principal;
    const client = async (who: Identity) => new SiloClient({ transport: await AgentTransport.create({ host: server.url, identity: who, fetchRootKey: true }), indexId });
    let alice: SiloClient;
    let bob: SiloClient;
    let carol: SiloClient;

    beforeAll(async () => {
        ({ server, indexId } = await spawnConfiguredSilo('silo-e2e-'));
        alice = await client(identity('alice'));
        bob = await client(identity('bob'));
        carol = await client(identity('carol'));
    }, 120_000);
    afterAll(async () => {
        expect(await server?.stop(), server?.stderr()).toBe(0);
    });

    it('stores ciphertext only, and shares, reads and unshares by principal', async () => {
        const asset = await alice.upload(PLAIN, { encrypt: true, chunkSize: CHUNK, name: 'note.txt', contentType: 'text/plain' });
        expect(asset.content_type).toBe(ENCRYPTED_CONTENT_TYPE);
        expect(asset.chunk_count).toBe(Math.ceil(PLAIN.length / (CHUNK - 16)));

        // What the bucket holds: no 32-byte run of the plaintext, in any chunk.
        const bucket = alice['transport'].actor<any>(bucketIdlFactory, asset.bucket);
        const stored: string[] = [];
        for (let i = 0; i < asset.chunk_count; i++) stored.push(Buffer.from(unwrap<Uint8Array>(await bucket.get_chunk(asset.id, i))).toString('latin1'));
        const haystack = stored.join('');
        for (let at = 0; at + 32 <= PLAIN.length; at += 97) expect(haystack.includes(Buffer.from(PLAIN.subarray(at, at + 32)).toString('latin1'))).toBe(false);

        // The owner reads the plaintext (the data key is known from the upload: no derivation yet).
        expect(await alice.download(asset.id)).toEqual(PLAIN);
        expect((await alice.encryption(asset.id)).info.content_type).toBe('text/plain');

        // Bob may not, yet; nor may he obtain a URL for its ciphertext.
        await expect(bob.download(asset.id)).rejects.toBeInstanceOf(NotSharedError);
        await expect(bob.download(asset.id)).rejects.toThrow(/silo share/);
        await expect(bob.assetUrl(asset.id)).rejects.toBeInstanceOf(UnauthorizedError);
        // Nor its ciphertext from the bucket, nor its wrapped key from the index.
        const asBob = bob['transport'].actor<any>(bucketIdlFactory, asset.bucket);
        expect(await asBob.get_chunk(asset.id, 0)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
        expect(await bob['transport'].actor<any>(indexIdlFactory, indexId).asset_access(asset.id)).toMatchObject({ Err: { Unauthorized: expect.any(String) } });
        // Anonymous callers get nothing: their key calls are dropped before they cost the index anything.
        const anonymous = (await AgentTransport.create({ host: server.url, fetchRootKey: true })).actor<any>(indexIdlFactory, indexId);
        await expect(anonymous.derive_user_key(new Uint8Array(48))).rejects.toThrow(/rejected/);
        await expect(anonymous.encryption_public_key()).rejects.toThrow(/rejected/);
        expect(await anonymous.asset_access(asset.id)).toMatchObject({ Err: { Unauthorized: expect.stringContaining('anonymous') } });

        await alice.share(asset.id, bob.principal);
        expect((await alice.encryption(asset.id)).readers.map((p) => p.toText())).toEqual([bob.principal.toText()]);
        const shared: bigint[] = [];
        for await (const a of bob.listSharedWithMe()) shared.push(a.id);
        expect(shared).toEqual([asset.id]);
        expect(await bob.download(asset.id)).toEqual(PLAIN);
        expect(await bob.download(asset.id)).toEqual(PLAIN);
        expect(bob.keys.derivations).toBe(1); // one vetKey per session, not per download

        // Carol is not a reader; sharing with Bob gave her nothing.
        await expect(carol.download(asset.id)).rejects.toBeInstanceOf(NotSharedError);

        await alice.unshare(asset.id, bob.principal);
        await expect(bob.download(asset.id)).rejects.toBeInstanceOf(NotSharedError);
        await expect((await client(identity('bob'))).download(asset.id)).rejects.toBeInstanceOf(NotSharedError);
        for await (const a of bob.listSharedWithMe()) expect(a.id).not.toBe(asset.id);
        expect((await alice.encryption(asset.id)).readers).toEqual([]);
    }, 120_000);

    it('a fresh owner session derives its vetKey once to share; the gateway serves ciphertext, never the plaintext type', async () => {
        const asset = await alice.upload(PLAIN.subarray(0, 100), { encrypt: true, chunkSize: CHUNK, name: 'cat.png', contentType: 'image/png' });
        const later = await client(identity('alice'));
        await later.share(asset.id, carol.principal);
        expect(later.keys.derivations).toBe(1);
        expect(await carol.download(asset.id)).toEqual(PLAIN.subarray(0, 100));
        const url = new URL(await alice.assetUrl(asset.id, { network: 'local' }));
        const bucket = alice['transport'].actor<any>(bucketIdlFactory, asset.bucket);
        const response: HttpResponse = await bucket.http_request({ method: 'GET', url: url.pathname + url.search, headers: [], body: new Uint8Array(), certificate_version: [] });
        expect(response.status_code).toBe(200);
        expect(response.headers.find(([n]) => n.toLowerCase() === 'content-type')?.[1]).toBe(ENCRYPTED_CONTENT_TYPE);
        expect(new Uint8Array(response.body)).not.toEqual(PLAIN.subarray(0, 100));

        // Re-encryption: a new asset under a new key, still shared with Carol; the old one is gone.
        const fresh = await alice.reencrypt(asset.id);
        expect(fresh.id).not.toBe(asset.id);
        expect(await carol.download(fresh.id)).toEqual(PLAIN.subarray(0, 100));
        expect((await alice.encryption(fresh.id)).readers.map((p) => p.toText())).toEqual([carol.principal.toText()]);
        await expect(alice.getAsset(asset.id)).rejects.toBeInstanceOf(AssetNotFoundError);
    }, 120_000);
});
