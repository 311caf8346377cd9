/**
 * Prepares a canister module for execution, as the IC's own instrumentation does before it runs one:
 * the function table and every mutable global are exported, so that the replica can invoke callbacks
 * as `table[fun](env)` and save and restore the globals around an execution that traps. A `(start)`
 * function is turned into an export, so that the replica runs it as an execution of its own (context
 * `s`) on install and upgrade only, and not again when it re-creates an instance to roll back a trap.
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

import { instrumentModule } from './instrument';
import { ExternalKind, readLimits, readSections, Section, SectionId, skipConstExpr, WasmFormatError, WasmReader, WasmWriter, writeSections } from './binary';

/** Names the replica gives the exports it adds; a canister cannot export names with this prefix. */
export const TABLE_EXPORT = '__silo_table';
export const GLOBAL_EXPORT_PREFIX = '__silo_global_';
export const MEMORY_EXPORT = '__silo_memory';
export const START_EXPORT = '__silo_start';

export interface ImportInfo {
    module: string;
    name: string;
    kind: number;
}

export interface PreparedModule {
    /** The rewritten module, ready to compile. */
    wasm: Uint8Array;
    /** SHA-256 of the module as installed (after gunzip, before rewriting): what `module_hash` reports. */
    moduleHash: Uint8Array;
    /** The module as installed, gunzipped and before rewriting (what persistence saves). */
    original: Uint8Array;
    /** Name of the table export, or null when the module has no table. */
    tableExport: string | null;
    /** Export names of the mutable globals, in global index order. */
    mutableGlobalExports: string[];
    imports: ImportInfo[];
    /** Names of the canister's entry points (`canister_update foo`, `canister_init`, ...). */
    exportedFunctions: string[];
    memoryExport: string | null;
    /** Export name of the module's `(start)` function (removed from the module), or null. */
    startExport: string | null;
}

export function isGzip(bytes: Uint8Array): boolean {
    return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompresses a gzipped module; returns raw modules as they are. */
export function decodeModule(bytes: Uint8Array): Uint8Array {
    if (!isGzip(bytes)) return bytes;
    try {
        return new Uint8Array(gunzipSync(bytes));
    } catch (error) {
        throw new WasmFormatError(`gzipped module could not be decompressed: ${(error as Error).message}`);
    }
}

export function prepareModule(input: Uint8Array): PreparedModule {
    const raw = decodeModule(input);
    const moduleHash = new Uint8Array(createHash('sha256').update(raw).digest());
    const sections = readSections(raw);

    const imports: ImportInfo[] = [];
    let importedTables = 0;
    let importedMemories = 0;
    let definedMemories = 0;
    let importedGlobals = 0;
    let definedTables = 0;
    const mutableGlobals: number[] = [];
    const exports: { name: string; kind: number; index: number }[] = [];
    let exportSectionIndex = -1;
    let startFunction: number | null = null;

    sections.forEach((section, position) => {
        const r = new WasmReader(section.body);
        switch (section.id) {
            case SectionId.import: {
                const count = r.u32();
                for (let i = 0; i < count; i++) {
                    const module = r.name();
                    const name = r.name();
                    const kind = r.byte();
                    imports.push({ module, name, kind });
                    if (kind === ExternalKind.func) r.u32();
                    else if (kind === ExternalKind.table) {
                        r.byte();
                        readLimits(r);
                        importedTables++;
                    } else if (kind === ExternalKind.memory) readLimits(r);
                    else if (kind === ExternalKind.global) {
                        r.byte();
                        const mutable = r.byte();
                        if (mutable) mutableGlobals.push(importedGlobals);
                        importedGlobals++;
                    } else throw new WasmFormatError(`unknown import kind ${kind}`);
                }
                break;
            }
            case SectionId.table:
                definedTables = r.u32();
                break;
            case SectionId.memory:
                definedMemories = r.u32();
                break;
            case SectionId.global: {
                const count = r.u32();
                for (let i = 0; i < count; i++) {
                    r.byte();
                    const mutable = r.byte();
                    skipConstExpr(r);
                    if (mutable) mutableGlobals.push(importedGlobals + i);
                }
                break;
            }
            case SectionId.export: {
                exportSectionIndex = position;
                const count = r.u32();
                for (let i = 0; i < count; i++) {
                    const name = r.name();
                    const kind = r.byte();
                    const index = r.u32();
                    if (name.startsWith('__silo_')) {
                        throw new WasmFormatError(`export name '${name}' is reserved by the replica`);
                    }
                    exports.push({ name, kind, index });
                }
                break;
            }
            case SectionId.start:
                startFunction = r.u32();
                break;
        }
    });

    if (imports.some((i) => i.module !== 'ic0')) {
        const bad = imports.find((i) => i.module !== 'ic0')!;
        throw new WasmFormatError(`module imports '${bad.module}.${bad.name}': canisters may import only from 'ic0'`);
    }

    const added: { name: string; kind: number; index: number }[] = [];
    let tableExport: string | null = null;
    if (importedTables + definedTables > 0) {
        tableExport = exports.find((e) => e.kind === ExternalKind.table && e.index === 0)?.name ?? null;
        if (tableExport === null) {
            tableExport = TABLE_EXPORT;
            added.push({ name: TABLE_EXPORT, kind: ExternalKind.table, index: 0 });
        }
    }
    let memoryExport: string | null = null;
    if (importedMemories + definedMemories > 0) {
        memoryExport = exports.find((e) => e.kind === ExternalKind.memory && e.index === 0)?.name ?? null;
        if (memoryExport === null) {
            memoryExport = MEMORY_EXPORT;
            added.push({ name: MEMORY_EXPORT, kind: ExternalKind.memory, index: 0 });
        }
    }
    const mutableGlobalExports = mutableGlobals.map((index) => {
        const existing = exports.find((e) => e.kind === ExternalKind.global && e.index === index);
        if (existing) return existing.name;
        const name = `${GLOBAL_EXPORT_PREFIX}${index}`;
        added.push({ name, kind: ExternalKind.global, index });
        return name;
    });

    const startExport = startFunction === null ? null : START_EXPORT;
    if (startFunction !== null) added.push({ name: START_EXPORT, kind: ExternalKind.func, index: startFunction });

    const all = [...exports, ...added];
    const w = new WasmWriter().u32(all.length);
    for (const e of all) w.name(e.name).byte(e.kind).u32(e.index);
    const exportSection: Section = { id: SectionId.export, body: w.finish() };

    let out = [...sections];
    if (exportSectionIndex >= 0) out[exportSectionIndex] = exportSection;
    else {
        // Sections must appear in id order; custom sections (id 0) may sit anywhere.
        const insertAt = out.findIndex((s) => s.id !== SectionId.custom && s.id > SectionId.export);
        out.splice(insertAt < 0 ? out.length : insertAt, 0, exportSection);
    }
    out = out.filter((section) => section.id !== SectionId.start);

    return {
        wasm: writeSections(out),
        moduleHash,
        original: raw,
        tableExport,
        mutableGlobalExports,
        imports,
        exportedFunctions: exports.filter((e) => e.kind === ExternalKind.func).map((e) => e.name),
        memoryExport,
        startExport
    };
}

export interface CompiledModule extends PreparedModule {
    module: WebAssembly.Module;
    /** Size of the module as compiled (the rewritten bytes themselves are dropped). */
    wasmBytes: number;
    /** True when the module counts its instructions (see `instrument.ts`). */
    metered: boolean;
}

export interface CompileOptions {
    /** Add instruction metering (default true); off only to measure what metering costs. */
    instrument?: boolean;
}

const cache = new Map<string, CompiledModule>();

/**
 * Prepares, instruments and compiles a module once per distinct content (and metering choice); later
 * installs of it reuse the compilation.
 */
export function compileModule(input: Uint8Array, options: CompileOptions = {}): CompiledModule {
    const instrument = options.instrument ?? true;
    const key = `${createHash('sha256').update(input).digest('hex')}:${instrument ? 'metered' : 'plain'}`;
    let compiled = cache.get(key);
    if (compiled === undefined) {
        const prepared = prepareModule(input);
        let wasm = prepared.wasm;
        if (instrument) {
            try {
                wasm = instrumentModule(prepared.wasm).wasm;
            } catch (error) {
                // A module the decoder trips on is usually not valid Wasm at all; otherwise it is our bug.
                if (error instanceof WasmFormatError || !WebAssembly.validate(prepared.wasm as Uint8Array<ArrayBuffer>)) {
                    throw new WasmFormatError(`module is not valid Wasm: ${(error as Error).message}`);
                }
                throw error;
            }
        }
        let module: WebAssembly.Module;
        try {
            module = new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>);
        } catch (error) {
            throw new WasmFormatError(`module is not valid Wasm: ${(error as Error).message}`);
        }
        // Once compiled, the rewritten bytes are not needed again: keep only the module and the original.
        compiled = { ...prepared, wasm: new Uint8Array(), wasmBytes: wasm.length, module, metered: instrument };
        cache.set(key, compiled);
    }
    return compiled;
}
