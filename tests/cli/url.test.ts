/** `silo url`: prints an asset's URL on its bucket (local gateway names on the embedded network). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { bytes } from '../helpers/silo';
import { silo } from './run';

describe('silo url', () => {
    it('prints public URLs, private ones with a token, ?download, and refuses a bad --ttl', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'silo-url-'));
        const state = join(dir, 'state');
        writeFileSync(join(dir, 'cat picture.png'), bytes(2000, 1));
        const pub = await silo(['upload', join(dir, 'cat picture.png'), '--public', '--state', state, '--json']);
        expect(pub.code, pub.stderr).toBe(0);
        const priv = await silo(['upload', join(dir, 'cat picture.png'), '--state', state, '--json']);
        const [a, b] = [JSON.parse(pub.stdout).id, JSON.parse(priv.stdout).id];
        const url = await silo(['url', a, '--state', state]);
        expect(url.stdout.trim()).toMatch(new RegExp(`^http://[a-z0-9-]+\\.localhost:4943/a/${a}/cat%20picture\\.png$`));
        const token = await silo(['url', b, '--ttl', '60', '--download', '--state', state, '--json']);
        expect(JSON.parse(token.stdout).url).toMatch(new RegExp(`/a/${b}/cat%20picture\\.png\\?token=\\d+\\.[0-9a-f]{64}&download$`));
        const bad = await silo(['url', b, '--ttl', '0', '--state', state]);
        expect(bad.code).toBe(2);
        expect(bad.stderr).toMatch(/^silo: --ttl must be a whole number from 1 to 2592000/);
    }, 240_000);
});
