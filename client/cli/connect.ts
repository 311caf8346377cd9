/** Opening the network a command runs against: the embedded replica in `--state`, or a real one. */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import type { Identity } from '@dfinity/agent';

import { StateCorruptError, StateInUseError } from '../../replica/persistence';
import { EmbeddedSilo, runningServer, type ServerRecord, stateIdentity } from '../embedded';
import { SiloError } from '../errors';
import { loadIdentity } from '../identity';
import { SiloClient } from '../silo';
import { AgentTransport } from '../transport';
import { principal, UsageError } from './args';
import type { Connection } from './command';
import type { Output } from './output';

/** The state directory cannot be used (not a directory, not writable, garbled): exit 3. */
export class StateUnusableError extends Error {
    override name = 'StateUnusableError';
}

/** The embedded network is not served over HTTP (no `silo start` on its state directory), and the command needs it to be. */
export class NoServerError extends SiloError {
    override name = 'NoServerError';
}

/** Nothing answers at a network's URL. */
export class NoReplicaError extends SiloError {
    override name = 'NoReplicaError';
}

export const NETWORKS: Record<string, { host: string; fetchRootKey: boolean }> = {
    local: { host: 'http://127.0.0.1:4943', fetchRootKey: true },
    ic: { host: 'https://icp-api.io', fetchRootKey: false }
};

export type ConnectOptions = Record<string, string | boolean | undefined>;

const str = (options: ConnectOptions, name: string): string | undefined => (typeof options[name] === 'string' ? (options[name] as string) : undefined);

/** `--identity`, read now: a file that is missing or holds no usable key is a usage error. */
export async function identityOption(options: ConnectOptions): Promise<Identity | undefined> {
    const path = str(options, 'identity');
    if (path === undefined) return undefined;
    try {
        return await loadIdentity(path);
    } catch (error) {
        throw new UsageError(`--identity: ${error instanceof Error ? error.message : String(error)}`);
    }
}

/** Where a command's calls go, decided from the options the same way for every command, `deploy` included. */
export interface Target {
    network: 'embedded' | 'local' | 'ic';
    /** The state directory (`--state`, default ./.silo): the embedded network, its identity, the CLI's records. */
    stateDir: string;
    /** The `silo start` serving `stateDir`, if one does (not consulted for `ic`). */
    server: ServerRecord | null;
    /** The network's URL: `--host`, else the running server's, else the network's default (none for embedded without a server). */
    url?: string;
    /** The index: `--index`, else the running server's (local, or embedded through its server). */
    index?: string;
    fetchRootKey: boolean;
}

/**
 * Resolves the network options (before any work): `--network` (default embedded), `--state`, `--host`,
 * `--index`. `--network local` goes to `--host`, else to the `silo start` serving `--state` (any port: its
 * `server.json`), else to dfx's 127.0.0.1:4943; its index is `--index`, else that server's.
 */
export function resolveTarget(options: ConnectOptions): Target {
    const network = str(options, 'network') ?? 'embedded';
    const stateDir = resolve(str(options, 'state') ?? '.silo');
    const host = str(options, 'host');
    if (network !== 'embedded' && NETWORKS[network] === undefined) throw new UsageError(`unknown network '${network}': use embedded, local or ic`);
    // (`silo start`'s --host is the address it listens on, checked by that command.)
    if (network !== 'embedded' && host !== undefined && !URL.canParse(host)) throw new UsageError(`--host '${host}' is not a URL`);
    const given = str(options, 'index');
    if (given !== undefined) principal('index', given);
    if (network === 'embedded') {
        if (given !== undefined) throw new UsageError('--index is for --network local or ic; the embedded network has its own index');
        const server = runningServer(stateDir);
        return { network, stateDir, server, url: server?.url, index: server?.index, fetchRootKey: true };
    }
    const server = network === 'local' ? runningServer(stateDir) : null;
    return {
        network: network as 'local' | 'ic',
        stateDir,
        server,
        url: host ?? server?.url ?? NETWORKS[network].host,
        // A server's own index only when the calls go to that server.
        index: given ?? (host === undefined || host === server?.url ? server?.index : undefined),
        fetchRootKey: NETWORKS[network].fetchRootKey
    };
}

/** Checks the network options (before any work) and returns the network's name; local and ic need an index. */
export function checkNetwork(options: ConnectOptions): string {
    const target = resolveTarget(options);
    if (target.network !== 'embedded' && target.index === undefined) {
        const hint = target.network === 'local' ? ' (or run `silo start` on --state, whose index is used)' : '';
        throw new UsageError(`--network ${target.network} needs --index <canister-id>${hint}`);
    }
    return target.network;
}

/**
 * Who a command calls as. `--identity` when given. Otherwise: on the embedded network (also through its
 * server), the state directory's key; on `--network local`, that key too when the state directory has one
 * (said on stderr); else, for a command that acts on the caller's files (`personal`), a usage error saying
 * what to pass: never the anonymous principal by surprise. Other commands (stats, buckets) may call
 * anonymously.
 */
export async function resolveIdentity(options: ConnectOptions, target: Target, output: Output, personal: boolean): Promise<Identity | undefined> {
    const given = await identityOption(options);
    if (given !== undefined) return given;
    // The embedded network calls as the state directory's key (opening it creates one); so does its server.
    if (target.network === 'embedded') return target.server === null ? undefined : stateIdentity(target.stateDir);
    if (target.network === 'local') {
        const kept = await stateIdentity(target.stateDir);
        if (kept !== undefined) {
            output.note(`calling as ${kept.getPrincipal().toText()}, the identity in ${join(target.stateDir, 'identity.pem')}; pass --identity <pem> to call as another`);
            return kept;
        }
    }
    if (!personal) return undefined;
    const where = target.network === 'local' ? `, or --state a directory holding an identity.pem (${target.stateDir} has none)` : '';
    throw new UsageError(`--network ${target.network} needs --identity <pem> to act as you (e.g. ~/.config/dfx/identity/default/identity.pem)${where}; without it the calls would be anonymous`);
}

/** Opens the embedded replica in `stateDir`, turning whatever makes the directory unusable into a StateUnusableError. */
export async function openEmbedded(stateDir: string, output: Output): Promise<EmbeddedSilo> {
    if (existsSync(stateDir) && !statSync(stateDir).isDirectory()) {
        throw new StateUnusableError(`state directory ${stateDir} is not a directory: pick another with --state`);
    }
    try {
        // Created here without `recursive` when the parent exists: Node's recursive mkdir spins forever
        // where the parent refuses new entries with ENOENT (/proc).
        if (!existsSync(stateDir)) mkdirSync(stateDir, { recursive: !existsSync(dirname(stateDir)) });
        return await EmbeddedSilo.open(stateDir, { onStep: (m) => output.note(m) });
    } catch (error) {
        if (error instanceof StateInUseError || error instanceof StateCorruptError || error instanceof SiloError) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        throw new StateUnusableError(`state directory ${stateDir} is unusable (${reason}): fix its permissions or free space, move it away to start afresh, or pick another with --state`);
    }
}

/** Opens the client for the options' network; `personal`: the command acts on the caller's files (see {@link resolveIdentity}). */
export async function connect(options: ConnectOptions, output: Output, personal = false): Promise<Connection> {
    checkNetwork(options);
    const target = resolveTarget(options);
    const identity = await resolveIdentity(options, target, output, personal);
    const { stateDir } = target;
    if (target.network === 'embedded' && target.server === null) {
        const embedded = await openEmbedded(stateDir, output);
        return { client: new SiloClient({ transport: embedded.transport(identity), indexId: embedded.indexId }), stateDir, embedded };
    }
    // A `silo start` holds the state directory (embedded), or a network was named: go over HTTP.
    const transport = await agentTransport(target.url!, identity, target.fetchRootKey);
    return { client: new SiloClient({ transport, indexId: principal('index', target.index!) }), stateDir, url: target.url };
}

/** An agent for `url`; a replica that does not answer gets a NoReplicaError saying how to start one. */
export async function agentTransport(url: string, identity: Identity | undefined, fetchRootKey: boolean): Promise<AgentTransport> {
    try {
        return await AgentTransport.create({ host: url, identity, fetchRootKey });
    } catch (error) {
        if (isUnreachable(error)) throw noReplica(url);
        throw error;
    }
}

/** What to say when nothing answers at `url`: start a local replica, or check the way to a remote one. */
export function noReplica(url: string): NoReplicaError {
    const local = ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
    return new NoReplicaError(local ? `no replica at ${url}: start one with \`silo start\` or \`dfx start\`` : `cannot reach ${url}: check the network connection and --host`);
}

/** A fetch that failed to connect (refused, unknown host, reset), as Node's fetch or the agent reports it. */
export function isUnreachable(error: unknown): boolean {
    for (let e: unknown = error, depth = 0; e instanceof Error && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== undefined && ['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'EHOSTUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT'].includes(code)) return true;
        if (/fetch failed|ECONNREFUSED/.test(e.message)) return true;
    }
    return false;
}
