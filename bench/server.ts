/**
 * `silo start` figures (issue 11): a 64 MiB `silo upload` through a running server (HttpAgent over the
 * IC HTTP interface) against the same upload on the in-process embedded network, in the same run.
 * Target: the HTTP path takes at most 20% more wall time. SILO_BENCH_SMALL_MIB lowers the size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { spawnSiloStart } from '../tests/helpers/server';
import { silo, writeSample } from './client';
import type { Log } from './report';

export async function serverBench(log: Log = console.log): Promise<void> {
    const mib = Number(process.env.SILO_BENCH_SMALL_MIB ?? 64);
    const dir = mkdtempSync(join(tmpdir(), 'silo-bench-server-'));
    try {
        const file = join(dir, 'sample.bin');
        const digest = writeSample(file, mib, 0x5eed);

        // The embedded CLI: deploy first, so the timed run is the upload alone.
        const embeddedState = join(dir, 'embedded');
        await silo(['stats', '--state', embeddedState]);
        const embedded = await silo(['upload', file, '--state', embeddedState, '--json']);

        const served = join(dir, 'served');
        const server = await spawnSiloStart(served);
        let http;
        try {
            http = await silo(['upload', file, '--state', served, '--json']);
        } finally {
            await server.stop();
        }
        for (const run of [embedded, http]) {
            if (JSON.parse(run.stdout).sha256 !== digest) throw new Error('an upload committed other bytes than the file holds');
        }
        const rate = (seconds: number) => `${(mib / seconds).toFixed(1)} MiB/s`;
        const extra = http.seconds / embedded.seconds - 1;
        log(`server: ${mib} MiB silo upload, embedded (in-process)        ${embedded.seconds.toFixed(2)} s  ${rate(embedded.seconds)}`);
        log(`server: ${mib} MiB silo upload, through silo start (HTTP)    ${http.seconds.toFixed(2)} s  ${rate(http.seconds)}`);
        log(`server: HTTP path costs ${(extra * 100).toFixed(0)}% more wall time (target ≤ 20%) ${extra <= 0.2 ? 'met' : 'NOT met'}`);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}
