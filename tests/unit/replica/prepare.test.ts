import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { readSections, SectionId, WasmFormatError } from '../../../replica/wasm/binary';
import { compileModule, decodeModule, GLOBAL_EXPORT_PREFIX, MEMORY_EXPORT, prepareModule, START_EXPORT, TABLE_EXPORT } from '../../../replica/wasm/prepare';
import { wat } from '../../replica/wat';

const instantiate = (wasm: Uint8Array, ic0: Record<string, unknown> = {}) => new WebAssembly.Instance(new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>), { ic0 } as WebAssembly.Imports).exports;

const CANISTER = `(module
  (import "ic0" "msg_reply" (func $reply))
  (memory (export "memory") 1)
  (table 2 funcref)
  (elem (i32.const 0) $a $b)
  (global $counter (mut i32) (i32.const 7))
  (global $constant i32 (i32.const 1))
  (global $wide (mut i64) (i64.const -2))
  (global $named (export "named_global") (mut i32) (i32.const 3))
  (func $a (param i32))
  (func $b (param i32) (call $reply))
  (func (export "canister_update go") (call $reply))
  (func (export "canister_query look"))
  (func (export "helper") (result i32) (global.get $counter))
)`;

describe('prepareModule', () => {
    it('exports the table and every mutable global, keeping the existing exports', async () => {
        const prepared = prepareModule(await wat(CANISTER));
        expect(prepared.tableExport).toBe(TABLE_EXPORT);
        // Globals 0 ($counter) and 2 ($wide) get new exports; global 3 keeps its own name; the constant is left alone.
        expect(prepared.mutableGlobalExports).toEqual([`${GLOBAL_EXPORT_PREFIX}0`, `${GLOBAL_EXPORT_PREFIX}2`, 'named_global']);
        expect(prepared.memoryExport).toBe('memory');
        expect(prepared.exportedFunctions).toEqual(['canister_update go', 'canister_query look', 'helper']);
        expect(prepared.imports).toEqual([{ module: 'ic0', name: 'msg_reply', kind: 0 }]);
        expect(prepared.startExport).toBeNull();

        const exports = instantiate(prepared.wasm, { msg_reply: () => {} });
        expect(exports[TABLE_EXPORT]).toBeInstanceOf(WebAssembly.Table);
        expect((exports[TABLE_EXPORT] as WebAssembly.Table).length).toBe(2);
        expect((exports[`${GLOBAL_EXPORT_PREFIX}0`] as WebAssembly.Global).value).toBe(7);
        expect((exports[`${GLOBAL_EXPORT_PREFIX}2`] as WebAssembly.Global).value).toBe(-2n);
        expect((exports.named_global as WebAssembly.Global).value).toBe(3);
        expect(exports[`${GLOBAL_EXPORT_PREFIX}1`]).toBeUndefined();
        expect(exports.memory).toBeInstanceOf(WebAssembly.Memory);
        expect(typeof exports.helper).toBe('function');
        expect(typeof exports['canister_update go']).toBe('function');
        // The exported global is the live one: setting it changes what the code sees.
        (exports[`${GLOBAL_EXPORT_PREFIX}0`] as WebAssembly.Global).value = 42;
        expect((exports.helper as () => number)()).toBe(42);
    });

    it('reuses an existing table export and adds a memory export when there is none', async () => {
        const prepared = prepareModule(await wat(`(module (memory 1) (table (export "tbl") 1 funcref) (func (export "canister_update x")))`));
        expect(prepared.tableExport).toBe('tbl');
        expect(prepared.memoryExport).toBe(MEMORY_EXPORT);
        const exports = instantiate(prepared.wasm);
        expect(exports[MEMORY_EXPORT]).toBeInstanceOf(WebAssembly.Memory);
        expect(exports[TABLE_EXPORT]).toBeUndefined();
    });

    it('handles a module without an export section, inserting one in section order', async () => {
        const prepared = prepareModule(await wat(`(module (memory 1) (table 1 funcref) (global (mut i32) (i32.const 5)) (func $f) (start $f) (elem (i32.const 0) $f))`));
        expect(prepared.exportedFunctions).toEqual([]);
        expect(prepared.tableExport).toBe(TABLE_EXPORT);
        expect(prepared.mutableGlobalExports).toEqual([`${GLOBAL_EXPORT_PREFIX}0`]);
        const ids = readSections(prepared.wasm).map((s) => s.id).filter((id) => id !== SectionId.custom);
        expect(ids).toEqual([...ids].sort((x, y) => x - y));
        expect(ids).toContain(SectionId.export);
        const exports = instantiate(prepared.wasm);
        expect(Object.keys(exports).sort()).toEqual([MEMORY_EXPORT, START_EXPORT, `${GLOBAL_EXPORT_PREFIX}0`, TABLE_EXPORT].sort());
    });

    it('turns the start function into an export that instantiation does not run', async () => {
        const prepared = prepareModule(
            await wat(`(module (import "ic0" "debug_print" (func $print (param i32 i32))) (memory 1)
                (func $start (call $print (i32.const 0) (i32.const 0))) (start $start))`)
        );
        expect(prepared.startExport).toBe(START_EXPORT);
        expect(readSections(prepared.wasm).some((s) => s.id === SectionId.start)).toBe(false);
        let printed = 0;
        const exports = instantiate(prepared.wasm, { debug_print: () => printed++ });
        expect(printed).toBe(0);
        (exports[START_EXPORT] as () => void)();
        expect(printed).toBe(1);
    });

    it('has no table export for a module without a table, and no memory export without a memory', async () => {
        const prepared = prepareModule(await wat(`(module (func (export "canister_update x")))`));
        expect(prepared.tableExport).toBeNull();
        expect(prepared.memoryExport).toBeNull();
        expect(prepared.mutableGlobalExports).toEqual([]);
    });

    it('rejects imports from modules other than ic0', async () => {
        const wasm = await wat(`(module (import "env" "f" (func)) (import "ic0" "msg_reply" (func)))`);
        expect(() => prepareModule(wasm)).toThrow(WasmFormatError);
        expect(() => prepareModule(wasm)).toThrow("module imports 'env.f': canisters may import only from 'ic0'");
    });

    it('rejects exports that use the names the replica reserves', async () => {
        const wasm = await wat(`(module (func (export "__silo_table")))`);
        expect(() => prepareModule(wasm)).toThrow("export name '__silo_table' is reserved by the replica");
    });

    it('accepts gzipped modules and hashes the module as installed (after gunzip)', async () => {
        const raw = await wat(CANISTER);
        const fromGzip = prepareModule(gzipSync(raw));
        const fromRaw = prepareModule(raw);
        expect(Buffer.from(fromGzip.wasm).equals(Buffer.from(fromRaw.wasm))).toBe(true);
        expect(Buffer.from(fromRaw.moduleHash).toString('hex')).toBe(createHash('sha256').update(raw).digest('hex'));
        expect(fromGzip.moduleHash).toEqual(fromRaw.moduleHash);
        expect(decodeModule(raw)).toBe(raw);
    });

    it('reports corrupt gzip and non-Wasm input as WasmFormatError', () => {
        expect(() => prepareModule(Uint8Array.from([0x1f, 0x8b, 1, 2, 3]))).toThrow('gzipped module could not be decompressed');
        expect(() => prepareModule(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow('not a Wasm module');
        expect(() => prepareModule(Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 50]))).toThrow(WasmFormatError);
    });
});

describe('compileModule', () => {
    it('compiles once per distinct module and reports invalid Wasm as WasmFormatError', async () => {
        const wasm = await wat(CANISTER);
        expect(compileModule(wasm)).toBe(compileModule(Uint8Array.from(wasm)));
        // Valid sections, invalid code: a function whose body leaves a value it does not declare.
        const invalid = await wat(`(module (func (export "canister_update x")))`);
        const broken = Uint8Array.from(invalid);
        const code = readSections(broken).find((s) => s.id === SectionId.code)!;
        const at = Buffer.from(broken).indexOf(Buffer.from(code.body));
        broken[at + code.body.length - 1] = 0x00; // `end` becomes `unreachable`, so the body never ends
        expect(() => compileModule(broken)).toThrow(WasmFormatError);
        expect(() => compileModule(broken)).toThrow('module is not valid Wasm');
    });
});
