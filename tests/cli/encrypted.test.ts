/**
 * Encrypted files with the real `silo` binary, as three users (PEM identities) of one `silo start`:
 * upload --encrypt, share, download as the reader, refusal for others, unshare.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { identityFromPem, newEd25519Pem } from '../../client/identity';
import { ENCRYPTED_CONTENT_TYPE } from '../../shared/types';
import { spawnSiloStart, type SpawnedServer } from '../helpers/server';
import { bytes } from '../helpers/silo';
import { silo } from './run';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

describe('silo CLI: encrypted files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'silo-cli-e2e-'));
    const state = join(dir, 'state');
    let server: SpawnedServer;
    const users: Record<string, { pem: string; principal: string }> = {};

    beforeAll(async () => {
        server = await spawnSiloStart(state);
        for (const name of ['alice', 'bob', 'carol']) {
            const pem = newEd25519Pem();
            const path = join(dir, `${name}.pem`);
            writeFileSync(path, pem);
            users[name] = { pem: path, principal: (await identityFromPem(pem)).getPrincipal().toText() };
        }
    });
    afterAll(async () => {
        if (server !== undefined) expect(await server.stop(), server.stderr()).toBe(0);
    });

    const as = (user: string, args: string[]) => silo([...args, '--state', state, '--identity', users[user].pem]);

    it('uploads encrypted, shares, downloads as the reader, refuses others, unshares', async () => {
        const data = bytes(150_000, 21);
        writeFileSync(join(dir, 'photo.jpg'), data);
        const up = await as('alice', ['upload', join(dir, 'photo.jpg'), '--encrypt', '--chunk-size', '65536', '--json']);
        expect(up.code, up.stderr).toBe(0);
        const asset = JSON.parse(up.stdout);
        expect(asset).toMatchObject({ name: 'photo.jpg', content_type: ENCRYPTED_CONTENT_TYPE, chunk_count: 3 });

        expect((await as('alice', ['ls'])).stdout).toMatch(/private {2}encrypted {2}photo\.jpg/);
        const refused = await as('bob', ['download', asset.id, '-o', join(dir, 'bob.jpg')]);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(new RegExp(`^silo: Asset ${asset.id} is encrypted and not shared with you \\(${users.bob.principal}\\): ask its owner to run \`silo share ${asset.id} ${users.bob.principal}\`\\.\n$`));

        const shared = await as('alice', ['share', asset.id, users.bob.principal]);
        expect(shared.code, shared.stderr).toBe(0);
        const info = JSON.parse((await as('alice', ['info', asset.id, '--json'])).stdout);
        expect(info.encryption).toEqual({ version: 1, plaintext_size: '150000', content_type: 'image/jpeg', readers: [users.bob.principal] });
        expect(JSON.parse((await as('bob', ['shared', '--json'])).stdout).map((a: { id: string }) => a.id)).toEqual([asset.id]);

        const down = await as('bob', ['download', asset.id, '-o', join(dir, 'bob.jpg')]);
        expect(down.code, down.stderr).toBe(0);
        expect(new Uint8Array(readFileSync(join(dir, 'bob.jpg')))).toEqual(data);
        const own = await as('alice', ['download', asset.id, '-o', join(dir, 'alice.jpg')]);
        expect(own.code, own.stderr).toBe(0);
        expect(new Uint8Array(readFileSync(join(dir, 'alice.jpg')))).toEqual(data);
        expect((await as('carol', ['download', asset.id, '-o', join(dir, 'carol.jpg')])).code).toBe(1);

        expect((await as('alice', ['unshare', asset.id, users.bob.principal])).code).toBe(0);
        const after = await as('bob', ['download', asset.id, '-o', join(dir, 'bob2.jpg')]);
        expect(after.code).toBe(1);
        expect(after.stderr).toMatch(/not shared with you/);

        // A URL of an encrypted asset says it serves ciphertext; re-encryption makes a new asset under a new key.
        const url = await as('alice', ['url', asset.id]);
        expect(url.code, url.stderr).toBe(0);
        expect(url.stderr).toMatch(/is encrypted: this URL serves its ciphertext/);
        const again = await as('alice', ['reencrypt', asset.id, '--json']);
        expect(again.code, again.stderr).toBe(0);
        const fresh = JSON.parse(again.stdout);
        expect(fresh.id).not.toBe(asset.id);
        const copy = await as('alice', ['download', fresh.id, '-o', join(dir, 'fresh.jpg')]);
        expect(copy.code, copy.stderr).toBe(0);
        expect(new Uint8Array(readFileSync(join(dir, 'fresh.jpg')))).toEqual(data);
        expect((await as('alice', ['info', asset.id])).code).toBe(1);
    });
});
