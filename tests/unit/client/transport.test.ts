/**
 * AgentTransport addresses management canister calls as the IC's HTTP interface requires: to the
 * effective canister id, the canister the call is about.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { idlFactory as managementIdlFactory } from '@dfinity/ic-management/dist/candid/ic-management.idl.js';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { AgentTransport } from '../../../client/transport';
import { indexIdlFactory } from '../../../shared/idl';

let server: Server;
let host: string;
const paths: string[] = [];

beforeAll(async () => {
    server = createServer((req, res) => {
        paths.push(req.url ?? '');
        req.resume();
        req.on('end', () => {
            res.statusCode = 400;
            res.end('not a replica');
        });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('AgentTransport', () => {
    const target = Principal.fromText('lqy7q-dh777-77777-aaaaq-cai');

    it('sends a management call to the effective canister id named in its argument', async () => {
        const transport = await AgentTransport.create({ host });
        const management = transport.actor<Record<string, (...a: unknown[]) => Promise<unknown>>>(managementIdlFactory, Principal.managementCanister());
        paths.length = 0;
        await expect(management.canister_status!({ canister_id: target })).rejects.toThrow();
        expect(paths.some((p) => p.includes(`/canister/${target.toText()}/`))).toBe(true);
        expect(paths.some((p) => p.includes('/canister/aaaaa-aa/'))).toBe(false);
    });

    it('sends other calls to the canister itself', async () => {
        const transport = await AgentTransport.create({ host });
        const index = transport.actor<Record<string, (...a: unknown[]) => Promise<unknown>>>(indexIdlFactory, target);
        paths.length = 0;
        // The agent warns on the console (with a stack) when this fake replica refuses its read_state: expected here.
        const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
        const group = vi.spyOn(console, 'group').mockImplementation(() => {});
        try {
            await expect(index.stats!()).rejects.toThrow();
        } finally {
            warn.mockRestore();
            group.mockRestore();
        }
        expect(paths.every((p) => p.includes(`/canister/${target.toText()}/`))).toBe(true);
    });
});
