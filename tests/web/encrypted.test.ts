/**
 * Encrypted files in the web app, in headless Chromium: two browser contexts, each with its own browser
 * key (two principals). Alice uploads an image with "Encrypt end to end", sees it decrypted in her page,
 * shares it with Bob's principal; Bob's page lists it under "Shared with you" and renders the decrypted
 * image; after Alice unshares, Bob's page no longer gets it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { launchChromium, openApp, pngFixture, type RunningSilo, startSilo } from './harness';

describe('encrypted files in the web app', () => {
    let dir: string;
    let silo: RunningSilo;
    let browser: Browser;
    let alice: Page;
    let bob: Page;

    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'silo-web-e2e-'));
        writeFileSync(join(dir, 'secret.png'), pngFixture(320, 200));
        writeFileSync(join(dir, 'notes.txt'), 'not for everyone\n');
        silo = await startSilo(join(dir, 'state'));
        browser = await launchChromium();
        const open = async (): Promise<Page> => {
            const page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
            page.on('pageerror', (error) => console.error('page error:', error.message));
            await openApp(page, silo);
            return page;
        };
        alice = await open();
        bob = await open();
    }, 180_000);

    afterAll(async () => {
        await browser?.close();
        await silo?.stop();
        rmSync(dir, { recursive: true, force: true });
    });

    /** Waits for a card's decrypted image and returns its natural width (0: it did not decode). */
    const decodedWidth = async (page: Page, selector: string): Promise<number> => {
        const img = await page.waitForSelector(`${selector} .preview[data-decrypted="true"] img`, { timeout: 90_000 });
        expect(await img.getAttribute('src')).toMatch(/^blob:/);
        return img.evaluate(async (el: HTMLImageElement) => (await el.decode().then(() => el.naturalWidth, () => 0)));
    };

    it('uploads encrypted, renders it decrypted, shares it with another browser, and unshares', async () => {
        const bobPrincipal = (await bob.textContent('#principal'))!;
        expect(bobPrincipal).not.toBe(await alice.textContent('#principal'));

        await alice.check('#encrypt');
        await alice.setInputFiles('#file-input', join(dir, 'secret.png'));
        await alice.waitForSelector('.upload[data-name="secret.png"][data-phase="done"]', { timeout: 90_000 });
        const card = '#assets .asset[data-name="secret.png"]';
        expect(await decodedWidth(alice, card)).toBe(320);
        expect(await alice.textContent(`${card} .badge.encrypted`)).toBe('Encrypted');
        // Decrypted content that is no image or video gets the same type glyph as a plain file's card.
        await alice.setInputFiles('#file-input', join(dir, 'notes.txt'));
        await alice.waitForSelector('.upload[data-name="notes.txt"][data-phase="done"]', { timeout: 90_000 });
        const notes = await alice.waitForSelector('#assets .asset[data-name="notes.txt"] .preview[data-decrypted="true"] .file-icon', { timeout: 90_000 });
        expect(await notes.textContent()).toBe('TXT');

        await alice.click(`${card} button:has-text("Share")`);
        await alice.fill('#e2e-share-principal', bobPrincipal);
        await alice.click('#e2e-share-submit');
        await alice.waitForSelector(`#e2e-readers .reader[data-principal="${bobPrincipal}"]`, { timeout: 60_000 });

        await bob.click('#shared-refresh');
        expect(await decodedWidth(bob, '#shared-assets .asset[data-name="secret.png"]')).toBe(320);

        await alice.click(`#e2e-readers .reader[data-principal="${bobPrincipal}"] button`);
        await alice.waitForSelector('#e2e-share-status:has-text("Unshared")', { timeout: 60_000 });
        await bob.reload();
        await bob.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
        expect(await bob.isVisible('#shared-empty')).toBe(true);
        expect(await bob.$$('#shared-assets .asset')).toEqual([]);
    }, 300_000);
});
