/** Runs `silo start` in a child process, as a user would, for specs that talk to it over HTTP. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { Principal } from '@dfinity/principal';

import { stateIdentity } from '../../client/embedded';
import { AgentTransport } from '../../client/transport';
import { indexIdlFactory } from '../../shared/idl';
import { emptyConfigUpdate } from '../../shared/types';
import { unwrap } from './result';

export const SILO_BIN = resolve(import.meta.dirname, '../../client/bin/silo.mjs');

export interface SpawnedServer {
    url: string;
    index: string;
    child: ChildProcess;
    /** Everything the server wrote to stderr so far. */
    stderr(): string;
    /** SIGTERM, then waits for the exit; resolves to the exit code. */
    stop(): Promise<number | null>;
    /** SIGKILL, then waits for the exit. */
    kill(): Promise<void>;
}

/** Starts `silo start --state <stateDir> --port 0 --json` and resolves once it printed where it listens. */
export function spawnSiloStart(stateDir: string, env: Record<string, string> = {}): Promise<SpawnedServer> {
    const child = spawn(process.execPath, [SILO_BIN, 'start', '--state', stateDir, '--port', '0', '--json'], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe']
    });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    return new Promise((resolveReady, reject) => {
        const early = (code: number | null, signal: string | null) => reject(new Error(`silo start exited (${code ?? signal}) before it was ready:\n${stderr}`));
        child.once('exit', early);
        child.stdout!.on('data', (d) => {
            stdout += d;
            const line = stdout.split('\n')[0];
            if (!stdout.includes('\n')) return;
            const { url, index } = JSON.parse(line);
            child.off('exit', early);
            resolveReady({
                url,
                index,
                child,
                stderr: () => stderr,
                stop: () => {
                    child.kill('SIGTERM');
                    return exited;
                },
                kill: async () => {
                    child.kill('SIGKILL');
                    await exited;
                }
            });
        });
    });
}

/**
 * A `silo start` on a fresh state directory whose index is configured as the in-process deployment's
 * (tests/helpers/silo.ts): chunks down to 64 bytes. `admin` is the index as the state directory's
 * identity, which deployed it and controls it.
 */
export async function spawnConfiguredSilo(prefix: string): Promise<{ server: SpawnedServer; state: string; indexId: Principal; admin: any }> {
    const state = mkdtempSync(join(tmpdir(), prefix));
    const server = await spawnSiloStart(state);
    const indexId = Principal.fromText(server.index);
    const admin = (await AgentTransport.create({ host: server.url, identity: await stateIdentity(state), fetchRootKey: true })).actor<any>(indexIdlFactory, indexId);
    unwrap(await admin.admin_set_config({ ...emptyConfigUpdate(), min_chunk_size: [64] }));
    return { server, state, indexId, admin };
}
