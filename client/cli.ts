/**
 * The `silo` command: upload, download, list, inspect and delete files, on the embedded replica (the
 * default, kept in `--state`) or on a real network through HttpAgent.
 *
 * Exit codes: 0 success, 1 the operation failed, 2 usage error, 3 the state directory is in use or unusable.
 */
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import type { Identity } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';

import { StateCorruptError, StateInUseError } from '../replica/persistence';
import { toHex } from '../shared/sha256';
import type { Asset } from '../shared/types';
import { builtModule, EmbeddedSilo } from './embedded';
import { deploySilo } from './deploy';
import { SessionExpiredError, SessionNotFoundError, SiloError } from './errors';
import { loadIdentity } from './identity';
import { type Progress, SiloClient } from './silo';
import { AgentTransport } from './transport';

export class UsageError extends Error {
    override name = 'UsageError';
}

const NETWORKS: Record<string, { host: string; fetchRootKey: boolean }> = {
    local: { host: 'http://127.0.0.1:4943', fetchRootKey: true },
    ic: { host: 'https://icp-api.io', fetchRootKey: false }
};

const HELP: Record<string, string> = {
    main: `silo — verified file storage on the Internet Computer

Usage: silo <command> [options]

Commands:
  upload <files...>        upload files (resumes an interrupted upload of the same file)
  download <asset-id>      download and verify an asset (-o <path> to choose where)
  ls                       list your assets (--owner <principal> for someone else's public ones)
  info <asset-id>          show an asset's record
  rm <asset-id>            delete an asset
  buckets                  show the buckets and their use
  stats                    show totals of the deployment
  deploy                   deploy Silo to --network local|ic and print the index id

Options:
  --network <name>         embedded (default: in-process replica kept in --state), local, ic
  --index <canister-id>    the index canister (required for local and ic)
  --identity <pem>         who to call as (embedded default: a key kept in --state)
  --state <dir>            state directory (default ./.silo)
  --host <url>             override the network's URL
  --json                   print machine-readable results
  -h, --help               help; \`silo <command> --help\` for a command

Exit codes: 0 success, 1 failure, 2 usage error, 3 state directory in use or unusable.`,
    upload: `Usage: silo upload <files...> [--public] [--content-type <type>] [--name <name>] [--chunk-size <bytes>] [--concurrency <n>]

Uploads each file and prints its asset id. The content is hashed while read, sent to a bucket in chunks
and committed only when the index has read it all back and found the same SHA-256. An upload that was
interrupted (Ctrl-C, crash) resumes where it stopped when the same file is uploaded again.`,
    download: `Usage: silo download <asset-id> [-o <path>] [--concurrency <n>]

Downloads an asset and verifies its SHA-256 before writing it (to its name in the current directory, or -o).`,
    ls: `Usage: silo ls [--owner <principal>] [--json]

Lists assets: yours, or another owner's public ones.`,
    info: `Usage: silo info <asset-id> [--json]`,
    rm: `Usage: silo rm <asset-id>

Deletes an asset. It disappears from the index at once; its bucket deletes the chunks.`,
    buckets: `Usage: silo buckets [--json]`,
    stats: `Usage: silo stats [--json]`,
    deploy: `Usage: silo deploy --network local|ic [--identity <pem>] [--index-canister <id> --bucket-canister <id> [--verifier-canister <id>]]

Installs the index and a first bucket (built by \`npm run build\`), registers the bucket and gives the index
the bucket module so it can create more. On a local replica the canisters are created with provisional
cycles; on the IC create them first (\`dfx canister create --network ic\`) and pass their ids. A verifier
canister (native SHA-256) is created locally; on the IC pass --verifier-canister, a canister whose controllers
include the index, or buckets verify by hashing in-canister.`
};

interface Parsed {
    command: string | undefined;
    positional: string[];
    flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(['network', 'index', 'identity', 'state', 'host', 'content-type', 'name', 'chunk-size', 'concurrency', 'output', 'owner', 'index-canister', 'bucket-canister', 'verifier-canister']);
const BOOLEAN_FLAGS = new Set(['json', 'help', 'public']);

export function parseArgs(argv: string[]): Parsed {
    const parsed: Parsed = { command: undefined, positional: [], flags: new Map() };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === '-h') parsed.flags.set('help', true);
        else if (arg === '-o') {
            if (i + 1 >= argv.length) throw new UsageError('-o needs a path');
            parsed.flags.set('output', argv[++i]);
        } else if (arg.startsWith('--')) {
            const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
            if (VALUE_FLAGS.has(name)) {
                const value = inline ?? argv[++i];
                if (value === undefined) throw new UsageError(`--${name} needs a value`);
                parsed.flags.set(name, value);
            } else if (BOOLEAN_FLAGS.has(name)) parsed.flags.set(name, true);
            else throw new UsageError(`unknown option --${name}`);
        } else if (parsed.command === undefined) parsed.command = arg;
        else parsed.positional.push(arg);
    }
    return parsed;
}

function flag(parsed: Parsed, name: string): string | undefined {
    const value = parsed.flags.get(name);
    return typeof value === 'string' ? value : undefined;
}

function numberFlag(parsed: Parsed, name: string): number | undefined {
    const value = flag(parsed, name);
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got '${value}'`);
    return Number(value);
}

function assetId(text: string | undefined): bigint {
    if (text === undefined) throw new UsageError('an asset id is required');
    if (!/^\d+$/.test(text)) throw new UsageError(`'${text}' is not an asset id (a whole number)`);
    return BigInt(text);
}

/** What prints the results: JSON on stdout with --json, text otherwise; progress on a terminal only. */
class Output {
    constructor(
        readonly json: boolean,
        private readonly out: NodeJS.WritableStream = process.stdout,
        private readonly err: NodeJS.WriteStream = process.stderr
    ) {}

    result(value: unknown, text: () => string): void {
        this.out.write(this.json ? `${JSON.stringify(value, jsonValue)}\n` : `${text()}\n`);
    }

    /** Notes go to stderr, so stdout stays the result alone (also with --json). */
    note(text: string): void {
        this.err.write(`${text}\n`);
    }

    /** A progress bar with speed and ETA, on a terminal only (quiet when piped). */
    progress(label: string): { update(p: Progress): void; done(): void } {
        if (this.json || !this.err.isTTY) return { update: () => {}, done: () => {} };
        const started = Date.now();
        let last = 0;
        const draw = (p: Progress) => {
            const fraction = p.bytesTotal === 0 ? 1 : p.bytesSent / p.bytesTotal;
            const seconds = (Date.now() - started) / 1000;
            const speed = seconds > 0 ? p.bytesSent / seconds : 0;
            const eta = speed > 0 ? (p.bytesTotal - p.bytesSent) / speed : 0;
            const width = 24;
            const bar = '#'.repeat(Math.round(fraction * width)).padEnd(width, '-');
            this.err.write(`\r${label} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(speed)}/s ETA ${formatSeconds(eta)}   `);
        };
        return {
            update: (p) => {
                if (Date.now() - last < 100 && p.bytesSent < p.bytesTotal) return;
                last = Date.now();
                draw(p);
            },
            done: () => this.err.write('\n')
        };
    }
}

/** JSON for results: bigints as strings, principals as text, bytes as hex. */
function jsonValue(_: string, v: unknown): unknown {
    if (typeof v === 'bigint') return v.toString();
    // Principal.toJSON runs before a replacer sees the value, leaving this shape.
    if (v !== null && typeof v === 'object' && '__principal__' in v) return (v as { __principal__: string }).__principal__;
    if (v instanceof Uint8Array) return toHex(v);
    return v;
}

function formatBytes(n: number): string {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
        n /= 1024;
        i++;
    }
    return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function formatSeconds(s: number): string {
    const total = Math.round(s);
    return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

/** Uploads interrupted mid-way, so the next `silo upload` of the same file resumes them. */
class PendingUploads {
    private readonly path: string;

    constructor(stateDir: string) {
        this.path = join(stateDir, 'uploads.json');
    }

    private read(): Record<string, string> {
        if (!existsSync(this.path)) return {};
        try {
            return JSON.parse(readFileSync(this.path, 'utf8'));
        } catch {
            return {};
        }
    }

    private write(entries: Record<string, string>): void {
        const temporary = `${this.path}.tmp-${process.pid}`;
        writeFileSync(temporary, JSON.stringify(entries, null, 1));
        renameSync(temporary, this.path);
    }

    static key(file: string, index: Principal): string {
        const stat = statSync(file);
        return `${index.toText()}|${resolve(file)}|${stat.size}|${Math.floor(stat.mtimeMs)}`;
    }

    get(key: string): bigint | undefined {
        const value = this.read()[key];
        return value === undefined ? undefined : BigInt(value);
    }

    set(key: string, session: bigint): void {
        this.write({ ...this.read(), [key]: session.toString() });
    }

    delete(key: string): void {
        const entries = this.read();
        delete entries[key];
        this.write(entries);
    }
}

interface Context {
    client: SiloClient;
    stateDir: string;
    embedded?: EmbeddedSilo;
}

async function connect(parsed: Parsed, output: Output): Promise<Context> {
    const network = flag(parsed, 'network') ?? 'embedded';
    const stateDir = resolve(flag(parsed, 'state') ?? '.silo');
    const identityPath = flag(parsed, 'identity');
    const identity: Identity | undefined = identityPath === undefined ? undefined : await loadIdentity(identityPath);
    if (network === 'embedded') {
        if (flag(parsed, 'index') !== undefined) throw new UsageError('--index is for --network local or ic; the embedded network has its own index');
        const embedded = await EmbeddedSilo.open(stateDir, { onStep: (m) => output.note(m) });
        const transport = embedded.transport(identity);
        return { client: new SiloClient({ transport, indexId: embedded.indexId }), stateDir, embedded };
    }
    const known = NETWORKS[network];
    if (known === undefined) throw new UsageError(`unknown network '${network}': use embedded, local or ic`);
    const index = flag(parsed, 'index');
    if (index === undefined) throw new UsageError(`--network ${network} needs --index <canister-id>`);
    let indexId: Principal;
    try {
        indexId = Principal.fromText(index);
    } catch {
        throw new UsageError(`'${index}' is not a canister id`);
    }
    const transport = await AgentTransport.create({ host: flag(parsed, 'host') ?? known.host, identity, fetchRootKey: known.fetchRootKey });
    return { client: new SiloClient({ transport, indexId }), stateDir };
}

const describeAsset = (a: { id: bigint; name: string; size: bigint; visibility: object; bucket: Principal }) =>
    `${String(a.id).padStart(6)}  ${formatBytes(Number(a.size)).padStart(10)}  ${'public' in a.visibility ? 'public ' : 'private'}  ${a.name}`;

/** Checks a command's arguments before anything is started or deployed. */
function checkUsage(parsed: Parsed): void {
    const count = parsed.positional.length;
    switch (parsed.command) {
        case 'upload':
            if (count === 0) throw new UsageError('upload needs at least one file');
            for (const file of parsed.positional) if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`${file} is not a file`);
            numberFlag(parsed, 'chunk-size');
            break;
        case 'download':
        case 'info':
        case 'rm':
            if (count !== 1) throw new UsageError(`${parsed.command} takes one asset id`);
            assetId(parsed.positional[0]);
            break;
        default:
            if (count > 0) throw new UsageError(`${parsed.command} takes no arguments, got '${parsed.positional[0]}'`);
    }
    numberFlag(parsed, 'concurrency');
    const owner = flag(parsed, 'owner');
    if (owner !== undefined) {
        try {
            Principal.fromText(owner);
        } catch {
            throw new UsageError(`'${owner}' is not a principal`);
        }
    }
}

async function run(parsed: Parsed, output: Output, context: Context): Promise<void> {
    const { client } = context;
    // The embedded replica runs each call to completion as it is made, so parallel chunks gain nothing
    // there and only hold more buffers; networks hide their latency with the client's default (4).
    const concurrency = numberFlag(parsed, 'concurrency') ?? (context.embedded ? 1 : undefined);
    switch (parsed.command) {
        case 'upload': {
            const pending = new PendingUploads(context.stateDir);
            for (const file of parsed.positional) {
                const key = PendingUploads.key(file, client.indexId);
                const bar = output.progress(basename(file));
                // Test hook: die like `kill -9` after N chunks, to prove the next run resumes the upload.
                const killAfter = Number(process.env.SILO_KILL_AFTER_CHUNKS ?? 0);
                let chunksDone = 0;
                const options = {
                    name: flag(parsed, 'name') ?? basename(file),
                    contentType: flag(parsed, 'content-type'),
                    visibility: parsed.flags.has('public') ? ('public' as const) : ('private' as const),
                    chunkSize: numberFlag(parsed, 'chunk-size'),
                    concurrency,
                    onProgress: (p: Progress) => {
                        bar.update(p);
                        if (killAfter > 0 && ++chunksDone >= killAfter) process.kill(process.pid, 'SIGKILL');
                    },
                    onSession: (session: bigint) => pending.set(key, session)
                };
                let asset;
                const previous = pending.get(key);
                try {
                    if (previous !== undefined) {
                        output.note(`resuming upload session ${previous} of ${file}`);
                        try {
                            asset = await client.resume(previous, file, options);
                        } catch (error) {
                            if (!(error instanceof SessionNotFoundError || error instanceof SessionExpiredError)) throw error;
                            output.note(`session ${previous} is gone; uploading again`);
                        }
                    }
                    asset ??= await client.upload(file, options);
                } finally {
                    bar.done();
                }
                pending.delete(key);
                output.result(asset, () => `${asset.id}\t${file}\tsha256:${toHex(asset.sha256)}`);
            }
            return;
        }
        case 'download': {
            const id = assetId(parsed.positional[0]);
            const asset = await client.getAsset(id);
            const path = resolve(flag(parsed, 'output') ?? basename(asset.name));
            const bar = output.progress(asset.name);
            try {
                await client.download(id, path, { concurrency, onProgress: bar.update });
            } finally {
                bar.done();
            }
            output.result({ id, path, size: asset.size, sha256: asset.sha256 }, () => `${path}\t${asset.size} bytes\tsha256:${toHex(asset.sha256)} verified`);
            return;
        }
        case 'ls': {
            const owner = flag(parsed, 'owner');
            const assets: Asset[] = [];
            for await (const asset of client.listAssets({ owner: owner === undefined ? undefined : Principal.fromText(owner) })) assets.push(asset);
            output.result(assets, () => (assets.length === 0 ? 'no assets' : assets.map(describeAsset).join('\n')));
            return;
        }
        case 'info': {
            const asset = await client.getAsset(assetId(parsed.positional[0]));
            output.result(asset, () =>
                [
                    `id            ${asset.id}`,
                    `name          ${asset.name}`,
                    `content type  ${asset.content_type}`,
                    `size          ${asset.size} bytes`,
                    `sha256        ${toHex(asset.sha256)}`,
                    `owner         ${asset.owner.toText()}`,
                    `visibility    ${Object.keys(asset.visibility)[0]}`,
                    `bucket        ${asset.bucket.toText()}`,
                    `chunks        ${asset.chunk_count} × ${asset.chunk_size} bytes`,
                    `created       ${new Date(Number(asset.created_at / 1_000_000n)).toISOString()}`
                ].join('\n')
            );
            return;
        }
        case 'rm': {
            const id = assetId(parsed.positional[0]);
            await client.deleteAsset(id);
            output.result({ deleted: id }, () => `deleted ${id}`);
            return;
        }
        case 'buckets': {
            const buckets = await client.buckets();
            output.result(buckets, () =>
                buckets
                    .map((b) => `${b.id.toText()}  ${Object.keys(b.status)[0].padEnd(6)}  used ${formatBytes(Number(b.used_bytes))}, reserved ${formatBytes(Number(b.reserved_bytes))} of ${formatBytes(Number(b.capacity_bytes))}`)
                    .join('\n')
            );
            return;
        }
        case 'stats': {
            const stats = await client.stats();
            output.result(stats, () =>
                [
                    `assets         ${stats.assets}`,
                    `stored         ${formatBytes(Number(stats.stored_bytes))}`,
                    `open sessions  ${stats.open_sessions} (${formatBytes(Number(stats.reserved_bytes))} reserved)`,
                    `buckets        ${stats.buckets}`,
                    `pending tasks  ${stats.pending_bucket_tasks}`,
                    `index cycles   ${stats.cycles}`
                ].join('\n')
            );
            return;
        }
        default:
            throw new UsageError(`unknown command '${parsed.command}'`);
    }
}

async function deploy(parsed: Parsed, output: Output): Promise<void> {
    const network = flag(parsed, 'network');
    if (network !== 'local' && network !== 'ic') throw new UsageError('deploy needs --network local or --network ic (the embedded network deploys itself)');
    const identityPath = flag(parsed, 'identity');
    if (network === 'ic' && identityPath === undefined) throw new UsageError('deploying to the IC needs --identity <pem> (a controller of the canisters)');
    const ids = ['index-canister', 'bucket-canister'].map((name) => flag(parsed, name));
    const verifierId = flag(parsed, 'verifier-canister');
    if (network === 'ic' && ids.some((id) => id === undefined)) throw new UsageError('on the IC, create the canisters first and pass --index-canister and --bucket-canister');
    const transport = await AgentTransport.create({
        host: flag(parsed, 'host') ?? NETWORKS[network].host,
        identity: identityPath === undefined ? undefined : await loadIdentity(identityPath),
        fetchRootKey: NETWORKS[network].fetchRootKey
    });
    const result = await deploySilo(transport, {
        indexWasm: builtModule('index'),
        bucketWasm: builtModule('bucket'),
        indexId: ids[0] === undefined ? undefined : Principal.fromText(ids[0]),
        bucketId: ids[1] === undefined ? undefined : Principal.fromText(ids[1]),
        // On the IC the verifier canister is created beforehand (with the index among its controllers); without one, buckets hash in-canister.
        verifierWasm: network === 'ic' && verifierId === undefined ? undefined : builtModule('verifier'),
        verifierId: verifierId === undefined ? undefined : Principal.fromText(verifierId),
        onStep: (m) => output.note(m)
    });
    const verifierLine = result.verifierId === undefined ? '' : `\nverifier ${result.verifierId.toText()}`;
    output.result(result, () => `index ${result.indexId.toText()}\nbucket ${result.bucketId.toText()}${verifierLine}\nuse: silo --network ${network} --index ${result.indexId.toText()} ...`);
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], output = new Output(argv.includes('--json'))): Promise<number> {
    let context: Context | undefined;
    const interrupted = () => {
        // Keep what was stored so far; the next `silo upload` of the same file resumes it.
        context?.embedded?.close();
        process.exit(130);
    };
    try {
        const parsed = parseArgs(argv);
        if (parsed.command === undefined || parsed.command === 'help') {
            process.stdout.write(`${HELP.main}\n`);
            return parsed.command === undefined && !parsed.flags.has('help') ? 2 : 0;
        }
        if (!(parsed.command in HELP)) throw new UsageError(`unknown command '${parsed.command}'`);
        if (parsed.flags.has('help')) {
            process.stdout.write(`${HELP[parsed.command]}\n`);
            return 0;
        }
        if (parsed.command === 'deploy') {
            await deploy(parsed, output);
            return 0;
        }
        checkUsage(parsed);
        context = await connect(parsed, output);
        process.once('SIGINT', interrupted);
        process.once('SIGTERM', interrupted);
        await run(parsed, output, context);
        return 0;
    } catch (error) {
        if (error instanceof UsageError) {
            process.stderr.write(`silo: ${error.message}\nRun \`silo --help\` for usage.\n`);
            return 2;
        }
        if (error instanceof StateInUseError || error instanceof StateCorruptError) {
            process.stderr.write(`silo: ${error.message}\n`);
            return 3;
        }
        const name = error instanceof SiloError ? error.name : 'Error';
        process.stderr.write(`silo: ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
        return 1;
    } finally {
        process.removeListener('SIGINT', interrupted);
        process.removeListener('SIGTERM', interrupted);
        context?.embedded?.close();
    }
}
