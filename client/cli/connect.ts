/** Opening the network a command runs against: the embedded replica in `--state`, or a real one. */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import type { Identity } from '@dfinity/agent';

import { StateCorruptError, StateInUseError } from '../../replica/persistence';
import { EmbeddedSilo, runningServer, stateIdentity } from '../embedded';
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

/** Checks the network options (before any work) and returns the network's name. */
export function checkNetwork(options: ConnectOptions): string {
    const network = str(options, 'network') ?? 'embedded';
    if (network === 'embedded') {
        if (str(options, 'index') !== undefined) throw new UsageError('--index is for --network local or ic; the embedded network has its own index');
        return network;
    }
    if (NETWORKS[network] === undefined) throw new UsageError(`unknown network '${network}': use embedded, local or ic`);
    // --network local defaults to the `silo start` serving --state, if one does.
    const index = str(options, 'index') ?? (network === 'local' ? runningServer(resolve(str(options, 'state') ?? '.silo'))?.index : undefined);
    if (index === undefined) throw new UsageError(`--network ${network} needs --index <canister-id>`);
    principal('index', index);
    const host = str(options, 'host');
    if (host !== undefined && !URL.canParse(host)) throw new UsageError(`--host '${host}' is not a URL`);
    return network;
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

/** Opens the client for the options' network. */
export async function connect(options: ConnectOptions, output: Output): Promise<Connection> {
    const network = checkNetwork(options);
    const identity = await identityOption(options);
    const stateDir = resolve(str(options, 'state') ?? '.silo');
    const server = network === 'ic' ? null : runningServer(stateDir);
    if (network === 'embedded' && server !== null) {
        // A `silo start` holds the state directory: go through it, as the same identity.
        const transport = await agentTransport(server.url, identity ?? (await stateIdentity(stateDir)), true);
        return { client: new SiloClient({ transport, indexId: principal('index', server.index) }), stateDir, url: server.url };
    }
    if (network === 'embedded') {
        const embedded = await openEmbedded(stateDir, output);
        return { client: new SiloClient({ transport: embedded.transport(identity), indexId: embedded.indexId }), stateDir, embedded };
    }
    const url = str(options, 'host') ?? server?.url ?? NETWORKS[network].host;
    const transport = await agentTransport(url, identity, NETWORKS[network].fetchRootKey);
    return { client: new SiloClient({ transport, indexId: principal('index', str(options, 'index') ?? server!.index) }), stateDir, url };
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
