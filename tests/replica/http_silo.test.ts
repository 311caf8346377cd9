/**
 * Silo's own canisters over the IC HTTP interface: the client library on `AgentTransport` (the real
 * `@dfinity/agent`) uploads to and downloads from the index and a bucket behind a local server.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';

import { SiloClient } from '../../client';
import { AgentTransport } from '../../client/transport';
import { PocketIc } from '../../replica';
import { serveIcApi } from '../helpers/ic_api';
import type { TestPic } from '../helpers/pic';
import { bytes, deploySilo, identity, type Silo } from '../helpers/silo';

let pic: PocketIc;
let silo: Silo;
let close: () => Promise<void>;
let host: string;

beforeAll(async () => {
    pic = await PocketIc.create();
    await pic.setTime(Date.now());
    silo = await deploySilo(Object.assign(pic, { kind: 'replica' as const }) as unknown as TestPic);
    ({ host, close } = await serveIcApi(pic.replica));
});

afterAll(async () => {
    await close();
});

it('uploads and downloads a file through @dfinity/agent', async () => {
    const transport = await AgentTransport.create({ host, identity: identity('alice'), fetchRootKey: true });
    const client = new SiloClient({ transport, indexId: silo.indexId });
    const data = bytes(300_000, 11);
    const asset = await client.upload(data, { name: 'over-http.bin', chunkSize: 128 * 1024 });
    expect(asset.size).toBe(BigInt(data.length));
    expect(await client.download(asset.id)).toEqual(data);
});
