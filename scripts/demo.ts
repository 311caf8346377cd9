/**
 * The main job, end to end on the embedded replica: upload a sample file with the `silo` CLI, list it,
 * download it back in another process and check that the bytes hash the same.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { bytes } from '../tests/helpers/bytes';

const bin = resolve(import.meta.dirname, '../client/bin/silo.mjs');
const work = mkdtempSync(join(tmpdir(), 'silo-demo-'));
const state = join(work, 'state');

function silo(...args: string[]): string {
    console.log(`$ silo ${args.join(' ')}`);
    const result = spawnSync(process.execPath, [bin, ...args, '--state', state], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (result.status !== 0) throw new Error(`silo ${args[0]} failed with exit code ${result.status}`);
    process.stdout.write(result.stdout);
    return result.stdout;
}

// A deterministic 5 MiB sample: three chunks of 1.9 MiB, the last one partial.
const sample = bytes(5 * 1024 * 1024, 2463534242);
const input = join(work, 'sample.bin');
writeFileSync(input, sample);
const expected = createHash('sha256').update(sample).digest('hex');

try {
    const uploaded = silo('upload', input);
    const id = uploaded.split('\t')[0];
    silo('ls');
    const output = join(work, 'downloaded.bin');
    silo('download', id, '-o', output);
    const actual = createHash('sha256').update(readFileSync(output)).digest('hex');
    if (actual !== expected) throw new Error(`downloaded bytes hash to ${actual}, expected ${expected}`);
    console.log(`\nverified: ${sample.length} bytes uploaded and downloaded back, sha256 ${actual}`);
} finally {
    rmSync(work, { recursive: true, force: true });
}
