/** The IC HTTP interface of an in-process replica, served by a node http server on 127.0.0.1 (a free port). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { createIcApi, type IcApi } from '../../replica/http';

export interface IcApiServer {
    api: IcApi;
    server: Server;
    /** `http://127.0.0.1:<port>`. */
    host: string;
    close(): Promise<void>;
}

/** Serves `createIcApi(replica)`; any other path answers 404. */
export async function serveIcApi(replica: Parameters<typeof createIcApi>[0]): Promise<IcApiServer> {
    const api = createIcApi(replica);
    const server = createServer(async (req, res) => {
        if (!(await api(req, res))) res.writeHead(404).end('not an API path');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
        api,
        server,
        host: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise<void>((resolve) => server.close(() => resolve()))
    };
}
