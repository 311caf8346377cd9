/**
 * Builds every Azle canister of the project (the Silo canisters and the replica's test fixtures), or with
 * `--demo` only what `npm run demo` runs (the CLI and Silo's canisters).
 *
 * Each canister is rebuilt only when a source it can depend on changed: the build is keyed by a SHA-256
 * over its sources, `shared/` and the Azle version, stored next to the Wasm.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

import { readSections, WasmWriter, writeSections } from '../replica/wasm/binary';
import { buildVerifier } from './build_verifier';
import { hashInputs, listFiles } from './inputs';
import { buildWeb } from './build_web';

const root = resolve(import.meta.dirname, '..');

export interface Target {
    /** Folder holding the dfx.json that names the canister. */
    dfxRoot: string;
    name: string;
    /** Environment variables baked into the canister (dfx.json `silo_build_env`; Azle reads `custom.env`). */
    env: Record<string, string>;
    /** Folders whose content decides whether a rebuild is needed. */
    inputs: string[];
    /** The committed Candid interface (dfx.json `candid` outside .azle/), published as `candid:service` metadata. */
    candid?: string;
}

function dfxTargets(dfxRoot: string): Target[] {
    const dfxJson = JSON.parse(readFileSync(join(dfxRoot, 'dfx.json'), 'utf8'));
    return Object.entries<{ main?: string; candid?: string; silo_build_env?: Record<string, string> }>(dfxJson.canisters)
        .filter(([, c]) => c.main !== undefined && existsSync(join(dfxRoot, c.main)))
        .map(([name, c]) => ({
            dfxRoot,
            name,
            // A canister depends on the folder of its entry point, on canisters/runtime/ and shared/ (and on the Azle version).
            inputs: [dirname(join(dfxRoot, c.main!)), join(root, 'canisters', 'runtime'), join(root, 'shared')],
            env: c.silo_build_env ?? {},
            candid: c.candid !== undefined && !c.candid.startsWith('.azle/') ? join(dfxRoot, c.candid) : undefined
        }));
}

function inputHash(target: Target): string {
    const azleVersion = JSON.parse(readFileSync(join(root, 'node_modules/azle/package.json'), 'utf8')).version;
    return hashInputs([`azle ${azleVersion}\n`, readFileSync(join(target.dfxRoot, 'dfx.json'))], target.inputs.flatMap((dir) => listFiles(dir)));
}

export function wasmPath(dfxRoot: string, name: string): string {
    return join(dfxRoot, '.azle', name, `${name}.wasm`);
}

function build(target: Target): Promise<'built' | 'cached'> {
    const hashFile = join(target.dfxRoot, '.azle', target.name, 'inputs.sha256');
    const wanted = inputHash(target);
    if (existsSync(`${wasmPath(target.dfxRoot, target.name)}.gz`) && existsSync(hashFile) && readFileSync(hashFile, 'utf8') === wanted) {
        return Promise.resolve('cached');
    }
    return new Promise((resolvePromise, reject) => {
        const child = spawn(join(root, 'node_modules/.bin/azle'), ['build', target.name], {
            cwd: target.dfxRoot,
            env: { ...process.env, ...target.env, CANISTER_CANDID_PATH: join('.azle', target.name, `${target.name}.did`) },
            stdio: ['ignore', 'pipe', 'pipe']
        });
        let output = '';
        child.stdout.on('data', (d) => (output += d));
        child.stderr.on('data', (d) => (output += d));
        child.on('close', (code) => {
            if (code !== 0) {
                reject(new Error(`azle build ${target.name} failed (exit ${code}):\n${output}`));
                return;
            }
            let wasm: Uint8Array = readFileSync(wasmPath(target.dfxRoot, target.name));
            if (target.candid !== undefined) {
                wasm = withMetadata(wasm, 'candid:service', readFileSync(target.candid));
                writeFileSync(wasmPath(target.dfxRoot, target.name), wasm);
            }
            // The gzipped module is what gets deployed: it fits in one install_code message.
            writeFileSync(`${wasmPath(target.dfxRoot, target.name)}.gz`, gzipSync(wasm, { level: 9 }));
            writeFileSync(hashFile, wanted);
            resolvePromise('built');
        });
    });
}

/**
 * Adds a public metadata custom section (`icp:public <name>`), as dfx does for the `metadata` entries of
 * dfx.json, replacing one of the same name. The IC serves it at `canister/<id>/metadata/<name>`.
 */
export function withMetadata(wasm: Uint8Array, name: string, content: Uint8Array): Uint8Array {
    const sectionName = `icp:public ${name}`;
    const sections = readSections(wasm).filter((s) => {
        if (s.id !== 0) return true;
        const nameLength = s.body[0]!; // names here are shorter than 128 bytes: one LEB128 byte
        return new TextDecoder().decode(s.body.subarray(1, 1 + nameLength)) !== sectionName;
    });
    sections.push({ id: 0, body: new WasmWriter().name(sectionName).bytes(content).finish() });
    return writeSections(sections);
}

/**
 * Bundles the `silo` CLI into one ES module, so the command starts without a TypeScript loader (faster,
 * and some 40 MB less memory). Dependencies stay external, resolved from node_modules.
 */
async function bundleCli(log: (line: string) => void): Promise<void> {
    const { build } = await import('esbuild');
    const outfile = join(root, '.build', 'silo.mjs');
    await build({
        entryPoints: { silo: join(root, 'client', 'cli.ts') },
        outdir: join(root, '.build'),
        outExtension: { '.js': '.mjs' },
        // Modules only some commands load (`silo start`'s server) go to chunks of their own, read when used.
        splitting: true,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        sourcemap: 'linked',
        logLevel: 'warning',
        // The embedded network finds the built canisters relative to the repository root.
        define: { 'import.meta.dirname': JSON.stringify(join(root, 'client')) }
    });
    log(`built  ${relative(root, outfile)}`);
}

/**
 * What a build makes: `all` (tests, benchmarks: the CLI, the web app, Silo's canisters and the replica's
 * test fixtures), or `demo` (what `npm run demo` runs: the CLI and Silo's canisters, nothing else).
 */
export type BuildScope = 'all' | 'demo';

/** The Azle canisters a scope builds. */
export function buildTargets(scope: BuildScope): Target[] {
    return scope === 'demo' ? dfxTargets(root) : [...dfxTargets(root), ...dfxTargets(join(root, 'tests/fixtures'))];
}

export async function buildAll(log = console.log, scope: BuildScope = 'all'): Promise<void> {
    await bundleCli(log);
    if (scope === 'all') await buildWeb(log);
    const targets = buildTargets(scope);
    // Azle builds are CPU-bound; two at a time matches the machines this runs on.
    const queue = [...targets];
    const workers = Array.from({ length: 2 }, async () => {
        for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
            const started = Date.now();
            const result = await build(t);
            log(`${result === 'built' ? 'built ' : 'cached'} ${relative(root, wasmPath(t.dfxRoot, t.name))}${result === 'built' ? ` in ${((Date.now() - started) / 1000).toFixed(1)} s` : ''}`);
        }
    });
    const started = Date.now();
    const verifier = await buildVerifier();
    log(`${verifier === 'built' ? 'built ' : 'cached'} .azle/verifier/verifier.wasm${verifier === 'built' ? ` in ${((Date.now() - started) / 1000).toFixed(1)} s` : ''}`);
    await Promise.all(workers);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
    buildAll(console.log, process.argv.includes('--demo') ? 'demo' : 'all').catch((error) => {
        console.error(error instanceof Error ? error.message : error);
        process.exit(1);
    });
}
