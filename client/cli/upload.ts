/** `silo upload`: uploads files (or stdin), resuming an interrupted upload of the same file when nothing else changed. */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import type { Principal } from '@dfinity/principal';

import { DEFAULT_CHUNK_SIZE, MAX_NAME_BYTES } from '../../shared/constants';
import { toHex } from '../../shared/sha256';
import { Asset as AssetType, type Asset, type SessionInfo, type Visibility } from '../../shared/types';
import { chunkSizeProblem } from '../chunk_size';
import { contentTypeFor } from '../content_type';
import { SessionExpiredError, SessionNotFoundError } from '../errors';
import type { Progress, SiloClient, UploadOptions } from '../silo';
import { chunkSize, UsageError, wholeNumber } from './args';
import { type Command, stringOption } from './command';
import { StateUnusableError } from './connect';
import { candidJson, formatBytes } from './output';

/** The asset as `--json` prints it (and `ls`/`info` do). */
export const assetJson = (asset: Asset): unknown => candidJson(AssetType, asset);

/** Uploads interrupted mid-way, so the next `silo upload` of the same file resumes them. */
class PendingUploads {
    private readonly path: string;

    constructor(private readonly stateDir: string) {
        this.path = join(stateDir, 'uploads.json');
    }

    private read(): Record<string, string> {
        if (!existsSync(this.path)) return {};
        try {
            const entries = JSON.parse(readFileSync(this.path, 'utf8'));
            return entries !== null && typeof entries === 'object' ? entries : {};
        } catch {
            // A garbled record only costs a resume: the upload starts afresh.
            return {};
        }
    }

    private write(entries: Record<string, string>): void {
        try {
            mkdirSync(this.stateDir, { recursive: true });
            const temporary = `${this.path}.tmp-${process.pid}`;
            writeFileSync(temporary, JSON.stringify(entries, null, 1));
            renameSync(temporary, this.path);
        } catch (error) {
            throw new StateUnusableError(`cannot record the upload in ${this.path} (${(error as Error).message}): fix the state directory or pick another with --state`);
        }
    }

    /** The file's identity: the index, its path, size and modification time. */
    static key(file: string, index: Principal): string {
        const stat = statSync(file);
        return `${index.toText()}|${resolve(file)}|${stat.size}|${Math.floor(stat.mtimeMs)}`;
    }

    get(key: string): bigint | undefined {
        const value = this.read()[key];
        return typeof value === 'string' && /^\d+$/.test(value) ? BigInt(value) : undefined;
    }

    set(key: string, session: bigint): void {
        this.write({ ...this.read(), [key]: session.toString() });
    }

    delete(key: string): void {
        const entries = this.read();
        if (!(key in entries)) return;
        delete entries[key];
        this.write(entries);
    }
}

/** What an upload records with the asset: resuming needs all of it to match. */
interface Wanted {
    name: string;
    contentType: string;
    visibility: 'public' | 'private';
    chunkSize: number;
}

const visibilityName = (v: Visibility): 'public' | 'private' => ('public' in v ? 'public' : 'private');

/** The options an earlier session or asset differs in from this run's, as `--flag value` phrases. */
function differences(wanted: Wanted, earlier: { name: string; content_type: string; visibility: Visibility; chunk_size: number }): string[] {
    const out: string[] = [];
    if (earlier.name !== wanted.name) out.push(`--name ${JSON.stringify(earlier.name)}`);
    if (earlier.content_type !== wanted.contentType) out.push(`--content-type ${earlier.content_type}`);
    if (visibilityName(earlier.visibility) !== wanted.visibility) out.push(visibilityName(earlier.visibility) === 'public' ? '--public' : '--no-public');
    if (earlier.chunk_size !== wanted.chunkSize) out.push(`--chunk-size ${earlier.chunk_size}`);
    return out;
}

/**
 * What to do with a recorded session: resume it (options match), report the asset it already committed,
 * or start over (gone, or started with other options: then it is aborted so it holds no quota).
 */
async function previousOutcome(client: SiloClient, session: bigint, wanted: Wanted, file: string, note: (m: string) => void): Promise<{ resume: SessionInfo } | { committed: Asset } | null> {
    let info: SessionInfo | undefined;
    try {
        info = await client.session(session);
    } catch (error) {
        if (!(error instanceof SessionNotFoundError || error instanceof SessionExpiredError)) throw error;
    }
    if (info !== undefined) {
        const changed = differences(wanted, info);
        if (changed.length === 0) return { resume: info };
        note(`not resuming upload session ${session} of ${file}: it was started with ${changed.join(', ')}; starting a new upload`);
        await client.abortUpload(session).catch(() => undefined);
        return null;
    }
    const committed = await client.committedAsset(session);
    if (committed === undefined) {
        note(`upload session ${session} of ${file} is gone; uploading again`);
        return null;
    }
    const changed = differences(wanted, committed);
    if (changed.length === 0) return { committed };
    note(`an earlier run committed ${file} as asset ${committed.id} with ${changed.join(', ')}; uploading it again as asked`);
    return null;
}

export const upload: Command = {
    name: 'upload',
    personal: true,
    args: '<files...>',
    summary: 'upload files (`-` reads stdin); an interrupted upload of the same file resumes',
    description: `Uploads each file and prints its asset id, stored name and SHA-256 (with --json, one JSON object
per line per file, NDJSON). The content is hashed while read, sent to a bucket in chunks and committed
only once the index has read it all back and found the same SHA-256.

An upload that was interrupted (Ctrl-C, crash, lost connection) resumes where it stopped when the same
file (same path, size and modification time) is uploaded again with the same options; with other
options the old upload is dropped and a new one started, and one that was already committed is reported
("already committed as asset N") instead of being uploaded twice.

The content type is guessed from the file name unless --content-type is given.

With --encrypt the file is encrypted on this machine before it is sent (AES-256-GCM per chunk, a new key
per file, wrapped with vetKeys to your principal): Silo stores and verifies only ciphertext, and only you
and whom you \`silo share\` it with can decrypt it. An interrupted encrypted upload does not resume (its
key lived in this process only): run it again.`,
    options: {
        public: { type: 'boolean', help: 'make the asset readable by anyone (default private; --public=false, --no-public)' },
        encrypt: { type: 'boolean', help: 'encrypt end to end before sending: only you and whom you share it with can read it' },
        name: { type: 'string', value: '<name>', help: "name to record (default: the file's name); one file only" },
        'content-type': { type: 'string', value: '<type>', help: 'MIME type to record (default: guessed from the name)' },
        'chunk-size': { type: 'string', value: '<bytes>', help: `bytes per chunk: a multiple of 64 up to ${DEFAULT_CHUNK_SIZE} (the default), at least the index's min_chunk_size (64 KiB unless set) for a file of more than one chunk` },
        concurrency: { type: 'string', value: '<n>', help: 'chunks in flight at once, 1 to 64 (default 4; 1 on the embedded network)' }
    },
    check(invocation) {
        const files = invocation.positionals;
        if (files.length === 0) throw new UsageError('upload needs at least one file (or - for stdin)');
        if (files.filter((f) => f === '-').length > 1) throw new UsageError('stdin (-) can be uploaded only once per run');
        for (const file of files) {
            if (file === '-') continue;
            if (!existsSync(file)) throw new UsageError(`${file} does not exist`, false);
            if (!statSync(file).isFile()) throw new UsageError(`${file} is not a file`, false);
        }
        const name = stringOption(invocation, 'name');
        if (name !== undefined && files.length > 1) throw new UsageError('--name names one file, but several were given');
        if (name !== undefined && (name.length === 0 || new TextEncoder().encode(name).length > MAX_NAME_BYTES)) {
            throw new UsageError(`--name must be 1 to ${MAX_NAME_BYTES} bytes of UTF-8`);
        }
        const type = stringOption(invocation, 'content-type');
        if (type !== undefined && (type.length === 0 || new TextEncoder().encode(type).length > MAX_NAME_BYTES)) {
            throw new UsageError(`--content-type must be 1 to ${MAX_NAME_BYTES} bytes`);
        }
        chunkSize(stringOption(invocation, 'chunk-size'));
        wholeNumber('concurrency', stringOption(invocation, 'concurrency'), 1, 64);
    },
    async run(invocation) {
        const { output } = invocation;
        const { client, stateDir, embedded } = await invocation.connect();
        const pending = new PendingUploads(stateDir);
        invocation.interruptNote = 'interrupted; run the same command again to resume the upload';
        // The embedded replica runs one message at a time, so parallel chunks gain nothing there and only
        // hold more buffers; networks hide their latency with the client's default.
        const concurrency = wholeNumber('concurrency', stringOption(invocation, 'concurrency'), 1, 64) ?? (embedded ? 1 : undefined);
        const size = chunkSize(stringOption(invocation, 'chunk-size')) ?? DEFAULT_CHUNK_SIZE;
        if (size < DEFAULT_CHUNK_SIZE) {
            // The index's minimum, checked for every file before any is read (stdin's size is unknown: held to it).
            const minChunkSize = (await client.config()).min_chunk_size;
            for (const file of invocation.positionals) {
                const problem = chunkSizeProblem(size, { size: file === '-' ? undefined : statSync(file).size, minChunkSize });
                if (problem !== null) throw new UsageError(`--${problem.replace(/^chunk size/, 'chunk-size')} (${file === '-' ? 'stdin' : file})`, false);
            }
        }
        // Test hooks: die like `kill -9`, or interrupt (Ctrl-C), after N chunks sent; or interrupt when a phase starts.
        const killAfter = Number(process.env.SILO_KILL_AFTER_CHUNKS ?? 0);
        const interruptAfter = Number(process.env.SILO_INTERRUPT_AFTER_CHUNKS ?? 0);
        const interruptAt = process.env.SILO_INTERRUPT_AT_PHASE;
        for (const file of invocation.positionals) {
            const stdin = file === '-';
            const name = stringOption(invocation, 'name') ?? (stdin ? 'stdin' : basename(file));
            const wanted: Wanted = {
                name,
                contentType: contentTypeFor({ explicit: stringOption(invocation, 'content-type'), name }),
                visibility: invocation.options.public === true ? 'public' : 'private',
                chunkSize: size
            };
            const encrypt = invocation.options.encrypt === true;
            // An encrypted upload's data key is never saved, so its session cannot be resumed: none is recorded.
            const key = stdin || encrypt ? undefined : PendingUploads.key(file, client.indexId);
            const bar = output.progress(name);
            let sent = 0;
            let phase = '';
            let resuming = false;
            const options: UploadOptions = {
                name: wanted.name,
                contentType: wanted.contentType,
                visibility: wanted.visibility,
                chunkSize: wanted.chunkSize,
                encrypt,
                concurrency,
                onProgress: (p: Progress) => {
                    if (resuming && p.phase === 'sending') {
                        resuming = false;
                        output.note(`the bucket holds ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}; sending the rest`);
                    }
                    bar.update(p);
                    if (p.phase !== phase) {
                        phase = p.phase;
                        if (interruptAt === phase) {
                            output.note(`test hook: interrupting at ${Date.now()} (${phase})`);
                            process.kill(process.pid, 'SIGINT');
                        }
                    }
                    if (p.phase === 'sending' && p.chunkIndex !== undefined) {
                        sent += 1;
                        if (killAfter > 0 && sent >= killAfter) process.kill(process.pid, 'SIGKILL');
                        if (interruptAfter > 0 && sent === interruptAfter) process.kill(process.pid, 'SIGINT');
                    }
                },
                onSession: (session: bigint) => {
                    if (key === undefined) return;
                    // Checkpoint first: a recorded session must exist in the saved state, or a later upload
                    // could be given the same id and be taken for this one.
                    embedded?.save();
                    pending.set(key, session);
                }
            };
            let asset: Asset | undefined;
            try {
                const previous = key === undefined ? undefined : pending.get(key);
                const outcome = previous === undefined ? null : await previousOutcome(client, previous, wanted, file, (m) => output.note(m));
                if (outcome !== null && 'committed' in outcome) {
                    asset = outcome.committed;
                    output.note(`${file} was already committed as asset ${asset.id}`);
                } else if (outcome !== null) {
                    output.note(`resuming upload session ${outcome.resume.session_id} of ${file}`);
                    resuming = true;
                    asset = await client.resume(outcome.resume.session_id, file, options);
                } else {
                    asset = await client.upload(stdin ? process.stdin : file, options);
                }
            } finally {
                bar.done();
            }
            if (key !== undefined) pending.delete(key);
            if (process.env.SILO_REPORT_CHUNKS === '1') output.note(`test hook: sent ${sent} chunks`);
            const done = asset;
            if (output.json) output.line(JSON.stringify(assetJson(done)));
            else output.line(`${done.id}\t${output.name(done.name)}\tsha256:${toHex(done.sha256)}`);
        }
    }
};
