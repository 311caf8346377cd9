/**
 * The verifier canister (canisters/verifier, AssemblyScript) on the replica: digests against node:crypto,
 * chaining states in and out across chunk boundaries, typed errors for malformed arguments (and no trap,
 * so a retry loop cannot form), ingress refused, and its instruction cost per byte under IC metering.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { renderDid } from '../../scripts/candid';
import { verifierMethods } from '../../shared/idl';
import { absorbBlocks, encodeState, initialState } from '../../shared/sha256';
import type { VerifyResult } from '../../shared/types';
import { bytes } from '../helpers/bytes';
import { setupForwarder } from '../helpers/forwarder';
import { canisterWasm, createPic, type TestPic } from '../helpers/pic';
import { ADMIN } from '../helpers/silo';

let pic: TestPic;
let verifier: Principal;
let forwarder: Awaited<ReturnType<typeof setupForwarder>>;

/** Calls a verifier method with an already encoded argument, as a canister would (inspect_message refuses ingress). */
async function raw(method: keyof typeof verifierMethods, arg: Uint8Array): Promise<VerifyResult> {
    const reply = await forwarder.call(verifier, method, arg);
    return IDL.decode(verifierMethods[method].retTypes, reply)[0] as unknown as VerifyResult;
}

function encode(state: Uint8Array, data: Uint8Array): Uint8Array {
    return new Uint8Array(IDL.encode(verifierMethods.absorb.argTypes, [state, data]));
}

const ok = (r: VerifyResult): Uint8Array => {
    if ('Err' in r) throw new Error(`verifier error: ${r.Err.InvalidArgument}`);
    return r.Ok;
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const INITIAL = encodeState(initialState());

beforeAll(async () => {
    pic = await createPic();
    verifier = await pic.createCanister({ sender: ADMIN, controllers: [ADMIN], cycles: 10_000_000_000_000n });
    await pic.installCode({ canisterId: verifier, wasm: canisterWasm('verifier'), sender: ADMIN });
    forwarder = await setupForwarder(pic);
});
afterAll(() => pic.tearDown());

describe('verifier canister', () => {
    it('digests every length 0..200 like node:crypto', async () => {
        const data = bytes(200, 7);
        for (let n = 0; n <= 200; n++) {
            const digest = ok(await raw('digest', encode(INITIAL, data.subarray(0, n))));
            expect(hex(digest), `length ${n}`).toBe(createHash('sha256').update(data.subarray(0, n)).digest('hex'));
        }
    });

    it('chains states across chunk boundaries: absorb chunk by chunk, then digest the rest', async () => {
        const data = bytes(5 * 4096 + 77, 9);
        for (const chunk of [64, 4096, 3 * 4096]) {
            let state = INITIAL;
            let at = 0;
            for (; at + chunk <= data.length - 1; at += chunk) {
                const next = ok(await raw('absorb', encode(state, data.subarray(at, at + chunk))));
                // The state out equals the TypeScript implementation's, byte for byte (H0..H7, length).
                expect(hex(next)).toBe(hex(encodeState(absorbBlocks(initialState(), data.subarray(0, at + chunk)))));
                state = next;
            }
            const digest = ok(await raw('digest', encode(state, data.subarray(at))));
            expect(hex(digest), `chunk ${chunk}`).toBe(createHash('sha256').update(data).digest('hex'));
        }
    });

    it('the _chunk methods answer the same, then the SHA-256 of the data alone (a chunk\'s own digest)', async () => {
        const data = bytes(3 * 4096 + 77, 5);
        const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
        for (const [from, to] of [[0, 4096], [4096, 3 * 4096], [0, 64], [64, 64]]) {
            const state = encodeState(absorbBlocks(initialState(), data.subarray(0, from)));
            const out = ok(await raw('absorb_chunk', encode(state, data.subarray(from, to))));
            expect(out.length).toBe(72);
            expect(hex(out.subarray(0, 40))).toBe(hex(encodeState(absorbBlocks(initialState(), data.subarray(0, to)))));
            expect(hex(out.subarray(40)), `${from}..${to}`).toBe(sha(data.subarray(from, to)));
        }
        for (const tail of [0, 1, 55, 56, 63, 77, 4096 + 77]) {
            const from = data.length - tail - ((data.length - tail) % 64);
            const state = encodeState(absorbBlocks(initialState(), data.subarray(0, from)));
            const out = ok(await raw('digest_chunk', encode(state, data.subarray(from))));
            expect(out.length).toBe(64);
            expect(hex(out.subarray(0, 32))).toBe(sha(data));
            expect(hex(out.subarray(32)), `tail ${tail}`).toBe(sha(data.subarray(from)));
        }
        expect('Err' in (await raw('absorb_chunk', encode(INITIAL, data.subarray(0, 65))))).toBe(true);
    });

    it('answers malformed arguments with InvalidArgument, and keeps working afterwards', async () => {
        const block = bytes(64, 1);
        const badLength = INITIAL.slice();
        badLength[39] = 3;
        const cases: [string, Uint8Array, RegExp][] = [
            ['empty argument', new Uint8Array(), /DIDL/],
            ['not Candid', new TextEncoder().encode('hello world'), /DIDL/],
            ['truncated', encode(INITIAL, block).subarray(0, 30), /past the end|ends early/],
            ['trailing bytes', new Uint8Array([...encode(INITIAL, block), 0]), /trailing/],
            ['wrong types', new Uint8Array(IDL.encode([IDL.Text, IDL.Nat], ['x', 1n])), /type table|types/],
            ['one argument', new Uint8Array(IDL.encode([IDL.Vec(IDL.Nat8)], [block])), /two arguments/],
            ['short state', encode(INITIAL.subarray(0, 39), block), /40 bytes/],
            ['misaligned state length', encode(badLength, block), /multiple of 64/],
            ['partial block to absorb', encode(INITIAL, block.subarray(0, 63)), /whole 64-byte blocks/],
            ['huge LEB128', new Uint8Array([0x44, 0x49, 0x44, 0x4c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), /out of range|too large/]
        ];
        for (const [name, arg, message] of cases) {
            const result = await raw('absorb', arg);
            expect('Err' in result, name).toBe(true);
            if ('Err' in result) expect(result.Err.InvalidArgument, name).toMatch(message);
        }
        expect(hex(ok(await raw('digest', encode(INITIAL, new Uint8Array()))))).toBe(createHash('sha256').digest('hex'));
    });

    it('exports exactly the methods of its committed Candid interface', () => {
        const did = readFileSync(new URL('../../canisters/verifier/verifier.did', import.meta.url), 'utf8');
        expect(did, 'canisters/verifier/verifier.did is out of date: run `npm run did`').toBe(renderDid('verifier'));
        const wasm = readFileSync(canisterWasm('verifier').replace(/\.gz$/, ''));
        const exported = WebAssembly.Module.exports(new WebAssembly.Module(wasm)).map((e) => e.name).filter((name) => name.startsWith('canister_'));
        expect(exported.sort()).toEqual(['canister_inspect_message', ...Object.keys(verifierMethods).map((m) => `canister_update ${m}`)].sort());
    });

    it('refuses ingress messages', async () => {
        await expect(pic.updateCall({ canisterId: verifier, method: 'digest', arg: encode(INITIAL, new Uint8Array()), sender: ADMIN })).rejects.toThrow();
    });

    it('costs under 120 instructions per byte on the replica metering', async () => {
        const canister = pic.replica!.getCanister(verifier.toText())!;
        const measured: number[] = [];
        canister.observer = (_c, exec) => measured.push(Number(exec.instructions));
        const size = 1024 * 1024;
        ok(await raw('absorb', encode(INITIAL, bytes(size, 3))));
        canister.observer = null;
        const perByte = measured[0] / size;
        expect(perByte).toBeGreaterThan(20);
        expect(perByte).toBeLessThan(120);
    });
});
