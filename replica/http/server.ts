/**
 * One `node:http` server on one port, as `silo start` serves the replica. The Host decides
 * ({@link siteOf}): `<id>.localhost` and `<id>.raw.localhost` reach only that canister's `http_request`
 * (through the gateway); `localhost` and IP addresses reach only the web app's own files (a static
 * directory) and the IC HTTP interface under `/api/`; any other name is refused. So nothing a canister
 * produces is ever served in the web app's origin.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Gateway, siteOf, type CanisterCaller } from './gateway';
import { APP_HEADERS, serveStatic, type StaticOptions } from './static';

/** A handler of the IC HTTP interface (`/api/v2/status`, `/api/v3/canister/<id>/call`, ...). */
export type ApiHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface SiloServerOptions {
    /** How the gateway calls canisters. */
    caller: CanisterCaller;
    /** The network's root key (DER), for the gateway's response verification; null when there is none. */
    rootKey: () => Uint8Array | null;
    /** The IC HTTP interface; without it `/api/` answers 501. */
    api?: ApiHandler;
    /** What `/` serves. */
    static?: StaticOptions;
    /** Runs after every request has been answered (e.g. to checkpoint the replica). */
    afterRequest?: () => void;
}

export function createSiloServer(options: SiloServerOptions): Server {
    const gateway = new Gateway({ caller: options.caller, rootKey: options.rootKey });
    const server = createServer((req, res) => {
        route(req, res)
            .catch((error) => {
                if (!res.headersSent) {
                    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
                    res.end(`Internal error: ${error instanceof Error ? error.message : String(error)}\n`);
                } else res.destroy();
            })
            .finally(() => options.afterRequest?.());
    });

    async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const site = siteOf(req.headers.host);
        if (site.kind === 'refused') {
            // 421 Misdirected Request: the name does not belong to this server (e.g. a DNS-rebinding page).
            res.writeHead(421, { ...APP_HEADERS, 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
            res.end(`Misdirected request: ${site.reason}\n`);
            return;
        }
        // The IC HTTP interface answers on every host, as ic-gateway's domains do; its answers carry no script (see interface.ts).
        if (url.pathname.startsWith('/api/')) {
            if (options.api === undefined) {
                res.writeHead(501, { ...APP_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
                res.end('This server has no IC HTTP interface\n');
                return;
            }
            await options.api(req, res, url);
            return;
        }
        if (site.kind === 'canister') {
            await gateway.handle(req, res, site.target);
            return;
        }
        serveStatic(req, res, url, options.static ?? {});
    }

    return server;
}

/** Starts listening; resolves to the server's URL (`http://<host>:<port>`). */
export function listen(server: Server, host: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
        const failed = (error: Error) => reject(error);
        server.once('error', failed);
        server.listen(port, host, () => {
            server.off('error', failed);
            const address = server.address() as AddressInfo;
            const name = address.family === 'IPv6' ? `[${address.address}]` : address.address;
            resolve(`http://${name}:${address.port}`);
        });
    });
}

/** Stops accepting connections and closes idle ones; resolves when the server is closed. */
export function close(server: Server): Promise<void> {
    return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
    });
}
