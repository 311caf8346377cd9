/**
 * Builds the verifier canister (`canisters/verifier`, AssemblyScript) into `.azle/verifier/verifier.wasm`
 * (and `.wasm.gz`, the module that gets deployed), cached like the Azle builds by a SHA-256 over its
 * sources and the compiler version. AssemblyScript cannot export a function under a name with a space,
 * so the sources export `canister_update_<name>` and this build renames them `canister_update <name>`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

import { readSections, SectionId, WasmReader, WasmWriter, writeSections } from '../replica/wasm/binary';
import { hashInputs, listFiles } from './inputs';

const root = resolve(import.meta.dirname, '..');
const source = join(root, 'canisters/verifier/assembly');
export const VERIFIER_WASM = join(root, '.azle/verifier/verifier.wasm');

function inputHash(): string {
    const asc = JSON.parse(readFileSync(join(root, 'node_modules/assemblyscript/package.json'), 'utf8')).version;
    return hashInputs([`asc ${asc}\n`, readFileSync(import.meta.filename)], listFiles(source));
}

const EXPORT_PREFIXES = ['canister_update_', 'canister_query_'];

/** Rewrites the export section: `canister_update_x` becomes `canister_update x` (likewise for queries). */
export function renameExports(wasm: Uint8Array): Uint8Array {
    const sections = readSections(wasm).map((section) => {
        if (section.id !== SectionId.export) return section;
        const reader = new WasmReader(section.body);
        const writer = new WasmWriter();
        const count = reader.u32();
        writer.u32(count);
        for (let i = 0; i < count; i++) {
            let name = reader.name();
            const prefix = EXPORT_PREFIXES.find((x) => name.startsWith(x));
            if (prefix !== undefined) name = `${prefix.slice(0, -1)} ${name.slice(prefix.length)}`;
            writer.name(name).byte(reader.byte()).u32(reader.u32());
        }
        return { id: section.id, body: writer.finish() };
    });
    return writeSections(sections);
}

export async function buildVerifier(): Promise<'built' | 'cached'> {
    const hashFile = join(dirname(VERIFIER_WASM), 'inputs.sha256');
    const wanted = inputHash();
    if (existsSync(`${VERIFIER_WASM}.gz`) && existsSync(hashFile) && readFileSync(hashFile, 'utf8') === wanted) return 'cached';
    const asc = await import('assemblyscript/asc');
    const outputs: Record<string, Uint8Array | string> = {};
    const stderr: string[] = [];
    const { error } = await asc.main(
        [join(source, 'index.ts'), '--outFile', 'verifier.wasm', '--runtime', 'stub', '-O3', '--noAssert', '--use', 'abort=canisters/verifier/assembly/index/abort'],
        {
            writeFile: (name: string, contents: Uint8Array | string) => void (outputs[name] = contents),
            stderr: { write: (text: string) => void stderr.push(String(text)) } as never,
            stdout: { write: () => {} } as never
        } as never
    );
    if (error !== null && error !== undefined) throw new Error(`asc failed: ${error.message}\n${stderr.join('')}`);
    const compiled = outputs['verifier.wasm'];
    if (!(compiled instanceof Uint8Array)) throw new Error(`asc produced no module:\n${stderr.join('')}`);
    const wasm = renameExports(compiled);
    mkdirSync(dirname(VERIFIER_WASM), { recursive: true });
    writeFileSync(VERIFIER_WASM, wasm);
    writeFileSync(`${VERIFIER_WASM}.gz`, gzipSync(wasm, { level: 9 }));
    writeFileSync(hashFile, wanted);
    return 'built';
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
    buildVerifier().then(
        (result) => console.log(`${result === 'built' ? 'built ' : 'cached'} .azle/verifier/verifier.wasm`),
        (error) => {
            console.error(error instanceof Error ? error.message : error);
            process.exit(1);
        }
    );
}
