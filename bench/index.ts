/**
 * `npm run bench`: builds the canisters, then prints one run's figures on this machine, section by section.
 *     npm run bench                      all sections
 *     npx tsx bench/index.ts metering    only the named sections (replica, metering, calls, silo_costs, verifier, client, http, scaling, http_serving, certification, server, encryption, web, soak)
 * Sections marked `onlyByName` (the long model-based soak) run only when named.
 */
import { callsBench } from './calls';
import { clientBench } from './client';
import { encryptionBench } from './encryption';
import { httpBench } from './http';
import { certificationBench } from './certification';
import { httpServingBench } from './http_serving';
import { meteringBench } from './metering';
import { replicaBench } from './replica';
import { scalingBench } from './scaling';
import type { Log } from './report';
import { serverBench } from './server';
import { siloCostsBench } from './silo_costs';
import { soakBench } from './soak';
import { verifierBench } from './verifier';
import { webBench } from './web';

const sections: { name: string; title: string; run: (log: Log) => Promise<void>; onlyByName?: boolean }[] = [
    { name: 'replica', title: 'Replica (issue 2)', run: replicaBench },
    { name: 'metering', title: 'Instruction metering and SHA-256 (issue 4)', run: meteringBench },
    { name: 'calls', title: 'Instructions per canister call over a seeded model run', run: (log) => callsBench(log, process.argv.slice(3)) },
    { name: 'silo_costs', title: 'Silo upload costs on the IC (issue 4)', run: siloCostsBench },
    { name: 'verifier', title: 'Native verification vs in-canister hashing (issue 14)', run: verifierBench },
    { name: 'client', title: 'Client and silo CLI on the embedded replica (issue 5)', run: clientBench },
    { name: 'http', title: 'IC HTTP interface with @dfinity/agent (issue 11)', run: httpBench },
    { name: 'scaling', title: 'Per-call costs as data grows (issue 9)', run: scalingBench },
    { name: 'http_serving', title: 'HTTP serving from the buckets (issue 12)', run: httpServingBench },
    { name: 'certification', title: 'Certified HTTP responses at scale (issue 20)', run: certificationBench },
    { name: 'server', title: 'silo start: the CLI over HTTP against in-process (issue 11)', run: serverBench },
    { name: 'encryption', title: 'End-to-end encryption: uploads, shares and downloads in cycles (issue 21)', run: encryptionBench },
    { name: 'web', title: 'Web app upload from Chromium against the CLI, through silo start (issue 13)', run: webBench },
    { name: 'soak', title: 'Model-based soak: random operations and faults, nothing lost (issue 9)', run: async (log) => {
        const failed = await soakBench(log, process.argv.slice(3));
        if (failed.length > 0) throw new Error(`soak failed for seed(s) ${failed.join(', ')}`);
    }, onlyByName: true }
];

async function main(): Promise<void> {
    const wanted = process.argv.slice(2);
    const started = performance.now();
    console.log(`Silo benchmarks, Node ${process.version}, ${new Date().toISOString()}`);
    for (const section of sections) {
        if (wanted.length > 0 ? !wanted.includes(section.name) : section.onlyByName === true) continue;
        console.log('');
        console.log(`== ${section.title} ${'='.repeat(Math.max(0, 72 - section.title.length))}`);
        const t = performance.now();
        await section.run((line) => console.log(line));
        console.log(`  (section took ${((performance.now() - t) / 1000).toFixed(1)} s)`);
    }
    console.log('');
    console.log(`Total ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
