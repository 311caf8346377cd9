/**
 * Command-line parsing for `silo`: Node's `util.parseArgs` over the global options and the command's
 * own, plus the checks every numeric or id argument goes through before any work starts.
 */
import { parseArgs } from 'node:util';

import { Principal } from '@dfinity/principal';

import { MAX_CHUNK_SIZE } from '../../shared/constants';

/** A usage error: the CLI prints it with a pointer to `--help` and exits 2. */
export class UsageError extends Error {
    override name = 'UsageError';
}

/** One option: `--name <value>` (string) or `--name`/`--no-name`/`--name=true|false` (boolean). */
export interface OptionSpec {
    type: 'string' | 'boolean';
    /** One-letter alias, e.g. `o` for `-o`. */
    short?: string;
    /** The value's placeholder in help, e.g. `<bytes>` (string options). */
    value?: string;
    /** One line for `silo help <command>`. */
    help: string;
}

export type OptionTable = Record<string, OptionSpec>;

/** Options every command accepts. */
export const GLOBAL_OPTIONS: OptionTable = {
    network: { type: 'string', value: '<name>', help: 'embedded (default: in-process replica kept in --state), local or ic' },
    index: { type: 'string', value: '<canister-id>', help: 'the index canister (required with --network local|ic)' },
    identity: { type: 'string', value: '<pem>', help: 'who to call as (embedded default: a key kept in --state)' },
    state: { type: 'string', value: '<dir>', help: 'state directory of the embedded network (default ./.silo)' },
    host: { type: 'string', value: '<url>', help: "override the network's URL" },
    json: { type: 'boolean', help: 'print results as JSON on stdout, errors as {"error": {"code", "message"}}' },
    help: { type: 'boolean', short: 'h', help: 'show help' },
    version: { type: 'boolean', help: 'print the version' }
};

/** What a command line says, once parsed. */
export interface Parsed {
    command: string | undefined;
    positionals: string[];
    values: Record<string, string | boolean | undefined>;
    /** The options given on the command line (long names), in order. */
    given: string[];
}

/**
 * Parses `argv` against `options` (the union of all commands' options and the global ones; the caller
 * checks that each given option belongs to the command). Booleans take `--flag`, `--no-flag` and
 * `--flag=true|false`; `--` ends the options.
 */
export function parseCommandLine(argv: string[], options: OptionTable): Parsed {
    const args: string[] = [];
    let ended = false;
    for (const arg of argv) {
        const inline = ended ? null : /^--([^=]+)=(.*)$/s.exec(arg);
        if (arg === '--') ended = true;
        if (inline !== null && options[inline[1]]?.type === 'boolean') {
            const value = inline[2].toLowerCase();
            if (value !== 'true' && value !== 'false') throw new UsageError(`--${inline[1]} takes true or false, got '${inline[2]}'`);
            args.push(value === 'true' ? `--${inline[1]}` : `--no-${inline[1]}`);
        } else {
            args.push(arg);
        }
    }
    let result;
    try {
        result = parseArgs({
            args,
            options: Object.fromEntries(Object.entries(options).map(([name, spec]) => [name, { type: spec.type, ...(spec.short ? { short: spec.short } : {}) }])),
            allowPositionals: true,
            allowNegative: true,
            strict: true,
            tokens: true
        });
    } catch (error) {
        throw new UsageError(parseErrorMessage(error));
    }
    const given = result.tokens.filter((t) => t.kind === 'option').map((t) => (t as { name: string }).name);
    const [command, ...positionals] = result.positionals;
    return { command, positionals, values: result.values as Parsed['values'], given };
}

/** parseArgs' messages, shortened to what the user typed. */
function parseErrorMessage(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    if (unknown) return `unknown option ${unknown[1]}`;
    const missing = /^Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(message);
    if (missing) return `${missing[1]} needs a value`;
    const ambiguous = /^Option '(?:-\w, )?(--[\w-]+)' argument is ambiguous/.exec(message);
    if (ambiguous) return `${ambiguous[1]} needs a value (a value starting with - is written ${ambiguous[1]}=-...)`;
    const noArgument = /^Option '(?:-\w, )?(--[\w-]+)' does not take an argument/.exec(message);
    if (noArgument) return `${noArgument[1]} takes no value (use ${noArgument[1]}=true or =false)`;
    return message.split('\n')[0].replace(/\.$/, '');
}

/** A whole number in [min, max], or a usage error stating the rule. */
export function wholeNumber(name: string, text: string | undefined, min: number, max: number): number | undefined {
    if (text === undefined) return undefined;
    const rule = `a whole number from ${min} to ${max}`;
    if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be ${rule}, got '${text}'`);
    const value = Number(text);
    if (value < min || value > max) throw new UsageError(`--${name} must be ${rule}, got ${text}`);
    return value;
}

/** `--chunk-size`: what begin_upload accepts (a multiple of 64 bytes, from 64 to the maximum chunk). */
export function chunkSize(text: string | undefined): number | undefined {
    if (text === undefined) return undefined;
    const rule = `a multiple of 64 from 64 to ${MAX_CHUNK_SIZE} (bytes)`;
    if (!/^\d+$/.test(text)) throw new UsageError(`--chunk-size must be ${rule}, got '${text}'`);
    const value = Number(text);
    if (value < 64 || value > MAX_CHUNK_SIZE || value % 64 !== 0) throw new UsageError(`--chunk-size must be ${rule}, got ${text}`);
    return value;
}

const NAT64_MAX = 2n ** 64n - 1n;

/** An asset id: a nat64. */
export function assetId(text: string | undefined): bigint {
    if (text === undefined) throw new UsageError('an asset id is required');
    if (!/^\d+$/.test(text) || BigInt(text) > NAT64_MAX) throw new UsageError(`'${text}' is not an asset id (a whole number below 2^64)`);
    return BigInt(text);
}

/** A principal in its text form. */
export function principal(name: string, text: string): Principal {
    try {
        return Principal.fromText(text);
    } catch {
        throw new UsageError(`--${name} '${text}' is not a principal`);
    }
}
