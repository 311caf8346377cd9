/**
 * Client figures (issue 5), on the embedded default through the real `silo` binary:
 * - end-to-end upload and download throughput of a 64 MiB file;
 * - peak memory (RSS high-water mark) of the `silo` process during a 512 MiB upload (target < 300 MB).
 * Sizes can be lowered with SILO_BENCH_SMALL_MIB / SILO_BENCH_LARGE_MIB for a quick run.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../client/bin/silo.mjs');
const MIB = 1024 * 1024;

/** Writes `mib` MiB of deterministic bytes, a MiB at a time; returns their SHA-256. */
export function writeSample(path: string, mib: number, seed: number): string {
    const hash = createHash('sha256');
    const block = new Uint8Array(MIB);
    let x = seed;
    const fd = openSync(path, 'w');
    for (let m = 0; m < mib; m++) {
        for (let i = 0; i < MIB; i++) {
            x ^= x << 13;
            x ^= x >>> 17;
            x ^= x << 5;
            block[i] = x & 0xff;
        }
        writeSync(fd, block);
        hash.update(block);
    }
    closeSync(fd);
    return hash.digest('hex');
}

/** Runs `silo`, sampling its peak resident memory from /proc while it runs. */
export function silo(args: string[]): Promise<{ stdout: string; seconds: number; peakRssBytes: number }> {
    return new Promise((done, fail) => {
        const started = process.hrtime.bigint();
        const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
        let stdout = '';
        let peak = 0;
        const sample = () => {
            try {
                const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
                if (hwm) peak = Math.max(peak, Number(hwm[1]) * 1024);
            } catch {
                // The process has just exited.
            }
        };
        const timer = setInterval(sample, 50);
        child.stdout.on('data', (d) => (stdout += d));
        child.on('close', (code) => {
            clearInterval(timer);
            if (code !== 0) return fail(new Error(`silo ${args[0]} exited with ${code}`));
            done({ stdout, seconds: Number(process.hrtime.bigint() - started) / 1e9, peakRssBytes: peak });
        });
    });
}

export async function clientBench(log: (line: string) => void = console.log): Promise<void> {
    const small = Number(process.env.SILO_BENCH_SMALL_MIB ?? 64);
    const large = Number(process.env.SILO_BENCH_LARGE_MIB ?? 512);
    const dir = mkdtempSync(join(tmpdir(), 'silo-bench-'));
    const state = join(dir, 'state');
    try {
        // Deploy first, so the timed upload measures the upload alone.
        await silo(['stats', '--state', state]);
        const file = join(dir, 'sample.bin');
        const expected = writeSample(file, small, 88172645);
        const up = await silo(['upload', file, '--state', state, '--json']);
        const asset = JSON.parse(up.stdout);
        if (asset.sha256 !== expected) throw new Error('uploaded hash differs');
        const down = await silo(['download', asset.id, '-o', join(dir, 'copy.bin'), '--state', state]);
        const copy = createHash('sha256').update(readFileSync(join(dir, 'copy.bin'))).digest('hex');
        if (copy !== expected) throw new Error('downloaded bytes differ');
        log(`client: ${small} MiB upload (embedded, one process, incl. start-up)  ${up.seconds.toFixed(1)} s = ${(small / up.seconds).toFixed(2)} MiB/s`);
        log(`client: ${small} MiB download (embedded, verified)                  ${down.seconds.toFixed(1)} s = ${(small / down.seconds).toFixed(2)} MiB/s`);
        rmSync(join(dir, 'copy.bin'));

        const big = join(dir, 'large.bin');
        writeSample(big, large, 2463534242);
        const run = await silo(['upload', big, '--state', state, '--json']);
        const verdict = run.peakRssBytes < 300e6 ? 'OK' : 'MISSED';
        log(`client: ${large} MiB upload peak RSS of the silo process             ${(run.peakRssBytes / MIB).toFixed(0)} MiB = ${(run.peakRssBytes / 1e6).toFixed(0)} MB (target < 300 MB) ${verdict}, in ${run.seconds.toFixed(0)} s`);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

if (resolve(process.argv[1] ?? '') === resolve(import.meta.filename)) {
    clientBench().catch((error) => {
        console.error(error);
        process.exit(1);
    });
}
