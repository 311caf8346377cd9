/**
 * What the browser tests and the web bench share: a `silo start` child on a free port, headless Debian
 * Chromium through playwright-core, the `silo` CLI as a child process, and deterministic fixtures.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { deflateSync } from 'node:zlib';

import { type Browser, chromium, type Page } from 'playwright-core';

import { silo } from '../cli/run';

const root = resolve(import.meta.dirname, '../..');
export const SILO_BIN = join(root, 'client/bin/silo.mjs');
export const CHROMIUM = process.env.SILO_CHROMIUM ?? '/usr/bin/chromium';
export const VIDEO_FIXTURE = join(root, 'tests/web/fixtures/clip.webm');
/** 330 KB: six chunks when uploaded with 64 KiB chunks. */
export const CHUNKED_VIDEO_FIXTURE = join(root, 'tests/web/fixtures/clip_chunks.webm');

/** Headless Chromium with nothing that calls home. */
export async function launchChromium(): Promise<Browser> {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set SILO_CHROMIUM)`);
    return chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
    });
}

export function freePort(): Promise<number> {
    return new Promise((resolvePort, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address() as { port: number };
            server.close(() => resolvePort(port));
        });
    });
}

export interface RunningSilo {
    url: string;
    index: string;
    child: ChildProcess;
    stop(): Promise<void>;
}

/** Starts `silo start --state <dir> --port <free> --json` and waits for its one JSON line. */
export async function startSilo(state: string): Promise<RunningSilo> {
    const port = await freePort();
    const child = spawn(process.execPath, [SILO_BIN, 'start', '--state', state, '--port', String(port), '--host', '127.0.0.1', '--json'], {
        stdio: ['ignore', 'pipe', 'pipe']
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const ready = await new Promise<{ url: string; index: string }>((resolveReady, reject) => {
        let stdout = '';
        const timer = setTimeout(() => reject(new Error(`silo start did not get ready in 90 s: ${stderr}`)), 90_000);
        child.stdout!.on('data', (d) => {
            stdout += d;
            const line = stdout.split('\n').find((l) => l.trim().startsWith('{'));
            if (line !== undefined) {
                clearTimeout(timer);
                resolveReady(JSON.parse(line));
            }
        });
        child.once('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`silo start exited with ${code}: ${stderr}`));
        });
    });
    return {
        ...ready,
        child,
        stop: () =>
            new Promise((resolveStop) => {
                if (child.exitCode !== null) return resolveStop();
                child.once('exit', () => resolveStop());
                child.kill('SIGTERM');
            })
    };
}

/** Runs the `silo` CLI; resolves to its exit code and output. */
export async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const { code, stdout, stderr } = await silo(args);
    return { code: code ?? -1, stdout, stderr };
}

/** Opens the app on a running Silo and waits until it has listed the files. */
export async function openApp(page: Page, silo: RunningSilo): Promise<void> {
    await page.goto(`${silo.url}/?index=${silo.index}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
}

/**
 * Signs the open app in with a PEM key file through its "Use key file…" control, as a user shares the
 * CLI's identity with the page (the page's own key cannot be read out); resolves once the reloaded
 * app shows the key's principal and has listed its files.
 */
export async function useKeyFile(page: Page, pemPath: string, principal: string): Promise<void> {
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('#identity-import')]);
    await Promise.all([page.waitForEvent('load'), chooser.setFiles(pemPath)]);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    const shown = await page.textContent('#principal');
    if (shown !== principal) throw new Error(`the app shows ${shown} after the key import, not ${principal}`);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
    let c = 0xffffffff;
    for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
}

/** A deterministic RGB PNG: a diagonal colour gradient with a grid, `width` × `height`. */
export function pngFixture(width: number, height: number): Buffer {
    const header = Buffer.alloc(13);
    header.writeUInt32BE(width, 0);
    header.writeUInt32BE(height, 4);
    header[8] = 8; // bit depth
    header[9] = 2; // colour type: RGB
    const raw = Buffer.alloc((width * 3 + 1) * height);
    for (let y = 0; y < height; y++) {
        const row = y * (width * 3 + 1);
        raw[row] = 0; // filter: none
        for (let x = 0; x < width; x++) {
            const grid = x % 16 === 0 || y % 16 === 0;
            raw[row + 1 + x * 3] = grid ? 255 : Math.round((x / width) * 255);
            raw[row + 2 + x * 3] = grid ? 255 : Math.round((y / height) * 255);
            raw[row + 3 + x * 3] = grid ? 255 : 160;
        }
    }
    return Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        pngChunk('IHDR', header),
        pngChunk('IDAT', deflateSync(raw, { level: 9 })),
        pngChunk('IEND', new Uint8Array(0))
    ]);
}
