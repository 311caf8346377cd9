/** `silo url`: prints an asset's URL on its bucket, through the gateway that serves it (never one that does not). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { spawnSiloStart } from '../helpers/server';
import { bytes } from '../helpers/silo';
import { silo } from './run';

/** GETs `url` from 127.0.0.1 with its host name in the Host header (`*.localhost` need not resolve here). */
function getByHost(url: string): Promise<{ status: number; body: Buffer }> {
    const { hostname, port, pathname, search } = new URL(url);
    return new Promise((done, fail) => {
        const req = request({ host: '127.0.0.1', port, path: `${pathname}${search}`, headers: { host: `${hostname}:${port}` } }, (res) => {
            const parts: Buffer[] = [];
            res.on('data', (d: Buffer) => parts.push(d));
            res.on('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        });
        req.on('error', fail);
        req.end();
    });
}

describe('silo url', () => {
    it('refuses without a running server, then prints the server\'s own URLs: public, private with a token, ?download', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'silo-url-'));
        const state = join(dir, 'state');
        writeFileSync(join(dir, 'cat picture.png'), bytes(2000, 1));
        const pub = await silo(['upload', join(dir, 'cat picture.png'), '--public', '--state', state, '--json']);
        expect(pub.code, pub.stderr).toBe(0);
        const priv = await silo(['upload', join(dir, 'cat picture.png'), '--state', state, '--json']);
        const [a, b] = [JSON.parse(pub.stdout).id, JSON.parse(priv.stdout).id];

        // Nothing serves the embedded network: no <bucket>.localhost:4943 URL that nothing (or a stranger) answers.
        const unserved = await silo(['url', a, '--state', state]);
        expect(unserved.code).toBe(1);
        expect(unserved.stdout).toBe('');
        expect(unserved.stderr).toBe(`silo: nothing serves ${state} over HTTP, so no URL would load: run \`silo start --state ${state}\` (it keeps running), then this again\n`);

        const server = await spawnSiloStart(state);
        try {
            const port = new URL(server.url).port;
            const url = await silo(['url', a, '--state', state]);
            expect(url.code, url.stderr).toBe(0);
            expect(url.stdout.trim()).toMatch(new RegExp(`^http://[a-z0-9-]+\\.localhost:${port}/a/${a}/cat%20picture\\.png$`));
            // The URL loads, through that server's gateway.
            const loaded = await getByHost(url.stdout.trim());
            expect(loaded.status).toBe(200);
            expect(new Uint8Array(loaded.body)).toEqual(bytes(2000, 1));
            const token = await silo(['url', b, '--ttl', '60', '--download', '--state', state, '--json']);
            expect(JSON.parse(token.stdout).url).toMatch(new RegExp(`:${port}/a/${b}/cat%20picture\\.png\\?token=\\d+\\.[0-9a-f]{64}&download$`));
            const bad = await silo(['url', b, '--ttl', '0', '--state', state]);
            expect(bad.code).toBe(2);
            expect(bad.stderr).toMatch(/^silo: --ttl must be a whole number from 1 to 2592000/);
        } finally {
            expect(await server.stop(), server.stderr()).toBe(0);
        }
    }, 240_000);
});
