/**
 * What a new user hit with the real `silo` binary (issue 10): JSON output, names, downloads to every
 * kind of target, resume with changed options, Ctrl-C during verification, unusable state directories.
 * The runs share one state directory, as a user's would.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, createReadStream, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { beforeAll, describe, expect, it, vi } from 'vitest';

import { sha256, toHex } from '../../shared/sha256';
import { bytes } from '../helpers/silo';
import { BIN, silo } from './run';

const dir = mkdtempSync(join(tmpdir(), 'silo-flows-'));
const state = join(dir, 'state');
const photo = bytes(150_000, 21);
const notes = bytes(70_000, 22);
writeFileSync(join(dir, 'photo.jpg'), photo);
writeFileSync(join(dir, 'notes.txt'), notes);

const lines = (text: string): unknown[] => text.trim().split('\n').map((line) => JSON.parse(line));
const ok = (r: { code: number | null; stderr: string }) => expect(r.code, r.stderr).toBe(0);

let photoId: string;

// Every step is a new process that loads the replica: on a busy machine that takes a while.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

describe('silo, as a new user meets it', () => {
    beforeAll(async () => {
        // Two files with --json: NDJSON, one plain object per file; content types guessed from the names.
        const up = await silo(['upload', join(dir, 'photo.jpg'), join(dir, 'notes.txt'), '--state', state, '--json', '--chunk-size', '65536']);
        ok(up);
        const [first, second] = lines(up.stdout) as Record<string, unknown>[];
        expect(first).toMatchObject({ name: 'photo.jpg', content_type: 'image/jpeg', size: '150000', sha256: toHex(sha256(photo)), visibility: 'private', chunk_count: 3 });
        expect(second).toMatchObject({ name: 'notes.txt', content_type: 'text/plain', size: '70000', visibility: 'private' });
        photoId = first.id as string;
    });

    it('keeps the network\'s vetKD master keys in the state directory: made once (0600), the same in every later process', async () => {
        const file = join(state, 'vetkd_keys.json');
        expect(lstatSync(file).mode & 0o777).toBe(0o600);
        const keys = readFileSync(file, 'utf8');
        expect(Object.keys(JSON.parse(keys)).sort()).toEqual(['dfx_test_key', 'key_1', 'test_key_1']);
        ok(await silo(['ls', '--state', state]));
        expect(readFileSync(file, 'utf8')).toBe(keys);
    });

    it('uploads stdin, prints the stored name with control characters escaped, and --json as plain values', async () => {
        const name = '\u001b[31mred\u0007name';
        const up = await silo(['upload', '-', '--name', name, '--public=true', '--state', state], { input: notes });
        ok(up);
        const [id, shown, digest] = up.stdout.trim().split('\t');
        expect(shown).toBe('\\u{1b}[31mred\\u{7}name');
        expect(digest).toBe(`sha256:${toHex(sha256(notes))}`);
        expect(up.stdout).not.toMatch(/\u001b|\u0007/);

        const info = await silo(['info', id, '--state', state, '--json']);
        ok(info);
        const asset = JSON.parse(info.stdout);
        expect(asset).toMatchObject({ id, name, visibility: 'public', content_type: 'application/octet-stream', size: '70000' });
        expect(typeof asset.owner).toBe('string');
        expect(typeof asset.bucket).toBe('string');

        const ls = await silo(['ls', '--state', state]);
        ok(ls);
        expect(ls.stdout).toContain('\\u{1b}[31mred\\u{7}name');
        expect(ls.stdout).not.toMatch(/\u001b|\u0007/);

        const missing = await silo(['info', '987654', '--state', state, '--json']);
        expect(missing.code).toBe(1);
        expect(JSON.parse(missing.stdout)).toEqual({ error: { code: 'AssetNotFoundError', message: 'asset 987654 does not exist: list your assets with `silo ls`' } });
        expect(missing.stderr).toBe('silo: asset 987654 does not exist: list your assets with `silo ls`\n');
    });

    it('downloads to stdout, into a directory, through symlinks and FIFOs, and never over a file without --force', async () => {
        const toStdout = await silo(['download', photoId, '-o', '-', '--state', state]);
        ok(toStdout);
        expect(new Uint8Array(toStdout.bytes)).toEqual(photo);
        expect(toStdout.stderr).toMatch(/stdout\t150000 bytes\tsha256:[0-9a-f]{64} verified/);

        const into = join(dir, 'into');
        mkdirSync(into);
        ok(await silo(['download', photoId, '-o', `${into}/`, '--state', state]));
        expect(new Uint8Array(readFileSync(join(into, 'photo.jpg')))).toEqual(photo);

        writeFileSync(join(into, 'photo.jpg'), 'mine');
        const refused = await silo(['download', photoId, '-o', into, '--state', state]);
        expect(refused.code).toBe(2);
        expect(refused.stderr).toMatch(/photo\.jpg exists: pass --force to overwrite it/);
        // One line: the command line was right, so no pointer to --help.
        expect(refused.stderr).toMatch(/^silo: [^\n]*photo\.jpg exists: pass --force to overwrite it, or choose another path with -o\n$/);
        expect(readFileSync(join(into, 'photo.jpg'), 'utf8')).toBe('mine');
        ok(await silo(['download', photoId, '-o', join(into, 'photo.jpg'), '--force', '--state', state]));
        expect(new Uint8Array(readFileSync(join(into, 'photo.jpg')))).toEqual(photo);

        // A symlink (here to a file not there yet) is written through and stays a symlink.
        const link = join(dir, 'link.jpg');
        symlinkSync(join(into, 'linked.jpg'), link);
        ok(await silo(['download', photoId, '-o', link, '--state', state]));
        expect(lstatSync(link).isSymbolicLink()).toBe(true);
        expect(readlinkSync(link)).toBe(join(into, 'linked.jpg'));
        expect(new Uint8Array(readFileSync(join(into, 'linked.jpg')))).toEqual(photo);

        // A FIFO is written through, in order, not replaced by a regular file.
        const fifo = join(dir, 'pipe');
        execFileSync('mkfifo', [fifo]);
        const received: Buffer[] = [];
        const reading = new Promise<void>((done) => createReadStream(fifo).on('data', (d) => received.push(d as Buffer)).on('end', done));
        ok(await silo(['download', photoId, '-o', fifo, '--state', state]));
        await reading;
        expect(new Uint8Array(Buffer.concat(received))).toEqual(photo);
        expect(lstatSync(fifo).isFIFO()).toBe(true);

        // /dev/stdout with stdout redirected to a file (as `> file` does): written through, no --force needed.
        const redirected = join(dir, 'redirected.bin');
        const fd = openSync(redirected, 'w');
        const viaDevStdout = spawnSync(process.execPath, [BIN, 'download', photoId, '-o', '/dev/stdout', '--state', state], { stdio: ['ignore', fd, 'pipe'] });
        closeSync(fd);
        expect(viaDevStdout.status, String(viaDevStdout.stderr)).toBe(0);
        expect(new Uint8Array(readFileSync(redirected))).toEqual(photo);
        expect(lstatSync('/dev/stdout').isSymbolicLink()).toBe(true);

        // A full disk: one line, exit 1, no stack trace.
        const full = await silo(['download', photoId, '-o', '/dev/full', '--state', state]);
        expect(full.code).toBe(1);
        expect(full.stderr).toMatch(/^silo: no space left on the device \(.*\): free some space and run again\n$/);

        expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
        expect(readdirSync(into).filter((f) => f.includes('partial'))).toEqual([]);
    });

    it('holds --chunk-size to the index\'s minimum before reading anything, and words info and stats plainly', async () => {
        // stdin's size is unknown: a chunk below min_chunk_size (64 KiB here) is refused at once, exit 2, one line.
        const piped = await silo(['upload', '-', '--chunk-size', '128', '--state', state], { input: bytes(300_000, 5) });
        expect(piped.code, piped.stderr).toBe(2);
        expect(piped.stderr).toMatch(/^silo: --chunk-size must be at least 65536 bytes \(the index's min_chunk_size\) for an upload of unknown size, got 128 \(stdin\)\n$/);
        writeFileSync(join(dir, 'small.txt'), bytes(100, 6));
        writeFileSync(join(dir, 'two.txt'), bytes(300, 6));
        const two = await silo(['upload', join(dir, 'two.txt'), '--chunk-size', '128', '--state', state]);
        expect(two.code, two.stderr).toBe(2);
        expect(two.stderr).toMatch(/for an upload of 300 bytes \(more than one chunk\), got 128 \(.*two\.txt\)\n$/);
        // One chunk is exempt from the minimum.
        ok(await silo(['upload', join(dir, 'small.txt'), '--chunk-size', '128', '--state', state]));

        writeFileSync(join(dir, 'empty.txt'), '');
        const empty = await silo(['upload', join(dir, 'empty.txt'), '--state', state]);
        ok(empty);
        const info = await silo(['info', empty.stdout.split('\t')[0], '--state', state]);
        expect(info.stdout).toMatch(/^chunks +none \(empty file\)$/m);
        const photoInfo = await silo(['info', photoId, '--state', state]);
        expect(photoInfo.stdout).toMatch(/^chunks +3: 2 × 65536 bytes and one of 18928 bytes$/m);
        const stats = await silo(['stats', '--state', state]);
        ok(stats);
        expect(stats.stdout).toMatch(/^index cycles +\d+\.\d{3} T \(/m);
        expect(stats.stdout).not.toMatch(/cycles +cycles/);
    });

    it('saves an asset named .. under a safe name in the working directory', async () => {
        const up = await silo(['upload', join(dir, 'notes.txt'), '--name', '..', '--state', state, '--json']);
        ok(up);
        const { id } = JSON.parse(up.stdout);
        const cwd = join(dir, 'cwd');
        mkdirSync(cwd);
        ok(await silo(['download', id, '--state', state], { cwd }));
        expect(readdirSync(cwd)).toEqual([`asset-${id}`]);
        expect(new Uint8Array(readFileSync(join(cwd, `asset-${id}`)))).toEqual(notes);
    });

    it('resumes only with the same options: a killed --public upload re-run with --public=false starts over, private', async () => {
        const data = bytes(8 * 65536 + 5, 23);
        const file = join(dir, 'secret.bin');
        writeFileSync(file, data);
        const args = ['upload', file, '--state', state, '--chunk-size', '65536', '--concurrency', '1'];
        const killed = await silo([...args, '--public'], { env: { SILO_KILL_AFTER_CHUNKS: '3' } });
        expect(killed.signal).toBe('SIGKILL');
        const again = await silo([...args, '--public=false', '--json']);
        ok(again);
        expect(again.stderr).toMatch(/not resuming upload session \d+ of .*secret\.bin: it was started with --public; starting a new upload/);
        expect(JSON.parse(again.stdout)).toMatchObject({ name: 'secret.bin', visibility: 'private', sha256: toHex(sha256(data)) });
    });

    it('stops within a second on Ctrl-C during verification, and the next run resumes it: one asset, no duplicate', async () => {
        const data = bytes(10 * 65536, 24);
        const file = join(dir, 'ctrl-c.bin');
        writeFileSync(file, data);
        const args = ['upload', file, '--state', state, '--chunk-size', '65536'];
        const interrupted = await silo(args, { env: { SILO_INTERRUPT_AT_PHASE: 'verifying' } });
        expect(interrupted.code, interrupted.stderr).toBe(130);
        expect(interrupted.stderr).toMatch(/silo: interrupted; run the same command again to resume the upload/);
        const at = Number(/interrupting at (\d+)/.exec(interrupted.stderr)![1]);
        expect(interrupted.endedAt - at).toBeLessThan(1000);

        const again = await silo([...args, '--json']);
        ok(again);
        expect(again.stderr).toMatch(/resuming upload session \d+|already committed as asset \d+/);
        expect(JSON.parse(again.stdout)).toMatchObject({ name: 'ctrl-c.bin', sha256: toHex(sha256(data)) });
        const ls = await silo(['ls', '--state', state, '--json']);
        expect((JSON.parse(ls.stdout) as { name: string }[]).filter((a) => a.name === 'ctrl-c.bin')).toHaveLength(1);
    });

    it('exits 3 with one line for a state path that is a file, not writable, or garbled', async () => {
        const asFile = join(dir, 'state-file');
        writeFileSync(asFile, 'x');
        const notDir = await silo(['stats', '--state', asFile]);
        expect(notDir.code).toBe(3);
        expect(notDir.stderr).toBe(`silo: state directory ${asFile} is not a directory: pick another with --state\n`);

        // /sys and /proc refuse new directories even to root, as a read-only file system does.
        for (const path of ['/sys/silo-state', '/proc/silo-state']) {
            const readOnly = await silo(['stats', '--state', path]);
            expect(readOnly.code, readOnly.stderr).toBe(3);
            expect(readOnly.stderr).toMatch(/^silo: state directory \/(sys|proc)\/silo-state is unusable \(.*\): fix its permissions or free space, move it away to start afresh, or pick another with --state\n$/);
        }

        const garbled = join(dir, 'garbled');
        mkdirSync(garbled);
        writeFileSync(join(garbled, 'state.json'), JSON.stringify({ format: 'silo-replica-state', version: 1, canisters: [{ id: 5 }] }));
        const unusable = await silo(['stats', '--state', garbled]);
        expect(unusable.code).toBe(3);
        expect(unusable.stderr.split('\n').filter(Boolean)).toHaveLength(1);
        expect(unusable.stderr).toMatch(/^silo: state directory .*garbled is unusable/);
        expect(existsSync(join(garbled, 'lock'))).toBe(false);
    });
});
