/**
 * Builds the verifier canister (`canisters/verifier`, AssemblyScript) into `.azle/verifier/verifier.wasm`
 * (and `.wasm.gz`, the module that gets deployed), cached like the Azle builds by a SHA-256 over its
 * sources and the compiler version. AssemblyScript cannot export a function under a name with a space,
 * so the sources export `canister_update_<name>` and this build renames them `canister_update <name>`.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = resolve(import.meta.dirname, '..');
const source = join(root, 'canisters/verifier/assembly');
export const VERIFIER_WASM = join(root, '.azle/verifier/verifier.wasm');

function inputHash(): string {
    const hash = createHash('sha256');
    hash.update(`asc ${JSON.parse(readFileSync(join(root, 'node_modules/assemblyscript/package.json'), 'utf8')).version}\n`);
    hash.update(readFileSync(import.meta.filename));
    for (const file of readdirSync(source).sort()) {
        hash.update(file);
        hash.update(readFileSync(join(source, file)));
    }
    return hash.digest('hex');
}

const EXPORT_PREFIXES = ['canister_update_', 'canister_query_'];

function readLeb(bytes: Uint8Array, at: number): [number, number] {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
        const b = bytes[at++];
        value += (b & 0x7f) * 2 ** shift;
        if ((b & 0x80) === 0) return [value, at];
    }
}

function leb(value: number): number[] {
    const out: number[] = [];
    do {
        let b = value & 0x7f;
        value = Math.floor(value / 128);
        if (value !== 0) b |= 0x80;
        out.push(b);
    } while (value !== 0);
    return out;
}

/** Rewrites the export section: `canister_update_x` becomes `canister_update x` (likewise for queries). */
export function renameExports(wasm: Uint8Array): Uint8Array {
    const out: number[] = [...wasm.subarray(0, 8)];
    let at = 8;
    while (at < wasm.length) {
        const id = wasm[at];
        const [size, body] = readLeb(wasm, at + 1);
        const end = body + size;
        if (id !== 7) {
            out.push(...wasm.subarray(at, end));
            at = end;
            continue;
        }
        let [count, p] = readLeb(wasm, body);
        const section: number[] = leb(count);
        for (; count > 0; count--) {
            const [length, nameAt] = readLeb(wasm, p);
            let name = new TextDecoder().decode(wasm.subarray(nameAt, nameAt + length));
            const prefix = EXPORT_PREFIXES.find((x) => name.startsWith(x));
            if (prefix !== undefined) name = `${prefix.slice(0, -1)} ${name.slice(prefix.length)}`;
            const encoded = new TextEncoder().encode(name);
            section.push(...leb(encoded.length), ...encoded);
            p = nameAt + length;
            // kind byte, then the index (LEB128)
            const [, next] = readLeb(wasm, p + 1);
            section.push(...wasm.subarray(p, next));
            p = next;
        }
        out.push(7, ...leb(section.length), ...section);
        at = end;
    }
    return new Uint8Array(out);
}

export async function buildVerifier(): Promise<'built' | 'cached'> {
    const hashFile = join(dirnameOf(VERIFIER_WASM), 'inputs.sha256');
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
    mkdirSync(dirnameOf(VERIFIER_WASM), { recursive: true });
    writeFileSync(VERIFIER_WASM, wasm);
    writeFileSync(`${VERIFIER_WASM}.gz`, gzipSync(wasm, { level: 9 }));
    writeFileSync(hashFile, wanted);
    return 'built';
}

function dirnameOf(path: string): string {
    return path.slice(0, path.lastIndexOf('/'));
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
