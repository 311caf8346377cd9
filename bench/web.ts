/**
 * Web app figures (issue 13): upload throughput of a 64 MiB file from the page in headless Chromium
 * (the client library bundled for browsers, over @dfinity/agent) against the `silo` CLI uploading the
 * same bytes through the same `silo start` server, in the same run. SILO_BENCH_WEB_MIB lowers the size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { launchChromium, openApp, runCli, startSilo } from '../tests/web/harness';
import { writeSample } from './client';
import { type Log, table } from './report';

export async function webBench(log: Log = console.log): Promise<void> {
    const mib = Number(process.env.SILO_BENCH_WEB_MIB ?? 64);
    const dir = mkdtempSync(join(tmpdir(), 'silo-bench-web-'));
    const file = join(dir, 'sample.bin');
    const silo = await startSilo(join(dir, 'state'));
    const browser = await launchChromium();
    try {
        const expected = writeSample(file, mib, 88172645);
        const page = await browser.newPage();
        await openApp(page, silo);

        // The page: from handing the file to the input until the upload row says committed and verified.
        await page.check('#visibility-public'); // so that `silo ls --owner` can check what the page stored
        const pageStarted = performance.now();
        await page.setInputFiles('#file-input', file);
        await page.waitForSelector('.upload[data-phase="done"]', { timeout: 30 * 60_000 });
        const pageSeconds = (performance.now() - pageStarted) / 1000;

        // The CLI through the same server (it finds `silo start` holding the state directory).
        const cliStarted = performance.now();
        const uploaded = await runCli(['upload', file, '--name', 'cli.bin', '--state', join(dir, 'state'), '--json']);
        const cliSeconds = (performance.now() - cliStarted) / 1000;
        if (uploaded.code !== 0) throw new Error(`silo upload failed: ${uploaded.stderr}`);

        const listed = await runCli(['ls', '--state', join(dir, 'state'), '--owner', await page.textContent('#principal').then((p) => p!.trim()), '--json']);
        const pageAsset = listed.code === 0 ? JSON.parse(listed.stdout).find((a: { name: string }) => a.name === 'sample.bin') : undefined;
        table(
            log,
            ['upload of ' + `${mib} MiB`, 'wall time', 'MiB/s'],
            [
                ['web page (Chromium)', `${pageSeconds.toFixed(2)} s`, (mib / pageSeconds).toFixed(2)],
                ['silo CLI', `${cliSeconds.toFixed(2)} s`, (mib / cliSeconds).toFixed(2)]
            ]
        );
        log(`  page / CLI wall time: ${(pageSeconds / cliSeconds).toFixed(2)}×; both through ${silo.url}`);
        if (pageAsset !== undefined) log(`  page upload sha256 ${pageAsset.sha256 === expected ? 'matches' : 'DIFFERS FROM'} the file's`);
    } finally {
        await browser.close();
        await silo.stop();
        rmSync(dir, { recursive: true, force: true });
    }
}
