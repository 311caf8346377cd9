/**
 * `silo download`: fetches an asset, verifies its SHA-256 and writes it where `-o` says: a new or
 * (with --force) replaced file, a directory (saved under the asset's name), stdout (`-o -`), or a
 * special file or symlink, written through.
 */
import { closeSync, constants, existsSync, lstatSync, openSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import { toHex } from '../../shared/sha256';
import { ENCRYPTED_CONTENT_TYPE } from '../../shared/types';
import { IntegrityError } from '../errors';
import type { DownloadSink } from '../silo';
import { assetId, UsageError, wholeNumber } from './args';
import { type Command, type Invocation, stringOption } from './command';

/**
 * A file name for an asset's name in a local directory: its last path segment, with control characters
 * replaced; names that would point elsewhere (`.`, `..`, empty) become `asset-<id>`.
 */
export function localName(name: string, id: bigint): string {
    // eslint-disable-next-line no-control-regex
    const last = basename(name.replace(/\\/g, '/').replace(/\/+$/, '')).replace(/[\u0000-\u001f\u007f]/g, '_');
    return last === '' || last === '.' || last === '..' ? `asset-${id}` : last;
}

/** Where the bytes go, and how. */
type Target =
    | { kind: 'stdout' }
    /** A regular file (new, or replaced with --force): written beside it and renamed into place once verified. */
    | { kind: 'file'; path: string; shown: string }
    /** A FIFO, device or other special file: written through, in order. */
    | { kind: 'special'; path: string; shown: string };

/** `-` and the names of this process's own stdout: written as `-o -` is (streamed, the summary on stderr). */
const STDOUT_NAMES = ['-', '/dev/stdout', '/dev/fd/1', '/proc/self/fd/1'];

function resolveTarget(output: string | undefined, name: string, id: bigint, force: boolean): Target {
    if (output !== undefined && STDOUT_NAMES.includes(output)) return { kind: 'stdout' };
    let path = resolve(output ?? localName(name, id));
    const endsWithSeparator = output !== undefined && /[/\\]$/.test(output);
    if (existsSync(path) && statSync(path).isDirectory()) path = join(path, localName(name, id));
    else if (endsWithSeparator) throw new UsageError(`-o ${output}: no such directory`, false);
    const shown = path;
    if (existsSync(path) || isDanglingLink(path)) {
        const link = lstatSync(path);
        // /dev/stdout, /dev/fd/N, /proc/self/fd/N name an open file (a pipe, a terminal, a file the shell
        // redirected to): written through as they are, whatever they lead to.
        if (link.isSymbolicLink() && /^\/(dev|proc)\//.test(path)) return { kind: 'special', path, shown };
        // Another symlink is followed: what it points to is written (the link itself stays).
        if (link.isSymbolicLink()) path = resolveLink(path);
        if (existsSync(path)) {
            const stat = statSync(path);
            if (stat.isDirectory()) throw new UsageError(`-o ${shown} is a directory`, false);
            if (!stat.isFile()) return { kind: 'special', path, shown };
            if (!force) throw new UsageError(`${shown} exists: pass --force to overwrite it, or choose another path with -o`, false);
        }
    }
    if (!existsSync(dirname(path))) throw new UsageError(`-o ${shown}: directory ${dirname(path)} does not exist`, false);
    return { kind: 'file', path, shown };
}

function isDanglingLink(path: string): boolean {
    try {
        return lstatSync(path).isSymbolicLink();
    } catch {
        return false;
    }
}

/** The path a symlink leads to, also when that does not exist yet. */
function resolveLink(path: string): string {
    try {
        return realpathSync(path);
    } catch {
        return resolve(dirname(path), readlinkSync(path));
    }
}

/** Writes in order to a file descriptor (a partial file, or a special file written through). */
function fdSink(fd: number): DownloadSink {
    return {
        write: async (bytes) => {
            for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
        }
    };
}

/** Writes to stdout, waiting when the pipe is full. */
function stdoutSink(): DownloadSink {
    return {
        write: (bytes) =>
            new Promise<void>((done, fail) => {
                process.stdout.write(bytes, (error) => (error ? fail(error) : done()));
            })
    };
}

export const download: Command = {
    name: 'download',
    personal: true,
    args: '<asset-id>',
    summary: 'download an asset and verify its SHA-256 (-o <path>, a directory, or - for stdout)',
    description: `Downloads an asset and verifies its SHA-256. By default it is saved under its name in the current
directory; -o names a file, a directory to save into, or - for stdout. A file is written beside its
final place and renamed into it only once verified, so a failed download leaves nothing behind; an
existing file is replaced only with --force. Symlinks and special files (a FIFO, /dev/stdout) are
written through; to stdout the bytes are streamed as they arrive and still verified: if verification
fails after bytes were written, silo says so on stderr and exits 1.`,
    options: {
        output: { type: 'string', short: 'o', value: '<path>', help: 'file, directory or - (stdout) to write to' },
        force: { type: 'boolean', help: 'replace an existing file' },
        concurrency: { type: 'string', value: '<n>', help: 'chunks fetched at once, 1 to 64 (default 4; 1 on the embedded network)' }
    },
    check(invocation: Invocation) {
        if (invocation.positionals.length !== 1) throw new UsageError('download takes one asset id');
        assetId(invocation.positionals[0]);
        wholeNumber('concurrency', stringOption(invocation, 'concurrency'), 1, 64);
        const output = stringOption(invocation, 'output');
        if (output !== undefined && STDOUT_NAMES.includes(output) && invocation.options.json === true) {
            throw new UsageError(`-o ${output} writes the asset to stdout, where --json would print too: use one of them`);
        }
    },
    async run(invocation) {
        const { output } = invocation;
        const id = assetId(invocation.positionals[0]);
        const { client, embedded } = await invocation.connect();
        const concurrency = wholeNumber('concurrency', stringOption(invocation, 'concurrency'), 1, 64) ?? (embedded ? 1 : undefined);
        const asset = await client.getAsset(id);
        const target = resolveTarget(stringOption(invocation, 'output'), asset.name, id, invocation.options.force === true);
        const bar = output.progress(asset.name);
        let partial: string | undefined;
        let fd: number | undefined;
        let sink: DownloadSink;
        if (target.kind === 'stdout') sink = stdoutSink();
        else if (target.kind === 'special') {
            fd = openSync(target.path, constants.O_WRONLY | constants.O_APPEND);
            sink = fdSink(fd);
        } else {
            partial = join(dirname(target.path), `.${basename(target.path)}.${process.pid}.partial`);
            fd = openSync(partial, 'wx', 0o644);
            sink = fdSink(fd);
            const remove = partial;
            invocation.cleanup.push(() => rmSync(remove, { force: true }));
        }
        let written = false;
        try {
            await client.download(id, sink, {
                concurrency,
                onProgress: (p) => {
                    written = true;
                    bar.update(p);
                }
            });
            if (fd !== undefined) closeSync(fd);
            fd = undefined;
            if (partial !== undefined && target.kind === 'file') {
                renameSync(partial, target.path);
                partial = undefined;
            }
        } catch (error) {
            if (error instanceof IntegrityError && target.kind !== 'file' && written) {
                const where = target.kind === 'stdout' ? 'stdout' : target.shown;
                throw new IntegrityError(`the bytes already written to ${where} failed verification (${error.message}): discard them`);
            }
            throw error;
        } finally {
            bar.done();
            if (fd !== undefined) closeSync(fd);
            if (partial !== undefined) rmSync(partial, { force: true });
        }
        const where = target.kind === 'stdout' ? 'stdout' : target.shown;
        const summary = `${output.name(where)}\t${asset.size} bytes\tsha256:${toHex(asset.sha256)} verified${asset.content_type === ENCRYPTED_CONTENT_TYPE ? ' (ciphertext), decrypted' : ''}`;
        if (target.kind === 'stdout') output.note(summary);
        else output.result({ id: id.toString(), path: where, size: asset.size.toString(), sha256: toHex(asset.sha256) }, () => summary);
    }
};
