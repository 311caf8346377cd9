/** The real `silo` binary, in separate processes sharing one state directory. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { sha256, toHex } from '../../shared/sha256';
import { spawnSiloStart, type SpawnedServer } from '../helpers/server';
import { bytes } from '../helpers/silo';
import { BIN, silo } from './run';

// Every step is a new process that loads the replica: on a busy machine that takes a while.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

// Each command opens the embedded replica in --state, or, while a `silo start` serves --state, goes through
// it over HTTP with @dfinity/agent: the same commands, the same results.
describe.each(['embedded', 'http'] as const)('silo CLI (%s)', (transport) => {
    const dir = mkdtempSync(join(tmpdir(), 'silo-cli-'));
    const state = join(dir, 'state');
    let server: SpawnedServer | undefined;
    beforeAll(async () => {
        if (transport === 'http') server = await spawnSiloStart(state);
    });
    afterAll(async () => {
        if (server !== undefined) expect(await server.stop(), server.stderr()).toBe(0);
    });

    it('uploads, lists, downloads and deletes across processes', async () => {
        const data = bytes(300_000, 3);
        writeFileSync(join(dir, 'photo.jpg'), data);
        const up = await silo(['upload', join(dir, 'photo.jpg'), '--state', state, '--json', '--chunk-size', '65536']);
        expect(up.code, up.stderr).toBe(0);
        const asset = JSON.parse(up.stdout);
        expect(asset).toMatchObject({ name: 'photo.jpg', content_type: 'image/jpeg', size: '300000', sha256: toHex(sha256(data)), chunk_count: 5, visibility: 'private' });

        const ls = await silo(['ls', '--state', state, '--json']);
        expect(JSON.parse(ls.stdout).map((a: { id: string }) => a.id)).toEqual([asset.id]);

        const out = join(dir, 'copy.jpg');
        const down = await silo(['download', asset.id, '-o', out, '--state', state]);
        expect(down.code, down.stderr).toBe(0);
        expect(new Uint8Array(readFileSync(out))).toEqual(data);

        const info = await silo(['info', asset.id, '--state', state]);
        expect(info.stdout).toContain(toHex(sha256(data)));
        expect((await silo(['rm', asset.id, '--state', state])).code).toBe(0);
        const gone = await silo(['info', asset.id, '--state', state]);
        expect(gone.code).toBe(1);
        expect(gone.stderr).toMatch(/^silo: asset \d+ does not exist: list your assets with `silo ls`\n$/);
        expect(JSON.parse((await silo(['stats', '--state', state, '--json'])).stdout)).toMatchObject({ assets: '0', buckets: 1 });
        // Eight CLI processes, each restoring the embedded replica: slow on a loaded machine.
    }, 300_000);

    it('resumes an upload killed mid-way in the next run', async () => {
        const data = bytes(12 * 65536 + 99, 4);
        const file = join(dir, 'big.bin');
        writeFileSync(file, data);
        const args = ['upload', file, '--state', state, '--chunk-size', '65536', '--concurrency', '1'];
        const killed = await silo(args, { env: { SILO_KILL_AFTER_CHUNKS: '5', SILO_CHECKPOINT_MS: '0' } });
        expect(killed.signal).toBe('SIGKILL');
        const resumed = await silo([...args, '--json']);
        expect(resumed.code, resumed.stderr).toBe(0);
        expect(resumed.stderr).toMatch(/resuming upload session/);
        const asset = JSON.parse(resumed.stdout);
        const down = await silo(['download', asset.id, '-o', join(dir, 'big.out'), '--state', state]);
        expect(down.code, down.stderr).toBe(0);
        expect(new Uint8Array(readFileSync(join(dir, 'big.out')))).toEqual(data);
    }, 300_000);
});

describe('silo CLI', () => {
    const dir = mkdtempSync(join(tmpdir(), 'silo-cli-'));
    const state = join(dir, 'state');

    it('answers bad arguments with usage errors (exit 2) and --help with help (exit 0)', async () => {
        for (const args of [['frobnicate'], ['upload'], ['download'], ['download', 'x1'], ['ls', '--bogus'], ['ls', '--network', 'mars', '--index', 'aaaaa-aa']]) {
            const result = await silo([...args, '--state', state]);
            expect(result.code, args.join(' ')).toBe(2);
            expect(result.stderr).toMatch(/silo --help/);
        }
        expect((await silo([])).code).toBe(2);
        const help = await silo(['upload', '--help']);
        expect(help.code).toBe(0);
        expect(help.stdout).toMatch(/Usage: silo upload/);
        expect((await silo(['--help'])).stdout).toMatch(/Commands:/);
    });

    it('runs from any directory through a symlink to its bin, as `npm link` (or `npm install -g .`) installs it', async () => {
        const elsewhere = mkdtempSync(join(tmpdir(), 'silo-global-'));
        const link = join(elsewhere, 'silo');
        symlinkSync(BIN, link);
        const run = (args: string[]) => spawnSync(process.execPath, [link, ...args], { cwd: elsewhere, encoding: 'utf8' });
        expect(run(['--version']).stdout).toMatch(/^silo \d+\.\d+\.\d+\n$/);
        writeFileSync(join(elsewhere, 'hello.txt'), 'hello');
        const up = run(['upload', 'hello.txt']);
        expect(up.status, up.stderr).toBe(0);
        // The state directory is ./.silo of the directory it ran in.
        expect(run(['ls']).stdout).toMatch(/hello\.txt/);
        expect(existsSync(join(elsewhere, '.silo', 'identity.pem'))).toBe(true);
    });

    it('refuses a state directory another live process holds, and one that is corrupt', async () => {
        const locked = join(dir, 'locked');
        const first = await silo(['stats', '--state', locked]);
        expect(first.code, first.stderr).toBe(0);
        writeFileSync(join(locked, 'lock'), String(process.pid));
        const refused = await silo(['stats', '--state', locked]);
        expect(refused.code).toBe(3);
        expect(refused.stderr).toMatch(/in use by process/);

        const corrupt = join(dir, 'corrupt');
        expect((await silo(['stats', '--state', corrupt])).code).toBe(0);
        writeFileSync(join(corrupt, 'state.json'), '{"format": "silo-replica-state", "vers');
        const unusable = await silo(['stats', '--state', corrupt]);
        expect(unusable.code).toBe(3);
        expect(unusable.stderr).toMatch(/unusable/);
    });
});
