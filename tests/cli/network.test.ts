/**
 * `--network local` as a new user meets it (issue 19): every command, `deploy` included, resolves the
 * network the same way (the `silo start` serving --state, on whatever port); calls are never silently
 * anonymous; and a refusal from the agent is one line, not a dump of HTTP headers.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { identityFromPem, newEd25519Pem } from '../../client/identity';
import { spawnSiloStart, type SpawnedServer } from '../helpers/server';
import { bytes } from '../helpers/silo';
import { silo } from './run';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

const dir = mkdtempSync(join(tmpdir(), 'silo-network-'));
const state = join(dir, 'state');
const bare = join(dir, 'bare');
mkdirSync(bare);
const file = join(dir, 'notes.txt');
writeFileSync(file, bytes(3000, 9));
const otherPem = join(dir, 'other.pem');
writeFileSync(otherPem, newEd25519Pem());

let server: SpawnedServer;
let assetId: string;

describe('--network local', () => {
    beforeAll(async () => {
        // `silo start` on a port that is not dfx's 4943.
        server = await spawnSiloStart(state);
        const up = await silo(['upload', file, '--state', state, '--json']);
        expect(up.code, up.stderr).toBe(0);
        assetId = JSON.parse(up.stdout).id;
    });
    afterAll(async () => {
        if (server !== undefined) expect(await server.stop(), server.stderr()).toBe(0);
    });

    it('calls as the state directory\'s identity, and says so, instead of anonymously', async () => {
        const principal = (await identityFromPem(newEd25519Pem())).getPrincipal(); // a stranger, for contrast
        const ls = await silo(['ls', '--network', 'local', '--state', state, '--json']);
        expect(ls.code, ls.stderr).toBe(0);
        expect(JSON.parse(ls.stdout).map((a: { id: string }) => a.id)).toEqual([assetId]);
        expect(ls.stderr).toMatch(new RegExp(`^calling as [a-z0-9-]+, the identity in ${state}/identity\\.pem; pass --identity <pem> to call as another\\n$`));
        expect(ls.stderr).not.toContain(principal.toText());
    });

    it('refuses a command on your files when there is no identity to call as, and says what to pass', async () => {
        const refused = await silo(['ls', '--network', 'local', '--host', server.url, '--index', server.index, '--state', bare]);
        expect(refused.code).toBe(2);
        expect(refused.stderr).toMatch(/^silo: --network local needs --identity <pem> to act as you \(e\.g\. .*\), or --state a directory holding an identity\.pem \(.* has none\); without it the calls would be anonymous\n/);
        // Deployment-wide reads need no identity.
        const stats = await silo(['stats', '--network', 'local', '--host', server.url, '--index', server.index, '--state', bare]);
        expect(stats.code, stats.stderr).toBe(0);
        expect(stats.stderr).toBe('');
    });

    it('prints a refusal from the agent as one line; --verbose adds the details', async () => {
        // Deleting someone else's asset: inspect_message drops it, the agent reports the reject with its HTTP details.
        const args = ['rm', assetId, '--network', 'local', '--state', state, '--identity', otherPem];
        const refused = await silo(args);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/^silo: Call to delete_asset on [a-z0-9-]+ was rejected: .*Canister rejected the message \(reject code 4, IC0406\)\n$/);
        const verbose = await silo([...args, '--verbose']);
        expect(verbose.code).toBe(1);
        expect(verbose.stderr.split('\n')[0]).toBe(refused.stderr.split('\n')[0]);
        expect(verbose.stderr).toMatch(/HTTP details/);
        // Still ours.
        expect((await silo(['info', assetId, '--state', state])).code).toBe(0);
    });

    it('deploys through the `silo start` serving --state, and the printed next command works as printed', async () => {
        const deployed = await silo(['deploy', '--network', 'local', '--state', state]);
        expect(deployed.code, deployed.stderr).toBe(0);
        const index = /^index ([a-z0-9-]+)$/m.exec(deployed.stdout)![1];
        expect(index).not.toBe(server.index);
        const next = /^next: (.*)$/m.exec(deployed.stdout)![1];
        expect(next).toBe(`silo ls --network local --host ${server.url} --index ${index} --state ${state}`);
        const [, ...args] = next.split(' ');
        const ls = await silo(args);
        expect(ls.code, ls.stderr).toBe(0);
        expect(ls.stdout).toBe('no assets\n');
        // The new index takes an upload through that server, and lists it.
        const up = await silo(['upload', file, ...args.slice(1), '--json']);
        expect(up.code, up.stderr).toBe(0);
        expect(JSON.parse(up.stdout)).toMatchObject({ name: 'notes.txt', content_type: 'text/plain' });
        expect((await silo(args)).stdout).toMatch(/notes\.txt/);
    });
});
