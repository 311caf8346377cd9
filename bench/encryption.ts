/**
 * What end-to-end encryption costs (issue 21), on the embedded network with IC metering and fees: the
 * cycles Silo's canisters spend (burned, plus the vetKD fees the index pays the management canister) for
 * an encrypted upload next to the same unencrypted upload, a share (with the data key known, and from a
 * fresh session: one derivation), a reader's first and second download, and an unshare.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { EmbeddedSilo } from '../client/embedded';
import { SiloClient } from '../client/silo';
import { identity } from '../tests/helpers/silo';
import { bytes } from '../tests/helpers/bytes';
import { ms, n, table, type Log } from './report';

const MIB = 1024 * 1024;

export async function encryptionBench(log: Log = console.log): Promise<void> {
    const size = Number(process.env.SILO_BENCH_E2E_MIB ?? 4) * MIB;
    const data = bytes(size, 21);
    const dir = mkdtempSync(join(tmpdir(), 'silo-e2e-bench-'));
    const silo = await EmbeddedSilo.open(join(dir, 'state'), { verifier: true });
    try {
        const replica = silo.pic.replica;
        const balance = () => [...replica.canisters.values()].reduce((sum, c) => sum + c.cycles, 0n);
        const client = (name: string) => new SiloClient({ transport: silo.transport(identity(name)), indexId: silo.indexId });
        const rows: (string | number)[][] = [];
        const measure = async <T>(label: string, derivations: () => number, work: () => Promise<T>): Promise<T> => {
            const before = balance();
            const d0 = derivations();
            const t0 = performance.now();
            const result = await work();
            rows.push([label, n(before - balance()), derivations() - d0, ms(performance.now() - t0)]);
            return result;
        };
        const alice = client('alice');
        const bob = client('bob');
        const none = () => 0;
        await measure(`unencrypted upload (${size / MIB} MiB)`, none, () => alice.upload(data, { name: 'plain.bin' }));
        const asset = await measure(`encrypted upload (${size / MIB} MiB)`, () => alice.keys.derivations, () => alice.upload(data, { name: 'sealed.bin', encrypt: true }));
        await measure('share (data key known from the upload)', () => alice.keys.derivations, () => alice.share(asset.id, identity('carol').getPrincipal()));
        const later = client('alice');
        await measure('share from a fresh session (owner derives once)', () => later.keys.derivations, () => later.share(asset.id, bob.principal));
        await measure(`reader's first download (derives once)`, () => bob.keys.derivations, () => bob.download(asset.id));
        await measure(`reader's second download (same session)`, () => bob.keys.derivations, () => bob.download(asset.id));
        await measure(`unencrypted download by the owner`, none, async () => alice.download((await alice.listAssets().next()).value!.id));
        await measure('unshare', none, () => alice.unshare(asset.id, bob.principal));
        log(`${size / MIB} MiB file, default chunks, SiloClient on the embedded network (IC metering and fees; key dfx_test_key, whose vetKD fee is the 13-node ${n(10_000_000_000n)})`);
        table(log, ['operation', 'cycles (all Silo canisters, vetKD fees included)', 'vetKey derivations', 'wall time (this machine)'], rows);
        log('On the IC with key_1 (34-node subnet) a derivation costs 26,153,846,153 cycles: add 16,153,846,153 per derivation above.');
    } finally {
        silo.close();
        rmSync(dir, { recursive: true, force: true });
    }
}
