/**
 * Command-line parsing for `silo`: Node's `util.parseArgs` over the global options and the command's
 * own, plus the checks every numeric or id argument goes through before any work starts.
 */
import { parseArgs } from 'node:util';

import { Principal } from '@dfinity/principal';

import { CHUNK_SIZE_RULE, chunkSizeProblem } from '../chunk_size';

/**
 * A usage error: the CLI exits 2 and, unless `usageHint` is false (the command line was right but
 * names something that cannot be used as is, e.g. a file that exists), adds a pointer to `--help`.
 */
export class UsageError extends Error {
    override name = 'UsageError';
    constructor(
        message: string,
        readonly usageHint = true
    ) {
        super(message);
    }
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two short words. */
function distance(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.length][b.length];
}

/** The one candidate closest to `word` (at most 2 edits, and fewer than half its letters), or undefined. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const candidate of candidates) {
        const d = distance(word.toLowerCase(), candidate.toLowerCase());
        if (d < bestDistance) [best, bestDistance] = [candidate, d];
    }
    return bestDistance <= Math.min(2, Math.floor(word.length / 2)) ? best : undefined;
}

/** ": did you mean X?" when one candidate is close to `word`, else "". */
export function didYouMean(word: string, candidates: Iterable<string>, show: (c: string) => string = (c) => c): string {
    const match = closest(word, candidates);
    return match === undefined ? '' : `: did you mean ${show(match)}?`;
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
    identity: { type: 'string', value: '<pem>', help: "who to call as (default: the key kept in --state, also for --network local when it has one)" },
    state: { type: 'string', value: '<dir>', help: 'state directory of the embedded network (default ./.silo)' },
    host: { type: 'string', value: '<url>', help: "override the network's URL" },
    json: { type: 'boolean', help: 'print results as JSON on stdout, errors as {"error": {"code", "message"}}' },
    verbose: { type: 'boolean', help: "on a failure, print the whole error (its causes, the agent's details) after the one-line message" },
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
        throw new UsageError(parseErrorMessage(error, options));
    }
    const given = result.tokens.filter((t) => t.kind === 'option').map((t) => (t as { name: string }).name);
    const [command, ...positionals] = result.positionals;
    return { command, positionals, values: result.values as Parsed['values'], given };
}

/** parseArgs' messages, shortened to what the user typed. */
function parseErrorMessage(error: unknown, options: OptionTable): string {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    if (unknown) {
        const typed = unknown[1].replace(/^-+/, '').replace(/^no-/, '');
        return `unknown option ${unknown[1]}${unknown[1].startsWith('--') ? didYouMean(typed, Object.keys(options), (c) => `--${unknown[1].startsWith('--no-') && options[c]?.type === 'boolean' ? 'no-' : ''}${c}`) : ''}`;
    }
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

/** `--chunk-size`: the library's chunk-size rule (client/chunk_size.ts); the index's minimum is checked once connected. */
export function chunkSize(text: string | undefined): number | undefined {
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text)) throw new UsageError(`--chunk-size must be ${CHUNK_SIZE_RULE}, got '${text}'`);
    if (chunkSizeProblem(Number(text)) !== null) throw new UsageError(`--chunk-size must be ${CHUNK_SIZE_RULE}, got ${text}`);
    return Number(text);
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
