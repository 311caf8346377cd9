/**
 * The web app end to end, in headless Debian Chromium against a `silo start` child: uploads through the
 * file input, previews (an image that decodes, a video that seeks through Range requests), the CLI's view
 * of what the page stored, a private file's token link in a fresh context, and delete.
 *
 * With SILO_SCREENSHOTS=<dir>, the main views are saved there as PNGs (docs/screenshots for the README).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { bytes } from '../helpers/bytes';
import { identityFromPem, newEd25519Pem } from '../../client/identity';
import { CHUNKED_VIDEO_FIXTURE, launchChromium, openApp, pngFixture, type RunningSilo, runCli, startSilo, useKeyFile, VIDEO_FIXTURE } from './harness';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const shots = process.env.SILO_SCREENSHOTS;

describe('web app in Chromium', () => {
    let dir: string;
    let silo: RunningSilo;
    let browser: Browser;
    let page: Page;
    let identityPem: string;
    const png = pngFixture(320, 200);
    const video = readFileSync(VIDEO_FIXTURE);
    const media: { url: string; range: string | undefined; status: number }[] = [];

    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'silo-web-'));
        writeFileSync(join(dir, 'gradient.png'), png);
        writeFileSync(join(dir, 'clip.webm'), video);
        silo = await startSilo(join(dir, 'state'));
        browser = await launchChromium();
        const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
        page = await context.newPage();
        page.on('pageerror', (error) => console.error('page error:', error.message));
        // Intercept file choosers from the start: enabled only when the keyboard spec waits for one, the
        // interception can arrive after the key press, and the chooser then opens natively and is lost.
        page.on('filechooser', () => undefined);
        page.on('response', (response) => media.push({ url: response.url(), range: response.request().headers().range, status: response.status() }));
        await openApp(page, silo);
        // The CLI and the page act as one principal: the page imports the key file the CLI uses.
        identityPem = join(dir, 'browser.pem');
        const pem = newEd25519Pem();
        writeFileSync(identityPem, pem);
        await useKeyFile(page, identityPem, (await identityFromPem(pem)).getPrincipal().toText());
    });

    afterAll(async () => {
        await browser?.close();
        await silo?.stop();
        rmSync(dir, { recursive: true, force: true });
    });

    const cli = async (...args: string[]) => {
        const result = await runCli([...args, '--state', join(dir, 'state'), '--identity', identityPem, '--json']);
        expect(result.stderr).toBe('');
        expect(result.code).toBe(0);
        return JSON.parse(result.stdout);
    };

    it('shows the browser identity’s principal', async () => {
        const principal = await page.textContent('#principal');
        expect(principal).toMatch(/^[a-z0-9]{5}(-[a-z0-9]{1,5})+$/);
        expect(principal).not.toBe('2vxsx-fae');
    });

    it('uploads a public video and a private image through the file input, and lists both', async () => {
        await page.check('#visibility-public');
        await page.setInputFiles('#file-input', join(dir, 'clip.webm'));
        await page.check('#visibility-private');
        await page.setInputFiles('#file-input', join(dir, 'gradient.png'));
        for (const name of ['clip.webm', 'gradient.png']) {
            await page.waitForSelector(`.upload[data-name="${name}"][data-phase="done"]`, { timeout: 60_000 });
            await page.waitForSelector(`.asset[data-name="${name}"]`);
        }
        // A fresh listing (not just the cards added after upload) has both, with their visibility.
        await page.click('#refresh');
        await page.waitForSelector('.asset[data-name="clip.webm"] .badge.public');
        await page.waitForSelector('.asset[data-name="gradient.png"] .badge.private');
    });

    it('renders the image and seeks the video through Range requests', async () => {
        const image = page.locator('.asset[data-name="gradient.png"] img');
        await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 30_000 }).toBe(320);
        const seek = await page.locator('.asset[data-name="clip.webm"] video').evaluate(async (v: HTMLVideoElement) => {
            if (v.readyState < 1) await new Promise((r) => v.addEventListener('loadedmetadata', r, { once: true }));
            const seeked = new Promise((r) => v.addEventListener('seeked', r, { once: true }));
            v.currentTime = 3;
            await seeked;
            return { duration: v.duration, seekableEnd: v.seekable.length > 0 ? v.seekable.end(0) : 0, currentTime: v.currentTime, error: v.error?.code ?? null };
        });
        expect(seek.error).toBeNull();
        expect(seek.duration).toBeCloseTo(4, 0);
        expect(seek.seekableEnd).toBeCloseTo(4, 0);
        expect(seek.currentTime).toBeCloseTo(3, 1);
        // The media element asked for byte ranges, and the gateway answered them with 206.
        expect(media.filter((m) => m.url.includes('/clip.webm') && m.range !== undefined).map((m) => m.status)).toContain(206);
        if (shots) await page.screenshot({ path: join(mkdir(shots), 'files.png') });
    });

    it('plays and seeks a video of six certified 64 KiB chunks through the verifying gateway', async () => {
        const clip = readFileSync(CHUNKED_VIDEO_FIXTURE);
        const file = join(dir, 'chunks.webm');
        writeFileSync(file, clip);
        const uploaded = await cli('upload', file, '--chunk-size', '65536', '--public');
        const { url } = await cli('url', String(uploaded.id));
        // The bucket's own name under localhost: the verifying host (raw.localhost would skip verification).
        expect(new URL(url).hostname).toMatch(/^[a-z0-9-]+\.localhost$/);
        const viewer = await page.context().newPage();
        const seen: { range: string | undefined; status: number; contentRange: string | undefined }[] = [];
        viewer.on('response', (r) => {
            if (r.url().startsWith(url)) seen.push({ range: r.request().headers().range, status: r.status(), contentRange: r.headers()['content-range'] });
        });
        await viewer.goto(url, { waitUntil: 'commit' });
        await viewer.bringToFront();
        // Short evaluations polled from here: a media document stays 'interactive', and long awaits in it stall.
        const state = () =>
            viewer.evaluate(() => {
                const v = document.querySelector('video')!;
                return { readyState: v.readyState, currentTime: v.currentTime, seeking: v.seeking, duration: v.duration, error: v.error?.code ?? null };
            });
        await expect.poll(async () => (await state()).readyState, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
        await viewer.evaluate(() => {
            const v = document.querySelector('video')!;
            v.muted = true;
            void v.play();
        });
        await expect.poll(async () => (await state()).currentTime, { timeout: 30_000 }).toBeGreaterThan(0.3);
        await viewer.evaluate(() => {
            document.querySelector('video')!.currentTime = 3.2;
        });
        await expect.poll(async () => { const s = await state(); return !s.seeking && s.currentTime > 3.2 && s.readyState >= 2; }, { timeout: 30_000 }).toBe(true);
        const result = await state();
        await viewer.close();
        expect(result.error).toBeNull();
        expect(result.duration).toBeCloseTo(4, 0);
        expect(result.currentTime).toBeGreaterThan(3.1);
        // Every answer verified (a failed verification is a 503), and the media element got exact ranges.
        expect(seen.length).toBeGreaterThan(0);
        expect(seen.filter((r) => r.status >= 400)).toEqual([]);
        expect(seen.some((r) => r.range !== undefined && r.status === 206)).toBe(true);
        for (const r of seen.filter((x) => x.range !== undefined && x.status === 206)) {
            expect(r.contentRange, r.range).toMatch(new RegExp(`^bytes ${/bytes=(\d+)-/.exec(r.range!)![1]}-\\d+/${clip.length}$`));
        }
        // Deleted, its responses leave the certified tree at once: the gateway answers the certified 404.
        await cli('rm', String(uploaded.id));
        const at = new URL(url);
        const viaGateway = `http://127.0.0.1:${at.port}${at.pathname}?canisterId=${at.hostname.split('.')[0]}`;
        await expect.poll(async () => (await fetch(viaGateway)).status, { timeout: 20_000 }).toBe(404);
    });

    it('downloads in the page chunk by chunk, each chunk a certified http_request answer verified by the Wasm verifier', async () => {
        // An encrypted file of six 64 KiB chunks: the page decrypts it for its preview with SiloClient.download.
        const file = join(dir, 'sealed.bin');
        writeFileSync(file, bytes(6 * 65536 - 4096, 20));
        const uploaded = await cli('upload', file, '--chunk-size', '65536', '--encrypt');
        const [asset] = (await cli('ls')).filter((a: { name: string }) => a.name === 'sealed.bin');
        const bucket: string = asset.bucket;
        const chunks = Number(asset.chunk_count);
        expect(chunks).toBeGreaterThan(1);
        const queries: string[] = [];
        const wasm: { status: number; type: string | undefined }[] = [];
        const onRequest = (request: import('playwright-core').Request) => {
            if (!new RegExp(`/api/v\\d/canister/${bucket}/query$`).test(new URL(request.url()).pathname)) return;
            const body = request.postDataBuffer()?.toString('latin1') ?? '';
            queries.push(body.includes('http_request') ? 'http_request' : body.includes('get_chunk') ? 'get_chunk' : 'other');
        };
        const onResponse = (response: import('playwright-core').Response) => {
            if (new URL(response.url()).pathname === '/web_bg.wasm') wasm.push({ status: response.status(), type: response.headers()['content-type'] });
        };
        page.on('request', onRequest);
        page.on('response', onResponse);
        try {
            await page.click('#refresh');
            await page.waitForSelector('.asset[data-name="sealed.bin"] .preview[data-decrypted="true"]', { timeout: 90_000 });
        } finally {
            page.off('request', onRequest);
            page.off('response', onResponse);
        }
        // The verifier's Wasm came from the app's room as application/wasm and compiled under the CSP;
        // the chunks were read only as certified http_request answers (a verifier missing: get_chunk;
        // a verification failing: re-fetches, then an error instead of the preview).
        expect(wasm).toEqual([{ status: 200, type: 'application/wasm' }]);
        expect(queries.filter((q) => q === 'http_request').length).toBe(chunks);
        expect(queries.filter((q) => q === 'get_chunk')).toEqual([]);
        await cli('rm', String(uploaded.id));
    });

    it('lists a page at a time', async () => {
        const paged = await page.context().newPage();
        await paged.goto(`${silo.url}/?index=${silo.index}&pageSize=1`);
        await paged.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
        // The same browser context, so the same identity and its two files, one per page.
        expect(await paged.locator('.asset').count()).toBe(1);
        await paged.click('#more');
        await expect.poll(() => paged.locator('.asset').count()).toBe(2);
        await paged.click('#more');
        await paged.waitForSelector('#more', { state: 'hidden' });
        expect(await paged.locator('.asset').count()).toBe(2);
        await paged.close();
    });

    it('stored exactly the bytes of each file, as the CLI sees them', async () => {
        const listed: { name: string; sha256: string; size: number | string; visibility: string }[] = await cli('ls');
        const byName = new Map(listed.map((a) => [a.name, a]));
        expect(byName.get('gradient.png')?.sha256).toBe(sha256(png));
        expect(byName.get('clip.webm')?.sha256).toBe(sha256(video));
        expect(Number(byName.get('clip.webm')?.size)).toBe(video.length);
    });

    it('shares a private file by a token link that opens in a fresh context', async () => {
        await page.click('.asset[data-name="gradient.png"] button:has-text("Copy link")');
        await page.selectOption('#share-ttl', '3600');
        await expect.poll(() => page.inputValue('#share-link'), { timeout: 20_000 }).toMatch(/^http/);
        const link = await page.inputValue('#share-link');
        if (shots) await page.screenshot({ path: join(mkdir(shots), 'share.png') });
        await page.click('#share button[value="close"]');

        const stranger = await browser.newContext();
        const response = await (await stranger.newPage()).goto(link);
        expect(response?.status()).toBe(200);
        expect(sha256(await response!.body())).toBe(sha256(png));
        // Without its token the same URL is refused.
        const bare = new URL(link);
        bare.searchParams.delete('token');
        const refused = await (await stranger.newPage()).goto(bare.toString());
        expect(refused?.status()).toBe(403);
        await stranger.close();
    });

    it('cancels an upload in flight: nothing is stored', async () => {
        const big = join(dir, 'big.bin');
        writeFileSync(big, bytes(16 * 1024 * 1024, 7)); // 9 chunks, 4 at a time: still sending when Cancel is pressed
        await page.setInputFiles('#file-input', big);
        const row = page.locator('.upload[data-name="big.bin"]');
        await row.locator('xpath=self::*[@data-phase="sending"]').waitFor({ timeout: 60_000 });
        if (shots) await page.screenshot({ path: join(mkdir(shots), 'uploading.png') });
        await row.locator('button', { hasText: 'Cancel' }).click();
        await row.locator('xpath=self::*[@data-phase="cancelled"]').waitFor({ timeout: 30_000 });
        expect(await row.locator('.phase').textContent()).toBe('Cancelled');
        const listed: { name: string }[] = await cli('ls');
        expect(listed.map((a) => a.name)).not.toContain('big.bin');
        await row.locator('button', { hasText: 'Dismiss' }).click();
        expect(await row.count()).toBe(0);
    });

    it('works from the keyboard: Tab reaches the drop zone, Enter opens the picker, Escape closes a dialog', async () => {
        await page.click('h1'); // the sequential focus starting point: the top of the page
        let reached = false;
        for (let i = 0; i < 8 && !reached; i++) {
            await page.keyboard.press('Tab');
            reached = await page.evaluate(() => document.activeElement?.id === 'drop');
        }
        expect(reached).toBe(true);
        const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Enter')]);
        expect(chooser.isMultiple()).toBe(true);
        await page.focus('.asset[data-name="clip.webm"] button:has-text("Delete")');
        await page.keyboard.press('Enter');
        expect(await page.evaluate(() => (document.getElementById('confirm-delete') as HTMLDialogElement).open)).toBe(true);
        expect(await page.evaluate(() => document.activeElement?.id)).toBe('delete-cancel');
        await page.keyboard.press('Escape');
        expect(await page.evaluate(() => (document.getElementById('confirm-delete') as HTMLDialogElement).open)).toBe(false);
        expect(await page.locator('.asset[data-name="clip.webm"]').count()).toBe(1);
    });

    it('deletes a file after confirmation', async () => {
        await page.click('.asset[data-name="clip.webm"] button:has-text("Delete")');
        await page.click('#delete-cancel');
        expect(await page.locator('.asset[data-name="clip.webm"]').count()).toBe(1);
        await page.click('.asset[data-name="clip.webm"] button:has-text("Delete")');
        await page.click('#delete-confirm');
        await page.waitForSelector('.asset[data-name="clip.webm"]', { state: 'detached', timeout: 30_000 });
        const listed: { name: string }[] = await cli('ls');
        expect(listed.map((a) => a.name)).toEqual(['gradient.png']);
    });

    it('at the address silo start printed, connects to its index without asking, and says who the CLI calls as', async () => {
        // A fresh context: no ?index=, nothing remembered in localStorage.
        const context = await browser.newContext();
        const fresh = await context.newPage();
        try {
            await fresh.goto(`${silo.url}/`);
            await fresh.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
            expect(await fresh.isVisible('#setup')).toBe(false);
            const cliPrincipal = (await identityFromPem(readFileSync(join(dir, 'state', 'identity.pem'), 'utf8'))).getPrincipal().toText();
            expect(await fresh.textContent('#cli-principal')).toBe(cliPrincipal);
            expect(await fresh.isVisible('#cli-note')).toBe(true);
            // A text file: stored as text/plain by the library's rule, its icon reads TXT, its size in SI units.
            writeFileSync(join(dir, 'notes.txt'), 'x'.repeat(1500));
            await fresh.setInputFiles('#file-input', join(dir, 'notes.txt'));
            await fresh.waitForSelector('.upload[data-name="notes.txt"][data-phase="done"]', { timeout: 60_000 });
            const card = fresh.locator('.asset[data-name="notes.txt"]');
            await card.waitFor();
            expect(await card.locator('.file-icon').textContent()).toBe('TXT');
            expect(await card.locator('.asset-meta').textContent()).toMatch(/1\.5 kB\s*text\/plain/);
            // Finished rows do not pile up.
            expect(await fresh.isVisible('#clear-finished')).toBe(true);
            await fresh.click('#clear-finished');
            expect(await fresh.locator('.upload').count()).toBe(0);
            expect(await fresh.isVisible('#clear-finished')).toBe(false);
        } finally {
            await context.close();
        }
    });

    it('is usable at phone width', async () => {
        await page.setViewportSize({ width: 375, height: 800 });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow).toBeLessThanOrEqual(0);
        if (shots) await page.screenshot({ path: join(mkdir(shots), 'phone.png'), fullPage: true });
    });

    // Last: it stops the server.
    it('with the server gone, says so at once, keeps the list, and fails an upload within seconds', async () => {
        await page.setViewportSize({ width: 1200, height: 900 });
        writeFileSync(join(dir, 'kept.txt'), 'kept');
        await page.setInputFiles('#file-input', join(dir, 'kept.txt'));
        await page.waitForSelector('.asset[data-name="kept.txt"]', { timeout: 60_000 });
        await silo.stop();

        let started = Date.now();
        await page.click('#refresh');
        await page.waitForSelector('#listing-error', { state: 'visible', timeout: 15_000 });
        expect(Date.now() - started).toBeLessThan(15_000);
        expect(await page.textContent('#listing-error')).toMatch(/did not answer/);
        expect(await page.locator('.asset[data-name="kept.txt"]').count()).toBe(1);
        expect(await page.isVisible('#empty')).toBe(false);

        writeFileSync(join(dir, 'lost.txt'), 'x'.repeat(24));
        started = Date.now();
        await page.setInputFiles('#file-input', join(dir, 'lost.txt'));
        await page.waitForSelector('.upload[data-name="lost.txt"][data-phase="failed"]', { timeout: 20_000 });
        expect(Date.now() - started).toBeLessThan(20_000);
        expect(await page.textContent('.upload[data-name="lost.txt"] .detail')).toMatch(/did not answer/);
    });
});

function mkdir(path: string): string {
    mkdirSync(path, { recursive: true });
    return path;
}
