/**
 * Builds the web app (web/) into web/dist (what `silo start` serves): index.html, app.js (the page and the Silo client library,
 * bundled for browsers by esbuild), app.css, and web_bg.wasm: the response verifier's Wasm, which the
 * bundle fetches next to app.js (`new URL('web_bg.wasm', import.meta.url)` in @dfinity/response-verification's
 * web build) to check each downloaded chunk's certification. Skipped when no input changed since the last build.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';

import type { BuildOptions } from 'esbuild';

import { hashInputs, listFiles } from './inputs';

const root = resolve(import.meta.dirname, '..');
export const webOutDir = join(root, 'web', 'dist');

/** The esbuild options of the page's bundle (also used by the test that checks it holds no Node built-in). */
export function webBuildOptions(): BuildOptions {
    return {
        entryPoints: [join(root, 'web', 'src', 'main.ts')],
        outfile: join(webOutDir, 'app.js'),
        bundle: true,
        // "browser" also applies package.json's browser field: client/node_io.ts becomes its browser stand-in.
        platform: 'browser',
        format: 'esm',
        target: ['chrome111', 'firefox115', 'safari16.4'],
        minify: true,
        sourcemap: 'linked',
        logLevel: 'warning',
        legalComments: 'linked'
    };
}

function inputHash(): string {
    const sources = ['web', 'client', 'shared'].flatMap((dir) => listFiles(join(root, dir)));
    return hashInputs([], [...sources, join(root, 'package-lock.json')]);
}

export async function buildWeb(log: (line: string) => void = console.log): Promise<'built' | 'cached'> {
    const stamp = join(webOutDir, 'inputs.sha256');
    const wanted = inputHash();
    if (existsSync(join(webOutDir, 'app.js')) && existsSync(join(webOutDir, 'web_bg.wasm')) && existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) {
        log(`cached ${relative(root, webOutDir)}/`);
        return 'cached';
    }
    const { build } = await import('esbuild');
    mkdirSync(webOutDir, { recursive: true });
    await build(webBuildOptions());
    copyFileSync(join(root, 'web', 'index.html'), join(webOutDir, 'index.html'));
    copyFileSync(join(root, 'web', 'app.css'), join(webOutDir, 'app.css'));
    copyFileSync(join(root, 'web', 'favicon.svg'), join(webOutDir, 'favicon.svg'));
    copyFileSync(createRequire(import.meta.url).resolve('@dfinity/response-verification/dist/web/web_bg.wasm'), join(webOutDir, 'web_bg.wasm'));
    writeFileSync(stamp, wanted);
    log(`built  ${relative(root, webOutDir)}/`);
    return 'built';
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
    buildWeb().catch((error) => {
        console.error(error instanceof Error ? error.message : error);
        process.exit(1);
    });
}
