/** The static directory the server answers at `/` when a request names no canister. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { close, createSiloServer, listen } from '../../replica/http/server';

const noCanisters = {
    queryCall: () => Promise.reject(new Error('no canisters here')),
    updateCall: () => Promise.reject(new Error('no canisters here'))
};

describe('static directory', () => {
    const root = mkdtempSync(join(tmpdir(), 'silo-static-'));
    const dir = join(root, 'site');
    let server: Server;
    let bare: Server;
    let url: string;
    let bareUrl: string;

    beforeAll(async () => {
        mkdirSync(join(dir, 'docs'), { recursive: true });
        writeFileSync(join(dir, 'index.html'), '<h1>app</h1>');
        writeFileSync(join(dir, 'app.css'), 'body {}');
        writeFileSync(join(dir, 'docs', 'index.html'), 'docs');
        writeFileSync(join(root, 'secret.txt'), 'outside');
        server = createSiloServer({ caller: noCanisters, rootKey: () => null, static: { dir } });
        url = await listen(server, '127.0.0.1', 0);
        bare = createSiloServer({ caller: noCanisters, rootKey: () => null, static: { fallbackPage: () => '<p>welcome</p>', documents: { '/silo.json': () => ({ body: JSON.stringify({ index: 'ryjl3-tyaaa-aaaaa-aaaba-cai' }), type: 'application/json' }) } } });
        bareUrl = await listen(bare, '127.0.0.1', 0);
    });
    afterAll(async () => {
        await close(server);
        await close(bare);
    });

    it('serves files with their content type, and index.html for directories', async () => {
        const home = await fetch(`${url}/`);
        expect(home.headers.get('content-type')).toMatch(/text\/html/);
        expect(await home.text()).toBe('<h1>app</h1>');
        const css = await fetch(`${url}/app.css`);
        expect(css.headers.get('content-type')).toMatch(/text\/css/);
        expect(await (await fetch(`${url}/docs/`)).text()).toBe('docs');
        const head = await fetch(`${url}/app.css`, { method: 'HEAD' });
        expect(head.headers.get('content-length')).toBe('7');
    });

    it('sends the app’s strict headers with every answer of its origin, files and errors alike', async () => {
        for (const [path, status] of [['/', 200], ['/app.css', 200], ['/missing.js', 404]] as const) {
            const answer = await fetch(`${url}${path}`);
            expect(answer.status).toBe(status);
            const csp = answer.headers.get('content-security-policy') ?? '';
            expect(csp).toMatch(/script-src 'self' 'wasm-unsafe-eval';/);
            expect(csp).toMatch(/frame-ancestors 'none'/);
            expect(csp).not.toMatch(/unsafe-inline|'unsafe-eval'/);
            expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
            expect(answer.headers.get('x-frame-options')).toBe('DENY');
        }
        // The API's answers are never a page either.
        const api = await fetch(`${url}/api/v2/status`);
        expect(api.headers.get('x-content-type-options')).toBe('nosniff');
    });

    it('answers 404 outside the directory or for what is not there, 405 for other methods', async () => {
        expect((await fetch(`${url}/missing.js`)).status).toBe(404);
        expect((await fetch(`${url}/..%2fsecret.txt`)).status).toBe(404);
        expect((await fetch(`${url}/%2e%2e/secret.txt`)).status).toBe(404);
        expect((await fetch(`${url}/app.css`, { method: 'POST' })).status).toBe(405);
        expect((await fetch(`${url}/api/v2/status`)).status).toBe(501);
    });

    it('answers / with the built-in page when there is no directory', async () => {
        expect(await (await fetch(`${bareUrl}/`)).text()).toBe('<p>welcome</p>');
        // The server's own facts for the web app, which it trusts over its URL.
        const config = await fetch(`${bareUrl}/silo.json`);
        expect(config.headers.get('content-type')).toBe('application/json');
        expect(await config.json()).toEqual({ index: 'ryjl3-tyaaa-aaaaa-aaaba-cai' });
        expect((await fetch(`${url}/silo.json`)).status).toBe(404);
        expect((await fetch(`${bareUrl}/x`)).status).toBe(404);
    });
});
