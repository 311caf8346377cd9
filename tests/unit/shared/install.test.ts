import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import { INSTALL_CHUNK_BYTES, installModule, type Installer, MAX_INSTALL_CODE_PAYLOAD } from '../../../shared/install';
import { sha256 } from '../../../shared/sha256';
import { PocketIc } from '../../../replica';
import { PROBE_WASM, probeArg } from '../../replica/probe';

const TARGET = Principal.fromText('rrkah-fqaaa-aaaaa-aaaaq-cai');

function recorder() {
    const calls: { method: string; args: any }[] = [];
    const record = (method: string) => async (args: any) => {
        calls.push({ method, args });
        return method === 'upload_chunk' ? { hash: sha256(args.chunk) } : null;
    };
    const installer = {
        install_code: record('install_code'),
        clear_chunk_store: record('clear_chunk_store'),
        upload_chunk: record('upload_chunk'),
        install_chunked_code: record('install_chunked_code')
    } as Installer;
    return { calls, installer };
}

describe('installModule', () => {
    it('sends a module that fits one message whole', async () => {
        const { calls, installer } = recorder();
        await installModule(installer, TARGET, new Uint8Array(MAX_INSTALL_CODE_PAYLOAD - 3), new Uint8Array(3), { install: null });
        expect(calls.map((c) => c.method)).toEqual(['install_code']);
    });

    it('sends a larger module through the chunk store, in order, with the whole module hash', async () => {
        const { calls, installer } = recorder();
        const wasm = Uint8Array.from({ length: 2 * INSTALL_CHUNK_BYTES + 5 }, (_, i) => i & 0xff);
        await installModule(installer, TARGET, wasm, new Uint8Array([1]), { upgrade: [] });
        expect(calls.map((c) => c.method)).toEqual(['clear_chunk_store', 'upload_chunk', 'upload_chunk', 'upload_chunk', 'install_chunked_code', 'clear_chunk_store']);
        const uploads = calls.filter((c) => c.method === 'upload_chunk').map((c) => c.args.chunk.length);
        expect(uploads).toEqual([INSTALL_CHUNK_BYTES, INSTALL_CHUNK_BYTES, 5]);
        const install = calls.find((c) => c.method === 'install_chunked_code')!.args;
        expect(install.wasm_module_hash).toEqual(sha256(wasm));
        expect(install.chunk_hashes_list.map((h: { hash: Uint8Array }) => h.hash)).toEqual([
            sha256(wasm.subarray(0, INSTALL_CHUNK_BYTES)),
            sha256(wasm.subarray(INSTALL_CHUNK_BYTES, 2 * INSTALL_CHUNK_BYTES)),
            sha256(wasm.subarray(2 * INSTALL_CHUNK_BYTES))
        ]);
    });

    it('installs an uncompressed Azle module (larger than a message) through the replica’s management canister', async () => {
        const pic = await PocketIc.create();
        const raw = gunzipSync(readFileSync(PROBE_WASM));
        expect(raw.length).toBeGreaterThan(MAX_INSTALL_CODE_PAYLOAD);
        const canisterId = await pic.createCanister({ sender: TARGET });
        await pic.installCode({ canisterId, wasm: new Uint8Array(raw), arg: probeArg('raw'), sender: TARGET });
        const reply = await pic.queryCall({ canisterId, method: 'get', arg: new Uint8Array(IDL.encode([], [])) });
        expect(IDL.decode([IDL.Nat], reply)).toEqual([0n]);
    });
});
