/**
 * Silo's own canisters over the IC HTTP interface: the client library on `AgentTransport` (the real
 * `@dfinity/agent`) uploads to and downloads from the index and a bucket behind a local server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { SiloClient } from '../../client';
import { AgentTransport } from '../../client/transport';
import { PocketIc } from '../../replica';
import { createIcApi } from '../../replica/http';
import type { TestPic } from '../helpers/pic';
import { bytes, deploySilo, identity, type Silo } from '../helpers/silo';

let pic: PocketIc;
let silo: Silo;
let server: Server;
let host: string;

beforeAll(async () => {
    pic = await PocketIc.create();
    await pic.setTime(Date.now());
    silo = await deploySilo(Object.assign(pic, { kind: 'replica' as const }) as unknown as TestPic);
    const api = createIcApi(pic.replica);
    server = createServer(async (req, res) => {
        if (!(await api(req, res))) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
});

it('uploads and downloads a file through @dfinity/agent', async () => {
    const transport = await AgentTransport.create({ host, identity: identity('alice'), fetchRootKey: true });
    const client = new SiloClient({ transport, indexId: silo.indexId });
    const data = bytes(300_000, 11);
    const asset = await client.upload(data, { name: 'over-http.bin', chunkSize: 128 * 1024 });
    expect(asset.size).toBe(BigInt(data.length));
    expect(await client.download(asset.id)).toEqual(data);
});
