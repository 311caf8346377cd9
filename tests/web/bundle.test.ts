/**
 * The web app's bundle holds the Silo client library for browsers: no Node built-in may reach it, and
 * the Node-only sources (file I/O, the embedded replica, PEM identities) must stay out.
 */
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

import { webBuildOptions } from '../../scripts/build_web';

async function metafile(entry?: string): Promise<{ meta: Metafile; code: string }> {
    const options = webBuildOptions();
    const result = await build({
        ...options,
        ...(entry === undefined ? {} : { entryPoints: [entry] }),
        write: false,
        metafile: true,
        sourcemap: false,
        minify: false,
        logLevel: 'silent'
    });
    const js = result.outputFiles.find((f) => f.path.endsWith('.js'))!;
    return { meta: result.metafile, code: js.text };
}

function importsOf(meta: Metafile): { from: string; path: string; external: boolean }[] {
    return Object.entries(meta.inputs).flatMap(([from, input]) => input.imports.map((i) => ({ from, path: i.path, external: i.external === true })));
}

describe('browser bundle', () => {
    for (const [what, entry] of [
        ['the web app', undefined],
        ['client/browser.ts', 'client/browser.ts']
    ] as const) {
        it(`${what} imports no Node built-in and no Node-only source`, async () => {
            const { meta, code } = await metafile(entry);
            const inputs = Object.keys(meta.inputs);
            expect(inputs.filter((p) => p.startsWith('node:'))).toEqual([]);
            expect(importsOf(meta).filter((i) => i.path.startsWith('node:') || i.external)).toEqual([]);
            expect(code).not.toMatch(/\bfrom\s*["']node:|import\(\s*["']node:|require\(\s*["'](node:)?(fs|path|os|crypto|child_process)["']/);
            // The browser stand-in replaces node_io.ts; the replica and the PEM identity loader stay out.
            expect(inputs).toContain('client/node_io.browser.ts');
            expect(inputs).not.toContain('client/node_io.ts');
            expect(inputs.filter((p) => p.startsWith('replica/') || p === 'client/identity.ts' || p === 'client/embedded.ts')).toEqual([]);
            expect(inputs).toContain('client/silo.ts');
        });
    }
});
