/** The CLI's parts that need no replica: argument parsing, JSON shapes, names made safe to print. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import { assetId, chunkSize, GLOBAL_OPTIONS, parseCommandLine, UsageError } from '../../../client/cli/args';
import { COMMANDS } from '../../../client/cli/commands';
import { localName } from '../../../client/cli/download';
import { candidJson, terminalSafe } from '../../../client/cli/output';
import { commandHelp, EXIT, mainHelp } from '../../../client/cli';
import { Asset, BucketInfo, Stats } from '../../../shared/types';

const options = { ...GLOBAL_OPTIONS, public: { type: 'boolean' as const, help: '' }, name: { type: 'string' as const, help: '' }, output: { type: 'string' as const, short: 'o', help: '' } };

describe('parseCommandLine', () => {
    it('reads booleans as --flag, --no-flag and --flag=true|false, in any case', () => {
        expect(parseCommandLine(['upload', 'f', '--public'], options).values.public).toBe(true);
        expect(parseCommandLine(['upload', 'f', '--no-public'], options).values.public).toBe(false);
        expect(parseCommandLine(['upload', 'f', '--public=false'], options).values.public).toBe(false);
        expect(parseCommandLine(['upload', 'f', '--public=TRUE'], options).values.public).toBe(true);
        expect(parseCommandLine(['upload', 'f'], options).values.public).toBeUndefined();
        expect(() => parseCommandLine(['upload', '--public=1'], options)).toThrow(UsageError);
    });

    it('takes values inline or next, -o, and positionals after --', () => {
        const parsed = parseCommandLine(['upload', '--name=a=b', '-o', 'x', '--', '--public', '-'], options);
        expect(parsed).toMatchObject({ command: 'upload', positionals: ['--public', '-'], values: { name: 'a=b', output: 'x' }, given: ['name', 'output'] });
    });

    it('turns every parser complaint into a UsageError', () => {
        for (const argv of [['--bogus'], ['ls', '--name'], ['ls', '--json=maybe'], ['ls', '-x']]) expect(() => parseCommandLine(argv, options)).toThrow(UsageError);
    });
});

describe('argument rules', () => {
    it('chunk sizes are multiples of 64 within the maximum; ids are nat64s', () => {
        expect(chunkSize('64')).toBe(64);
        expect(chunkSize(undefined)).toBeUndefined();
        for (const bad of ['0', '63', '64.5', '1e3', '', '99999999999']) expect(() => chunkSize(bad)).toThrow(/multiple of 64/);
        expect(assetId('18446744073709551615')).toBe(2n ** 64n - 1n);
        expect(() => assetId('18446744073709551616')).toThrow(UsageError);
    });
});

describe('output', () => {
    const asset: Asset = {
        id: 7n,
        owner: Principal.fromText('aaaaa-aa'),
        name: 'a',
        content_type: 'text/plain',
        size: 2n ** 60n,
        sha256: new Uint8Array(32).fill(0xab),
        chunk_size: 64,
        chunk_count: 3,
        bucket: Principal.fromText('aaaaa-aa'),
        visibility: { public: null },
        created_at: 5n
    };

    it('prints Candid values as plain JSON: variants as names, opts as value or null, nat64 as strings, bytes as hex', () => {
        expect(candidJson(Asset, asset)).toEqual({
            id: '7',
            owner: 'aaaaa-aa',
            name: 'a',
            content_type: 'text/plain',
            size: String(2n ** 60n),
            sha256: 'ab'.repeat(32),
            chunk_size: 64,
            chunk_count: 3,
            bucket: 'aaaaa-aa',
            visibility: 'public',
            created_at: '5'
        });
        const bucket = { id: asset.owner, capacity_bytes: 1n, used_bytes: 0n, reserved_bytes: 0n, status: { full: null }, created_by_index: true, created_at: 1n, module_hash: [] as [], last_upgrade_error: ['boom'] as [string] };
        expect(candidJson(BucketInfo, bucket)).toMatchObject({ status: 'full', module_hash: null, last_upgrade_error: 'boom', created_by_index: true });
        expect(candidJson(Stats, { assets: 1n, stored_bytes: 2n, open_sessions: 0n, reserved_bytes: 0n, buckets: 1, pending_bucket_tasks: 0, bucket_wasm_hash: [new Uint8Array([1, 2])], cycles: 10n ** 30n })).toMatchObject({
            bucket_wasm_hash: '0102',
            cycles: String(10n ** 30n),
            buckets: 1
        });
    });

    it('escapes control characters, ANSI sequences and bidi overrides, reversibly', () => {
        expect(terminalSafe('\u001b[2J\u001b]0;title\u0007ok')).toBe('\\u{1b}[2J\\u{1b}]0;title\\u{7}ok');
        expect(terminalSafe('a\\u{1b}\u202eb\u009b\u007f')).toBe('a\\\\u{1b}\\u{202e}b\\u{9b}\\u{7f}');
        expect(terminalSafe('plain – ünïcode 名前')).toBe('plain – ünïcode 名前');
    });

    it('saves assets under a name that stays in the directory', () => {
        expect(localName('photo.jpg', 1n)).toBe('photo.jpg');
        expect(localName('a/b/c.txt', 1n)).toBe('c.txt');
        expect(localName('..', 4n)).toBe('asset-4');
        expect(localName('.', 4n)).toBe('asset-4');
        expect(localName('', 4n)).toBe('asset-4');
        expect(localName('../../etc/', 4n)).toBe('etc');
        expect(localName('..\\..\\x', 4n)).toBe('x');
        expect(localName('a\nb\u001b', 4n)).toBe('a_b_');
    });

    it('help lists every command of the table and each command its options', () => {
        for (const command of COMMANDS) {
            expect(mainHelp()).toContain(`  ${command.name} `);
            for (const name of Object.keys(command.options)) expect(commandHelp(command)).toContain(`--${name}`);
        }
    });
});

describe("README's command reference", () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## The `silo` command'), readme.indexOf('## The library'));
    const flags = (text: string) => [...text.matchAll(/--([a-z][\w-]*)/g)].map((m) => m[1]).sort();

    it('lists every command with exactly the options the binary takes', () => {
        const rows = [...section.matchAll(/^\| `([a-z]+)[^`]*` \|([^|]*)\|/gm)].map((m) => [m[1], m[2]] as const);
        expect(rows.map(([name]) => name).sort()).toEqual(COMMANDS.map((c) => c.name).sort());
        for (const [name, cell] of rows) expect(flags(cell), name).toEqual(Object.keys(COMMANDS.find((c) => c.name === name)!.options).sort());
    });

    it('lists the options of every command and the exit codes the binary uses', () => {
        const global = /Options of every command: ([\s\S]*?)\. A boolean/.exec(section)![1];
        expect(flags(global)).toEqual(Object.keys(GLOBAL_OPTIONS).sort());
        const codes = [...section.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
        expect(codes).toEqual(Object.values(EXIT).sort((a, b) => a - b));
    });
});
