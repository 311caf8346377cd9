/** `npm run demo` builds only what it runs: the CLI and Silo's canisters, not the web app or the replica's test fixtures. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { describe, expect, it } from 'vitest';

import { buildTargets } from '../../../scripts/build';

const root = resolve(import.meta.dirname, '../../..');

describe('build scopes', () => {
    it('npm run demo builds Silo\'s canisters only; the full build adds the test fixtures', () => {
        const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts;
        expect(scripts.demo).toBe('tsx scripts/build.ts --demo && tsx scripts/demo.ts');
        expect(buildTargets('demo').map((t) => t.name).sort()).toEqual(['bucket', 'index']);
        const all = buildTargets('all');
        expect(all.filter((t) => t.dfxRoot.endsWith(join('tests', 'fixtures'))).length).toBeGreaterThanOrEqual(7);
        expect(all.map((t) => t.name)).toEqual(expect.arrayContaining(['bucket', 'index']));
    });
});
