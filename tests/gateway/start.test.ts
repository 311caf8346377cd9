/** `silo start` as a separate process: what it prints, how other commands find it, and what a SIGKILL costs. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { sha256, toHex } from '../../shared/sha256';
import { silo } from '../cli/run';
import { spawnSiloStart } from '../helpers/server';
import { bytes } from '../helpers/silo';

async function upload(file: string, state: string): Promise<{ id: string; sha256: string }> {
    const up = await silo(['upload', file, '--state', state, '--json', '--chunk-size', '65536']);
    expect(up.code, up.stderr).toBe(0);
    return JSON.parse(up.stdout);
}

async function listed(args: string[]): Promise<string[]> {
    const ls = await silo(['ls', '--json', ...args]);
    expect(ls.code, ls.stderr).toBe(0);
    return JSON.parse(ls.stdout).map((a: { id: string }) => a.id);
}

describe('silo start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'silo-start-'));

    it('prints one JSON line with its URL and index, records them, serves /api and removes the record on SIGTERM', async () => {
        const state = join(dir, 'announce');
        const server = await spawnSiloStart(state);
        expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        const record = JSON.parse(readFileSync(join(state, 'server.json'), 'utf8'));
        expect(record).toMatchObject({ url: server.url, index: server.index, pid: server.child.pid });
        const status = await fetch(`${server.url}/api/v2/status`);
        expect(status.status).toBe(200);
        expect(status.headers.get('content-type')).toMatch(/cbor/);
        // --network local finds the running server (URL and index) without --host or --index.
        expect(await listed(['--network', 'local', '--state', state])).toEqual([]);
        expect(await server.stop()).toBe(0);
        expect(existsSync(join(state, 'server.json'))).toBe(false);
    }, 300_000);

    it('loses at most the last checkpoint interval to a SIGKILL, and never leaves a corrupt or partial state', async () => {
        const state = join(dir, 'killed');
        const first = bytes(200_000, 21);
        const second = bytes(300_000, 22);
        writeFileSync(join(dir, 'first.bin'), first);
        writeFileSync(join(dir, 'second.bin'), second);

        const server = await spawnSiloStart(state, { SILO_CHECKPOINT_MS: '300' });
        const kept = await upload(join(dir, 'first.bin'), state);
        // Longer than the checkpoint interval (and the server's pulse): the first upload is on disk.
        await new Promise((r) => setTimeout(r, 1500));
        const maybe = await upload(join(dir, 'second.bin'), state);
        await server.kill();

        // The dead server's record and lock are stale: the embedded network opens the state directly.
        const afterKill = await listed(['--state', state]);
        expect(afterKill).toContain(kept.id);

        const restarted = await spawnSiloStart(state);
        try {
            const ids = await listed(['--state', state]);
            expect(ids).toContain(kept.id);
            const files: [typeof kept, Uint8Array][] = [[kept, first]];
            if (ids.includes(maybe.id)) files.push([maybe, second]);
            for (const [asset, data] of files) {
                const out = join(dir, `out-${asset.id}`);
                const down = await silo(['download', asset.id, '-o', out, '--state', state]);
                expect(down.code, down.stderr).toBe(0);
                expect(toHex(sha256(new Uint8Array(readFileSync(out))))).toBe(toHex(sha256(data)));
            }
        } finally {
            expect(await restarted.stop(), restarted.stderr()).toBe(0);
        }
        // Three server starts and eight CLI runs: slow on a loaded machine.
    }, 300_000);
});
