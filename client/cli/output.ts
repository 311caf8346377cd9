/**
 * What `silo` prints: results on stdout (text, or JSON with --json), notes and progress on stderr, and
 * names from canisters made safe for a terminal.
 */
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import { toHex } from '../../shared/sha256';
import type { Progress } from '../silo';

/**
 * A Candid value as plain JSON, guided by its type: nat64/nat/int as decimal strings (JSON numbers lose
 * precision past 2^53), nat32 and smaller as numbers, principals as text, `vec nat8` as hex, an `opt` as
 * its value or `null`, a variant whose case carries nothing as the case's name (`"public"`), any other
 * variant as `{ case: value }`.
 */
export function candidJson(type: IDL.Type, value: unknown): unknown {
    if (type instanceof IDL.RecClass) return candidJson(type.getType()!, value);
    if (type instanceof IDL.OptClass) return (value as unknown[]).length === 0 ? null : candidJson(type._type, (value as unknown[])[0]);
    if (type instanceof IDL.VecClass) {
        if (type._type instanceof IDL.FixedNatClass && type._type._bits === 8) return toHex(value as Uint8Array);
        return Array.from(value as ArrayLike<unknown>, (v) => candidJson(type._type, v));
    }
    if (type instanceof IDL.VariantClass) {
        const [key, inner] = Object.entries(value as object)[0];
        const field = type._fields.find(([name]) => name === key)![1];
        return field instanceof IDL.NullClass ? key : { [key]: candidJson(field, inner) };
    }
    if (type instanceof IDL.RecordClass) {
        return Object.fromEntries(type._fields.map(([name, field]) => [name, candidJson(field, (value as Record<string, unknown>)[name])]));
    }
    if (type instanceof IDL.PrincipalClass) return (value as Principal).toText();
    if (typeof value === 'bigint') return value.toString();
    return value;
}

const ESC = '\u001b';

/**
 * Text from canisters (anyone's asset names) made safe to print on a terminal: control characters
 * (C0, DEL, C1, so ANSI escape sequences too) and Unicode bidi overrides are shown as `\u{..}` escapes,
 * and a backslash as `\\`, so what is shown always maps back to one name.
 */
export function terminalSafe(text: string): string {
    // eslint-disable-next-line no-control-regex
    return text.replace(/[\\\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => (c === '\\' ? '\\\\' : `\\u{${c.codePointAt(0)!.toString(16)}}`));
}

/** Where the CLI writes: results, notes, errors and progress. */
export class Output {
    constructor(
        readonly json: boolean,
        /** --verbose: a failure's details follow its one line. */
        readonly verbose = false,
        private readonly out: NodeJS.WriteStream = process.stdout,
        private readonly err: NodeJS.WriteStream = process.stderr
    ) {}

    /**
     * A name from a canister, for a text line. Escaped whether or not stdout is a terminal: piped text
     * usually ends up on one too (`| less -R`, CI logs); --json carries names exactly.
     */
    name(text: string): string {
        return terminalSafe(text);
    }

    /** A result: `value` as one JSON document with --json, else `text()`. */
    result(value: unknown, text: () => string): void {
        this.out.write(this.json ? `${JSON.stringify(value)}\n` : `${text()}\n`);
    }

    /** One line on stdout as is (streams of results, NDJSON). */
    line(text: string): void {
        this.out.write(`${text}\n`);
    }

    /** Notes go to stderr, so stdout stays the result alone (also with --json). Names in them are escaped. */
    note(text: string): void {
        this.err.write(`${text}\n`);
    }

    /**
     * An error: one `silo: ...` line on stderr (the message's first line: a library's or the agent's
     * multi-line text never spills), and a `hint` line under it for usage errors; with --json also
     * `{"error": {"code", "message"}}` on stdout. `details` (the rest: causes, stacks) only with --verbose.
     */
    error(code: string, message: string, hint?: string, details?: string): void {
        const line = oneLine(message);
        if (this.json) this.out.write(`${JSON.stringify({ error: { code, message: line } })}\n`);
        this.err.write(`silo: ${line}\n${hint === undefined ? '' : `${hint}\n`}`);
        if (this.verbose && details !== undefined && details.trim() !== '') this.err.write(`${details.trimEnd()}\n`);
    }

    /** A progress line with phase, bar, speed and ETA, on a terminal only (quiet when piped or with --json). */
    progress(label: string): { update(p: Progress): void; done(): void } {
        if (this.json || !this.err.isTTY) return { update: () => {}, done: () => {} };
        const safe = terminalSafe(label);
        let phase = '';
        let start = { at: Date.now(), bytes: 0 };
        let last = 0;
        let drawn = false;
        return {
            update: (p) => {
                if (p.phase !== phase) {
                    phase = p.phase;
                    // Speed counts only what this phase moves from now on: a resumed upload starts part way.
                    start = { at: Date.now(), bytes: p.bytesDone };
                } else if (Date.now() - last < 100 && p.bytesDone < p.bytesTotal) return;
                last = Date.now();
                this.err.write(`\r${ESC}[K${progressLine(safe, p, start, Date.now())}`);
                drawn = true;
            },
            done: () => {
                if (drawn) this.err.write('\n');
            }
        };
    }
}

/**
 * One progress line: label, phase, bar and percentage, then speed and ETA once the phase has moved
 * bytes (measured from `start`, the phase's first report), never a made-up "0 B/s ETA 0:00".
 */
export function progressLine(label: string, p: Progress, start: { at: number; bytes: number }, now: number): string {
    const fraction = p.bytesTotal === 0 ? 1 : p.bytesDone / p.bytesTotal;
    const width = 24;
    const bar = '#'.repeat(Math.round(fraction * width)).padEnd(width, '-');
    const line = `${label} ${p.phase.padEnd(9)} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}%`;
    const moved = p.bytesDone - start.bytes;
    const seconds = (now - start.at) / 1000;
    if (moved <= 0 || seconds <= 0) return line;
    const speed = moved / seconds;
    return `${line} ${formatBytes(speed)}/s ETA ${formatSeconds((p.bytesTotal - p.bytesDone) / speed)}`;
}

/** A message as one line: its first non-empty line, a trailing colon dropped. */
export function oneLine(message: string): string {
    return (message.split('\n').find((l) => l.trim() !== '') ?? '').trim().replace(/:$/, '');
}

/** Everything known about an error, for --verbose: its stack and each cause's. */
export function errorDetails(error: unknown): string {
    const parts: string[] = [];
    for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
        if (e instanceof Error) parts.push(`${depth === 0 ? '' : 'caused by: '}${e.stack ?? `${e.name}: ${e.message}`}`);
        else if (typeof e === 'object') break;
        else parts.push(`caused by: ${String(e)}`);
    }
    return parts.join('\n');
}

export function formatBytes(n: number): string {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
        n /= 1024;
        i++;
    }
    return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function formatSeconds(s: number): string {
    const total = Math.round(s);
    return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}
