/**
 * `silo start`: the embedded replica of a state directory as a local IC network on one HTTP port — the
 * IC HTTP interface that `@dfinity/agent` talks to, the HTTP gateway browsers load canisters' pages and
 * files through, and the web app's static directory.
 *
 * While it runs it holds the state directory and records its URL there (`server.json`), so every other
 * `silo` command given that directory talks to it over HTTP instead of refusing with "state in use".
 * It checkpoints periodically whatever the canisters are doing (a SIGKILL loses at most the last
 * interval, and never corrupts the state), records when in `server.json` (`savedAt`), and on
 * SIGINT/SIGTERM closes its connections, takes a last checkpoint and exits, within a few seconds.
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';

import type { Principal } from '@dfinity/principal';

import { createIcApi, ReplicaKeys } from '../replica/http';
import { close, createSiloServer, listen, type ApiHandler } from '../replica/http/server';
import { EmbeddedSilo } from './embedded';
import { SiloError } from './errors';

/** dfx's port for a local replica, so `--network local` tools find `silo start` where they look. */
export const DEFAULT_PORT = 4943;
/** How often the server runs due rounds (timers, queued messages) and considers a checkpoint. */
const PULSE_MS = 200;
/** How long a stopping server lets requests in progress finish before it closes their connections. */
const DRAIN_MS = 300;

const root = resolve(import.meta.dirname, '..');

export interface StartOptions {
    /** The state directory (created and deployed on first use). */
    stateDir: string;
    /** Address to listen on (default 127.0.0.1). */
    host?: string;
    /** Port (default 4943; 0 for any free port). */
    port?: number;
    /** The static directory served at `/` (default: the web app's build, `web/dist`, when present). */
    staticDir?: string;
    /** Progress notes (first deployment). */
    onStep?: (message: string) => void;
    /** Errors of the background work (rounds), which must not stop the server. */
    onError?: (error: unknown) => void;
    /** Hears of a failed checkpoint (once per run of failures) and of the first success after; default: stderr. */
    report?: (message: string) => void;
}

export interface StartedSilo {
    /** Where the server listens, e.g. `http://127.0.0.1:4943`. */
    readonly url: string;
    readonly indexId: Principal;
    readonly silo: EmbeddedSilo;
    readonly server: Server;
    /**
     * Stops serving (requests in progress get 300 ms, then their connections are closed), takes a last
     * checkpoint and releases the state directory; rejects with a `CheckpointFailedError`, already
     * reported, when that checkpoint fails.
     */
    stop(): Promise<void>;
}

/** The port is taken, or the address cannot be bound. */
export class ListenError extends SiloError {
    override name = 'ListenError';
}

/** Opens the state directory and serves it; resolves once the server listens. */
export async function startSilo(options: StartOptions): Promise<StartedSilo> {
    const stateDir = resolve(options.stateDir);
    const silo = await EmbeddedSilo.open(stateDir, { onStep: options.onStep, report: options.report ?? ((m) => process.stderr.write(`silo start: ${m}\n`)) });
    let server: Server | undefined;
    try {
        const keys = ReplicaKeys.load(stateDir);
        // The IC HTTP interface; it also certifies the replica's state, so queries get data certificates.
        const ic = createIcApi(silo.pic.replica, { keys, onError: (error) => report(error, options.onError) });
        const api: ApiHandler = async (req, res) => {
            if (await ic(req, res)) return;
            res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
            res.end(`No such endpoint: ${req.url}\n`);
        };
        const staticDir = options.staticDir ?? join(root, 'web', 'dist');
        server = createSiloServer({
            caller: silo.pic,
            rootKey: () => keys.rootKey,
            api,
            static: {
                dir: existsSync(staticDir) ? staticDir : undefined,
                fallbackPage: () => welcomePage(silo.indexId.toText()),
                documents: { [SILO_JSON_PATH]: () => ({ body: JSON.stringify(siloJson(silo)), type: 'application/json' }) }
            },
            afterRequest: () => pulse(silo, options.onError)
        });
        const host = options.host ?? '127.0.0.1';
        const port = options.port ?? DEFAULT_PORT;
        let url: string;
        try {
            url = await listen(server, host, port);
        } catch (error) {
            const code = (error as NodeJS.ErrnoException).code;
            if (code === 'EADDRINUSE') throw new ListenError(`port ${port} on ${host} is in use (a running \`silo start\` or \`dfx start\`?): pick another with --port`);
            throw new ListenError(`cannot listen on ${host}:${port}: ${(error as Error).message}`);
        }
        silo.recordServer(url);
        const timer = setInterval(() => pulse(silo, options.onError), PULSE_MS);
        const running = server;
        let stopped: Promise<void> | undefined;
        return {
            url,
            indexId: silo.indexId,
            silo,
            server: running,
            stop: () =>
                (stopped ??= (async () => {
                    clearInterval(timer);
                    // Keep-alive and long-polling clients must not hold the server open.
                    const drained = setTimeout(() => running.closeAllConnections(), DRAIN_MS);
                    await close(running);
                    clearTimeout(drained);
                    silo.close();
                })())
        };
    } catch (error) {
        if (server?.listening) await close(server);
        silo.close();
        throw error;
    }
}

/** Where `silo start` tells the web app (same origin) which index it serves, and who the CLI calls as. */
export const SILO_JSON_PATH = '/silo.json';

/** The document at {@link SILO_JSON_PATH}. */
export interface SiloJson {
    /** The index canister of the served state directory. */
    index: string;
    /** The principal `silo` commands on this state directory call as (its identity.pem), the owner of what they upload. */
    cli_principal: string;
}

function siloJson(silo: EmbeddedSilo): SiloJson {
    return { index: silo.indexId.toText(), cli_principal: silo.defaultIdentity.getPrincipal().toText() };
}

function pulse(silo: EmbeddedSilo, onError?: (error: unknown) => void): void {
    try {
        silo.pulse();
    } catch (error) {
        report(error, onError);
    }
}

/** A background error: to `onError`, else one line on stderr. */
function report(error: unknown, onError?: (error: unknown) => void): void {
    if (onError !== undefined) return onError(error);
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`silo start: ${message.split('\n')[0]}\n`);
}

function welcomePage(index: string): string {
    return `<!doctype html>
<meta charset="utf-8">
<title>Silo local network</title>
<h1>Silo local network</h1>
<p>Index canister: <code>${index}</code></p>
<p>The IC HTTP interface is at <code>/api/</code>; canisters' HTTP pages at <code>http://&lt;canister-id&gt;.localhost:PORT/</code>
(<code>&lt;canister-id&gt;.raw.localhost</code> skips response verification), never on this host.</p>
`;
}

/**
 * Runs `silo start` until SIGINT or SIGTERM, then takes a last checkpoint and resolves to when it was
 * saved; rejects with a `CheckpointFailedError` (already reported) when that checkpoint fails. `ready`
 * is told where the server listens once it does.
 */
export async function runStart(options: StartOptions, ready: (started: StartedSilo) => void): Promise<Date | null> {
    const started = await startSilo(options);
    return new Promise<Date | null>((resolveStop, rejectStop) => {
        const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            started.stop().then(() => resolveStop(started.silo.lastSavedAt), rejectStop);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        ready(started);
    });
}
