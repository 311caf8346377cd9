/**
 * The `silo` binary's answers to bad and unusual command lines: each is checked before any state is
 * opened or any call made, so these runs are quick.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { silo } from './run';

const dir = mkdtempSync(join(tmpdir(), 'silo-usage-'));
const state = join(dir, 'never-created');
const file = join(dir, 'a.txt');
writeFileSync(file, 'hello');

/** One `silo: ...` line, the --help pointer, exit 2, and no state directory created. */
async function usage(args: string[], message: RegExp): Promise<void> {
    const result = await silo([...args, '--state', state]);
    expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
    expect(result.stderr, args.join(' ')).toMatch(message);
    expect(result.stderr.split('\n').filter(Boolean), args.join(' ')).toHaveLength(2);
    expect(result.stderr).toMatch(/^silo: .*\nRun `silo --help` for usage\.\n$/);
}

describe('silo usage errors (exit 2, before any work)', () => {
    it('validates every numeric option with a message that states the rule', async () => {
        for (const value of ['0', '63', '64.5', '100', '=-64', '2000000000', 'abc', '=']) {
            const args = value.startsWith('=') ? [`--chunk-size${value}`] : ['--chunk-size', value];
            await usage(['upload', file, ...args], /--chunk-size must be a multiple of 64 from 64 to \d+ bytes, got/);
        }
        await usage(['upload', file, '--chunk-size', '-64'], /--chunk-size needs a value \(a value starting with - is written --chunk-size=-\.\.\.\)/);
        for (const value of ['0', '65', '1.5', 'x']) await usage(['upload', file, '--concurrency', value], /--concurrency must be a whole number from 1 to 64/);
        await usage(['download', '1', '--concurrency', '0'], /--concurrency must be a whole number from 1 to 64/);
    });

    it('refuses asset ids that are not nat64s, with a usage error rather than a Candid dump', async () => {
        for (const id of ['18446744073709551616', '99999999999999999999999', '1.5', '1e3', 'x1']) {
            await usage(['info', id], /is not an asset id \(a whole number below 2\^64\)/);
        }
    });

    it('takes booleans as --flag, --no-flag and --flag=true|false only', async () => {
        await usage(['upload', file, '--public=yes'], /--public takes true or false, got 'yes'/);
        await usage(['ls', '--owner'], /--owner needs a value/);
        await usage(['ls', '--bogus'], /unknown option --bogus/);
        await usage(['ls', '--public'], /ls does not take --public/);
        await usage(['download', '1', '--chunk-size', '64'], /download does not take --chunk-size/);
    });

    it('suggests the command or option a typo was meant to be', async () => {
        await usage(['uplod', file], /unknown command 'uplod': did you mean upload\?/);
        await usage(['upload', file, '--pubic'], /unknown option --pubic: did you mean --public\?/);
        await usage(['upload', file, '--no-pubic'], /unknown option --no-pubic: did you mean --no-public\?/);
        await usage(['ls', '--ownr', 'x'], /unknown option --ownr: did you mean --owner\?/);
        await usage(['ls', '--chunk-sise', '64'], /unknown option --chunk-sise: did you mean --chunk-size\?/);
        await usage(['help', 'dowload'], /unknown command 'dowload': did you mean download\?/);
        // Nothing close: no suggestion.
        await usage(['frobnicate'], /unknown command 'frobnicate'\n/);
    });

    it('refuses --name with several files, missing files and a second stdin', async () => {
        await usage(['upload', file, file, '--name', 'x'], /--name names one file, but several were given/);
        // The command line is right, the file is not: one line, no pointer to --help.
        for (const [args, message] of [
            [['upload', join(dir, 'missing')], /does not exist\n$/],
            [['upload', dir], /is not a file\n$/]
        ] as const) {
            const result = await silo([...args, '--state', state]);
            expect(result.code).toBe(2);
            expect(result.stderr).toMatch(/^silo: [^\n]*\n$/);
            expect(result.stderr).toMatch(message);
        }
        await usage(['upload', '-', '-'], /stdin \(-\) can be uploaded only once/);
        await usage(['download', '1', '-o', '-', '--json'], /-o - writes the asset to stdout/);
    });

    it('refuses an identity it cannot use in one line (no library stack)', async () => {
        const rsa = join(dir, 'rsa.pem');
        // An RSA key (PKCS#8): a key type Silo does not support.
        const { generateKeyPairSync } = await import('node:crypto');
        writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
        await usage(['ls', '--identity', rsa], /^silo: --identity: .*rsa\.pem holds no private key Silo can read \(not secp256k1 or Ed25519: .*\): use a secp256k1/);
        await usage(['ls', '--identity', join(dir, 'nope.pem')], /--identity: Identity file .* does not exist/);
    });

    it('answers help, help <command> and --version, and --json errors as JSON', async () => {
        const help = await silo(['help', 'upload']);
        expect(help.code).toBe(0);
        expect(help.stdout).toMatch(/^Usage: silo upload <files\.\.\.> \[options\]/);
        expect(help.stdout).toMatch(/--chunk-size <bytes>/);
        expect((await silo(['download', '--help'])).stdout).toMatch(/-o, --output <path>/);
        const version = await silo(['--version']);
        expect(version.code).toBe(0);
        expect(version.stdout).toMatch(/^silo \d+\.\d+\.\d+\n$/);
        const unknown = await silo(['help', 'frobnicate']);
        expect(unknown.code).toBe(2);
        const json = await silo(['info', 'x', '--json', '--state', state]);
        expect(json.code).toBe(2);
        expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'UsageError', message: "'x' is not an asset id (a whole number below 2^64)" } });
    });

    it('says how to start a replica when nothing listens at --network local (exit 1, one line)', async () => {
        const { createServer } = await import('node:net');
        // A port that was free a moment ago: nothing listens there now.
        const server = createServer().listen(0, '127.0.0.1');
        await new Promise((r) => server.once('listening', r));
        const port = (server.address() as { port: number }).port;
        await new Promise((r) => server.close(r));
        const { newEd25519Pem } = await import('../../client/identity');
        const pem = join(dir, 'me.pem');
        writeFileSync(pem, newEd25519Pem());
        const result = await silo(['ls', '--network', 'local', '--index', 'lxzze-o7777-77777-aaaaa-cai', '--host', `http://127.0.0.1:${port}`, '--identity', pem]);
        expect(result.code).toBe(1);
        expect(result.stderr).toBe(`silo: no replica at http://127.0.0.1:${port}: start one with \`silo start\` or \`dfx start\`\n`);
    });
});
