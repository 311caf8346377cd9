/**
 * The web app's origin against a canister anyone installs (issue 17, item 1), in headless Chromium on
 * a `silo start` child: the canister answers `upgrade = true` and then a page whose script hunts for
 * the app's key. It is served on its own origin (`<id>.localhost:N`), where it finds nothing, and never
 * on the app's (`?canisterId=` or any other path, on 127.0.0.1 and localhost); the key the app keeps
 * cannot be exported by script in the app's own origin either, and a raw Ed25519 seed kept by earlier
 * versions is migrated to a non-extractable key of the same principal. A link (which the canister's
 * page can open) cannot point the app at another index canister.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { _SERVICE as ManagementService } from '@dfinity/ic-management/dist/candid/ic-management';
import { idlFactory as managementIdlFactory } from '@dfinity/ic-management/dist/candid/ic-management.idl.js';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AgentTransport } from '../../client/transport';
import { launchChromium, openApp, type RunningSilo, startSilo } from '../web/harness';
import { fixedReplyWasm, HOSTILE_PAGE, httpResponse } from './hostile';

describe('the web app’s origin against a hostile canister', () => {
    let dir: string;
    let silo: RunningSilo;
    let browser: Browser;
    let context: BrowserContext;
    let app: Page;
    let hostile: Principal;
    let port: string;

    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'silo-security-'));
        silo = await startSilo(join(dir, 'state'));
        port = new URL(silo.url).port;
        // A stranger installs it through the open provisional API, as anyone on the machine can.
        const stranger = await AgentTransport.create({ host: silo.url, identity: Ed25519KeyIdentity.generate(), fetchRootKey: true });
        const management = stranger.actor<ManagementService>(managementIdlFactory, Principal.managementCanister());
        ({ canister_id: hostile } = await management.provisional_create_canister_with_cycles({ amount: [], settings: [], specified_id: [], sender_canister_version: [] }));
        const wasm = await fixedReplyWasm(httpResponse(200, [], '', true), httpResponse(200, [['content-type', 'text/html; charset=utf-8']], HOSTILE_PAGE));
        await management.install_code({ mode: { install: null }, canister_id: hostile, wasm_module: wasm, arg: new Uint8Array(), sender_canister_version: [] });
        browser = await launchChromium();
        context = await browser.newContext();
        app = await context.newPage();
        await openApp(app, silo);
    });

    afterAll(async () => {
        await browser?.close();
        await silo?.stop();
        rmSync(dir, { recursive: true, force: true });
    });

    /** Waits a moment for a page's script, then its title. */
    const settledTitle = async (page: Page) => {
        await page.waitForTimeout(300);
        return page.title();
    };

    it('serves the canister’s page on its own origin, where its script finds no key', async () => {
        const page = await context.newPage();
        const response = await page.goto(`http://${hostile.toText()}.localhost:${port}/`);
        expect(response?.status()).toBe(200);
        await page.waitForFunction(() => document.title.startsWith('PWNED '), undefined, { timeout: 20_000 });
        const report = JSON.parse((await page.title()).slice('PWNED '.length));
        expect(report).toMatchObject({ origin: `http://${hostile.toText()}.localhost:${port}`, records: 0, exported: [] });
        await page.close();
    });

    it('never serves it on the app’s hosts, by ?canisterId= or any other path', async () => {
        const page = await context.newPage();
        for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
            for (const path of [`/?canisterId=${hostile.toText()}`, `/x?canisterId=${hostile.toText()}`, `/${hostile.toText()}/`, `/api/v2/canister/${hostile.toText()}/query`]) {
                const response = await page.goto(`${origin}${path}`);
                const body = (await response?.text()) ?? '';
                expect(body, `${origin}${path}`).not.toContain('hostile canister');
                expect(await settledTitle(page), `${origin}${path}`).not.toMatch(/^PWNED/);
            }
            // The upgrade path is a POST too: the app's host does not forward it anywhere (asked from the app's page,
            // whose CSP allows connecting to its own origin; the API's answers allow nothing).
            await page.goto(`${origin}/`);
            const posted = await page.evaluate(async (url) => {
                const answer = await fetch(url, { method: 'POST', body: 'x' });
                return { status: answer.status, body: await answer.text() };
            }, `${origin}/?canisterId=${hostile.toText()}`);
            expect(posted.status).toBe(405);
            expect(posted.body).not.toContain('hostile');
        }
        await page.close();
    });

    it('answers the app’s own pages with a CSP that allows only its own script', async () => {
        const response = await app.goto(`${silo.url}/?index=${silo.index}`);
        const csp = response?.headers()['content-security-policy'] ?? '';
        expect(csp).toMatch(/script-src 'self' 'wasm-unsafe-eval'/);
        expect(csp).toMatch(/frame-ancestors 'none'/);
        await app.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    });

    it('uses the server’s index, not one a link names: a canister’s page cannot send the user to upload into its own', async () => {
        const page = await context.newPage();
        await page.goto(`${silo.url}/?index=${hostile.toText()}`);
        await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
        expect(await page.evaluate(() => localStorage.getItem('silo.index'))).toBe(silo.index);
        expect(await page.textContent('#toast')).toContain(`asked for index ${hostile.toText()}`);
        await page.close();
    });

    it('keeps a key that script in the app’s own origin cannot export', async () => {
        const found = await app.evaluate(async () => {
            const db = await new Promise<IDBDatabase>((ok, no) => {
                const r = indexedDB.open('silo-web');
                r.onsuccess = () => ok(r.result);
                r.onerror = () => no(r.error);
            });
            const all = await new Promise<unknown[]>((ok) => {
                const g = db.transaction('identity').objectStore('identity').getAll();
                g.onsuccess = () => ok(g.result);
            });
            const keys: { type: string; extractable: boolean; exported: string[] }[] = [];
            let bytes = 0;
            for (const record of all) {
                if (record instanceof Uint8Array || record instanceof ArrayBuffer) bytes++;
                for (const value of Object.values(record as object)) {
                    if (!(value instanceof CryptoKey)) continue;
                    const exported: string[] = [];
                    for (const format of ['pkcs8', 'jwk', 'raw'] as const) {
                        try {
                            await crypto.subtle.exportKey(format, value);
                            exported.push(format);
                        } catch {
                            // refused, as it must be for the private key
                        }
                    }
                    keys.push({ type: value.type, extractable: value.extractable, exported });
                }
            }
            return { records: all.length, bytes, keys };
        });
        expect(found.records).toBe(1);
        expect(found.bytes).toBe(0);
        const privateKey = found.keys.find((k) => k.type === 'private');
        expect(privateKey).toEqual({ type: 'private', extractable: false, exported: [] });
    });

    it('migrates a raw Ed25519 seed kept by an earlier version to a non-extractable key of the same principal', async () => {
        const seed = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
        const legacy = await browser.newContext();
        const page = await legacy.newPage();
        await page.goto(`${silo.url}/silo.json`); // the app's origin, without the app (which would make a key)
        await page.evaluate(
            (bytes) =>
                new Promise<void>((ok, no) => {
                    const open = indexedDB.open('silo-web', 1);
                    open.onupgradeneeded = () => open.result.createObjectStore('identity');
                    open.onsuccess = () => {
                        const tx = open.result.transaction('identity', 'readwrite');
                        tx.objectStore('identity').put(new Uint8Array(bytes), 'ed25519');
                        tx.oncomplete = () => ok();
                        tx.onerror = () => no(tx.error);
                    };
                }),
            Array.from(seed)
        );
        await openApp(page, silo);
        expect(await page.textContent('#principal')).toBe(Ed25519KeyIdentity.fromSecretKey(seed).getPrincipal().toText());
        const left = await page.evaluate(
            () =>
                new Promise<{ seed: unknown; key: { extractable: boolean } | undefined }>((ok) => {
                    const open = indexedDB.open('silo-web');
                    open.onsuccess = () => {
                        const store = open.result.transaction('identity').objectStore('identity');
                        const seedRequest = store.get('ed25519');
                        const keyRequest = store.get('webcrypto');
                        keyRequest.onsuccess = () =>
                            ok({ seed: seedRequest.result, key: keyRequest.result && { extractable: (keyRequest.result.privateKey as CryptoKey).extractable } });
                    };
                })
        );
        expect(left).toEqual({ seed: undefined, key: { extractable: false } });
        await legacy.close();
    });
});
