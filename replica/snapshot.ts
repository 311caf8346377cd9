/**
 * A lossless JSON form for the replica's host-side state (messages, callbacks, call contexts): plain
 * objects and arrays as they are, and the types JSON lacks tagged — `{"$n": "12"}` a bigint,
 * `{"$b": "<base64>"}` bytes, `{"$p": "<text>"}` a principal, `{"$m": [[k, v], ...]}` a Map. None of
 * this state holds a function or a class instance other than these: a callback is a Wasm table index
 * and an environment value, which mean the same after a restart because the heap and table come back.
 */
import { Principal } from '@dfinity/principal';

export type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };

export function toPlain(value: unknown): Plain {
    if (value === null || value === undefined) return null;
    switch (typeof value) {
        case 'boolean':
        case 'string':
            return value;
        case 'number':
            // NaN and infinities (f32/f64 globals) have no JSON number.
            return Number.isFinite(value) ? value : { $f: String(value) };
        case 'bigint':
            return { $n: value.toString() };
        case 'object':
            break;
        default:
            throw new TypeError(`cannot snapshot a ${typeof value}`);
    }
    if (value instanceof Uint8Array) return { $b: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
    if (value instanceof Principal || (value as { _isPrincipal?: unknown })._isPrincipal === true) return { $p: (value as Principal).toText() };
    if (value instanceof Map) return { $m: [...value].map(([k, v]) => [toPlain(k), toPlain(v)]) };
    if (Array.isArray(value)) return value.map(toPlain);
    const proto = Object.getPrototypeOf(value);
    // Anything else (a Set, a class instance holding a continuation) would come back as a bare object:
    // refuse it, so new host-side state is made serializable before a checkpoint can lose it.
    if (proto !== Object.prototype && proto !== null) throw new TypeError(`cannot snapshot a ${proto?.constructor?.name ?? 'value'}`);
    const out: { [key: string]: Plain } = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toPlain(v);
    return out;
}

export function fromPlain<T = unknown>(value: Plain): T {
    return revive(value) as T;
}

function revive(value: Plain): unknown {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map(revive);
    const keys = Object.keys(value);
    if (keys.length === 1) {
        const [key] = keys;
        const tagged = value[key];
        if (key === '$n' && typeof tagged === 'string') return BigInt(tagged);
        if (key === '$f' && typeof tagged === 'string') return Number(tagged);
        if (key === '$b' && typeof tagged === 'string') return new Uint8Array(Buffer.from(tagged, 'base64'));
        if (key === '$p' && typeof tagged === 'string') return Principal.fromText(tagged);
        if (key === '$m' && Array.isArray(tagged)) return new Map(tagged.map((pair) => [revive((pair as Plain[])[0]), revive((pair as Plain[])[1])]));
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = revive(v);
    return out;
}
