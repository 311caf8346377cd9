/**
 * Gives a spec a PocketIC-like instance: the in-process replica by default, or a real PocketIC server
 * when POCKET_IC_BIN points at its binary (the same specs then run against the reference implementation).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import type { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import { PocketIc } from '../../replica';
import type { Actor, CanisterLogRecord, DeferredActor } from '../../replica';

const root = resolve(import.meta.dirname, '../..');

/** The operations the specs use; both the replica and an adapter over `@dfinity/pic` provide them. */
export interface TestPic {
    readonly kind: 'replica' | 'pocket-ic';
    /** The in-process replica, for specs that inspect its internals (absent on PocketIC). */
    readonly replica?: PocketIc['replica'];
    setupCanister<T>(o: { idlFactory: IDL.InterfaceFactory; wasm: Uint8Array | string; arg?: Uint8Array; sender?: Principal; controllers?: Principal[]; cycles?: bigint }): Promise<{ actor: Actor<T>; canisterId: Principal }>;
    createCanister(o?: { sender?: Principal; controllers?: Principal[]; cycles?: bigint }): Promise<Principal>;
    installCode(o: { canisterId: Principal; wasm: Uint8Array | string; arg?: Uint8Array; sender?: Principal }): Promise<void>;
    reinstallCode(o: { canisterId: Principal; wasm: Uint8Array | string; arg?: Uint8Array; sender?: Principal }): Promise<void>;
    upgradeCanister(o: { canisterId: Principal; wasm: Uint8Array | string; arg?: Uint8Array; sender?: Principal }): Promise<void>;
    createActor<T>(idl: IDL.InterfaceFactory, canisterId: Principal): Actor<T>;
    createDeferredActor<T>(idl: IDL.InterfaceFactory, canisterId: Principal): DeferredActor<T>;
    updateCall(o: { canisterId: Principal; method: string; arg?: Uint8Array; sender?: Principal }): Promise<Uint8Array>;
    queryCall(o: { canisterId: Principal; method: string; arg?: Uint8Array; sender?: Principal }): Promise<Uint8Array>;
    tick(times?: number): Promise<void>;
    advanceTime(ms: number): Promise<void>;
    setTime(ms: number | Date): Promise<void>;
    getTime(): Promise<number>;
    addCycles(canisterId: Principal, amount: bigint): Promise<bigint>;
    getCyclesBalance(canisterId: Principal): Promise<bigint>;
    stopCanister(o: { canisterId: Principal; sender?: Principal }): Promise<void>;
    startCanister(o: { canisterId: Principal; sender?: Principal }): Promise<void>;
    updateCanisterSettings(o: { canisterId: Principal; sender?: Principal; controllers?: Principal[] }): Promise<void>;
    getControllers(canisterId: Principal): Promise<Principal[]>;
    fetchCanisterLogs(o: { canisterId: Principal; sender?: Principal }): Promise<CanisterLogRecord[]>;
    tearDown(): Promise<void>;
}

let server: { process: ChildProcess; url: string } | undefined;

async function pocketIcUrl(binary: string): Promise<string> {
    if (server) return server.url;
    const portFile = join(mkdtempSync(join(tmpdir(), 'silo-pic-')), 'port');
    const child = spawn(binary, ['--port-file', portFile], { stdio: 'ignore' });
    child.unref();
    const started = Date.now();
    while (Date.now() - started < 30_000) {
        const port = existsSync(portFile) ? readFileSync(portFile, 'utf8').trim() : '';
        if (/^\d+$/.test(port)) {
            server = { process: child, url: `http://127.0.0.1:${port}` };
            process.once('exit', () => child.kill());
            return server.url;
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    child.kill();
    throw new Error(`PocketIC at ${binary} did not write its port within 30 s`);
}

export async function createPic(): Promise<TestPic> {
    const binary = process.env.POCKET_IC_BIN;
    if (!binary) {
        const pic = await PocketIc.create();
        return Object.assign(pic, { kind: 'replica' as const }) as unknown as TestPic;
    }
    const { PocketIc: RealPocketIc } = await import('@dfinity/pic');
    const real: any = await RealPocketIc.create(await pocketIcUrl(binary));
    // PicJS 0.16 reports cycles as numbers and has no fetchCanisterLogs; adapt those two.
    return Object.assign(Object.create(real), {
        kind: 'pocket-ic' as const,
        getCyclesBalance: async (id: Principal) => BigInt(await real.getCyclesBalance(id)),
        addCycles: async (id: Principal, amount: bigint) => BigInt(await real.addCycles(id, Number(amount))),
        fetchCanisterLogs: async () => {
            throw new Error('fetchCanisterLogs needs PicJS > 0.23; not available with @dfinity/pic 0.16');
        }
    }) as TestPic;
}

/** Built Wasm modules (gzipped: what dfx deploys, and small enough for one install_code message). */
export function fixtureWasm(name: string): string {
    return join(root, 'tests/fixtures/.azle', name, `${name}.wasm.gz`);
}

export function canisterWasm(name: 'index' | 'bucket' | 'verifier'): string {
    return join(root, '.azle', name, `${name}.wasm.gz`);
}
