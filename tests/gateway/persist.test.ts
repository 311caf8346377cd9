/**
 * Persistence of `silo start` never depends on the canisters (issue 18): with a canister holding a call
 * context open forever (tests/helpers/spin.ts), the server still checkpoints every few seconds, a
 * SIGKILL loses at most that, SIGINT and SIGTERM exit within 5 s after a last checkpoint, and a save
 * that fails is reported once. Everything goes through the real server and `@dfinity/agent`.
 */
import { readFileSync, rmSync, writeFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Actor, HttpAgent } from '@dfinity/agent';
import type { _SERVICE as ManagementService } from '@dfinity/ic-management/dist/candid/ic-management';
import { idlFactory as managementIdlFactory } from '@dfinity/ic-management/dist/candid/ic-management.idl.js';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';
import { describe, expect, it, vi } from 'vitest';

import { spawnSiloStart, type SpawnedServer } from '../helpers/server';
import { decodeCounts, spinWasm } from '../helpers/spin';

vi.setConfig({ testTimeout: 600_000 });

const dir = mkdtempSync(join(tmpdir(), 'silo-persist-start-'));
const state = join(dir, 'state');
const identity = Ed25519KeyIdentity.generate(new Uint8Array(32).fill(7));

async function agentFor(server: SpawnedServer): Promise<HttpAgent> {
    return HttpAgent.create({ host: server.url, identity, shouldFetchRootKey: true });
}

async function counts(agent: HttpAgent, id: Principal): Promise<{ ticks: number; bumps: number; fired: number }> {
    const answer = await agent.query(id, { methodName: 'counts', arg: new Uint8Array() });
    if (answer.status !== 'replied') throw new Error(`counts was rejected: ${answer.reject_message}`);
    return decodeCounts(new Uint8Array(answer.reply.arg));
}

/** Polls until `check` holds (the server runs rounds on its own). */
async function until<T>(what: string, get: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await get();
        if (check(value)) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** An update to `bump`, done once the server answers it (the count is read back to be sure). */
async function bump(agent: HttpAgent, id: Principal, expected: number): Promise<void> {
    await agent.call(id, { methodName: 'bump', arg: new Uint8Array(), effectiveCanisterId: id });
    await until('the bump', () => counts(agent, id), (c) => c.bumps === expected);
}

const savedAt = (): string | null => JSON.parse(readFileSync(join(state, 'server.json'), 'utf8')).savedAt;

/** Sends `signal` and resolves to the exit code and how long the exit took. */
async function stopWith(server: SpawnedServer, signal: NodeJS.Signals): Promise<{ code: number | null; ms: number }> {
    const exited = new Promise<number | null>((done) => server.child.once('exit', (code) => done(code)));
    const start = Date.now();
    server.child.kill(signal);
    const code = await exited;
    return { code, ms: Date.now() - start };
}

describe('silo start persistence with a call context open forever', () => {
    let spin: Principal;

    it('checkpoints every few seconds while the call is open, and a SIGKILL loses at most that', async () => {
        const server = await spawnSiloStart(state, { SILO_CHECKPOINT_MS: '500' });
        const agent = await agentFor(server);
        const management = Actor.createActor<ManagementService>(managementIdlFactory, {
            agent,
            canisterId: Principal.managementCanister(),
            callTransform: (_method, args) => ({ effectiveCanisterId: (args[0] as { canister_id?: Principal })?.canister_id ?? Principal.managementCanister() })
        });
        const { canister_id } = await management.provisional_create_canister_with_cycles({ amount: [10_000_000_000_000n], settings: [], specified_id: [], sender_canister_version: [] });
        spin = canister_id;
        await management.install_code({ mode: { install: null }, canister_id: spin, wasm_module: await spinWasm(), arg: new Uint8Array(), sender_canister_version: [] });
        // Submitted, never answered: the call context stays open for as long as the canister lives.
        await agent.call(spin, { methodName: 'spin', arg: spin.toUint8Array(), effectiveCanisterId: spin, callSync: false });
        await until('the loop', () => counts(agent, spin), (c) => c.ticks > 3);

        await bump(agent, spin, 1);
        const afterBump = new Date().toISOString();
        // Two later checkpoints, taken with the loop's messages in flight.
        const first = await until('a checkpoint after the bump', async () => savedAt(), (at) => at !== null && at > afterBump);
        await until('another checkpoint', async () => savedAt(), (at) => at !== null && at > first!);
        const before = await counts(agent, spin);
        await server.kill();

        const restarted = await spawnSiloStart(state, { SILO_CHECKPOINT_MS: '60000' });
        const again = await agentFor(restarted);
        const restored = await counts(again, spin);
        expect(restored.bumps).toBe(1);
        // The loop was saved mid-flight and goes on after the restart.
        expect(restored.ticks).toBeGreaterThan(0);
        await until('the loop to go on', () => counts(again, spin), (c) => c.ticks > Math.max(restored.ticks, before.ticks - 1000));
        const { code } = await stopWith(restarted, 'SIGTERM');
        expect(code, restarted.stderr()).toBe(0);
    });

    for (const [signal, n] of [['SIGINT', 2], ['SIGTERM', 3]] as const) {
        it(`${signal} exits within 5 s with a last checkpoint: the update just before it survives`, async () => {
            // A long interval: only the last checkpoint can have saved the bump.
            const server = await spawnSiloStart(state, { SILO_CHECKPOINT_MS: '600000' });
            const agent = await agentFor(server);
            await until('the loop', () => counts(agent, spin), (c) => c.ticks > 0);
            // Calls of this server's own that will never complete: one submitted, one a client waits on.
            await agent.call(spin, { methodName: 'spin', arg: spin.toUint8Array(), effectiveCanisterId: spin, callSync: false });
            await bump(agent, spin, n);
            const waiting = agent.call(spin, { methodName: 'spin', arg: spin.toUint8Array(), effectiveCanisterId: spin }).catch(() => undefined);
            await new Promise((r) => setTimeout(r, 300));
            const { code, ms } = await stopWith(server, signal);
            await waiting;
            expect(code, server.stderr()).toBe(0);
            expect(ms).toBeLessThan(5000);
            expect(server.stderr()).toMatch(/stopped; saved .* at \d{4}-\d\d-\d\dT/);

            const check = await spawnSiloStart(state, { SILO_CHECKPOINT_MS: '600000' });
            expect((await counts(await agentFor(check), spin)).bumps).toBe(n);
            expect((await stopWith(check, 'SIGTERM')).code).toBe(0);
        });
    }

    it('reports a failing checkpoint once, keeps serving, and says when saving works again', async () => {
        const server = await spawnSiloStart(state, { SILO_CHECKPOINT_MS: '200' });
        const agent = await agentFor(server);
        // The loop changes the messages every round, so every checkpoint writes a messages file; with a
        // plain file where their directory belongs, each one fails (chmod would not stop root).
        rmSync(join(state, 'messages'), { recursive: true, force: true });
        writeFileSync(join(state, 'messages'), 'in the way');
        await bump(agent, spin, 4);
        // Many intervals, many failed attempts: one line.
        await new Promise((r) => setTimeout(r, 2500));
        const failures = server.stderr().match(/could not save the state in/g) ?? [];
        expect(failures, server.stderr()).toHaveLength(1);
        expect(server.stderr()).toMatch(/^silo start: could not save the state in .*state: .*messages.* \(last saved at .*\); retrying every 0\.2 s$/m);
        expect((await counts(agent, spin)).bumps).toBe(4);

        rmSync(join(state, 'messages'));
        mkdirSync(join(state, 'messages'));
        await until('saving again', async () => server.stderr(), (text) => /saved the state in .* again at/.test(text));
        const { code } = await stopWith(server, 'SIGTERM');
        expect(code, server.stderr()).toBe(0);
        expect(server.stderr().match(/could not save/g)).toHaveLength(1);
    });
});
