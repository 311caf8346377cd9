/**
 * Candid encoding and decoding that builds each type table once.
 *
 * `IDL.encode` rebuilds and serialises the whole type table on every call, and `IDL.decode` parses the
 * table and rebuilds types from it before it reads a single value. For Silo's result types (a variant of
 * a record and the `SiloError` variant) that is almost all of the work: ~98% of an encode in Node, and in
 * a canister (QuickJS inside Wasm) 40–65 M instructions per reply against ~1 M for the value itself.
 *
 * Here the bytes before the values (magic number, type table, argument count and type references) are
 * built once per list of types ({@link buildPrefix}; lists with recursive, function or service types
 * have `IDL.encode` write them once, for the list's smallest values). The output is exactly
 * `IDL.encode`'s. Decoding takes the fast path only when the message begins with exactly those bytes, so
 * its wire types are ours: each value is read by a decoder made once per type ({@link decoderOf}) and
 * comes out as `IDL.decode` gives it. Any other message (another table order, a subtype, junk), and any
 * list with a recursive, function or service type, goes through `IDL.decode` unchanged. Every vector in Silo's interfaces has elements of at least one byte, so a
 * claimed length is bounded by the message's size.
 *
 * Lists are cached by identity: pass a list that lives as long as the types (a `Func`'s `argTypes`, or a
 * constant), not a fresh array per call.
 */
import { IDL, idlLabelToId } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { concatBytes as concat, leb128 as lebEncode, sleb128 as slebEncode } from './bytes';

const prefixes = new WeakMap<readonly IDL.Type[], Uint8Array>();

function encodeValues(types: readonly IDL.Type[], values: readonly unknown[]): Uint8Array[] {
    return types.map((t, i) => {
        // As IDL.encode: a value of the wrong shape is refused before any byte is written.
        if (!t.covariant(values[i])) throw new Error(`Invalid ${t.display()} argument`);
        return t.encodeValue(values[i]);
    });
}

/** The smallest value of each type, to have `IDL.encode` write the table once; null where none exists. */
class Smallest extends IDL.Visitor<number, unknown> {
    visitType<T>(t: IDL.Type<T>): unknown {
        throw new Error(`candid codec: no value of ${t.display()}`);
    }
    visitNull = (): unknown => null;
    visitReserved = (): unknown => null;
    visitBool = (): unknown => false;
    visitText = (): unknown => '';
    visitNat = (): unknown => 0n;
    visitInt = (): unknown => 0n;
    visitFloat = (): unknown => 0;
    visitFixedNat = (t: IDL.FixedNatClass): unknown => (t._bits === 64 ? 0n : 0);
    visitFixedInt = (t: IDL.FixedIntClass): unknown => (t._bits === 64 ? 0n : 0);
    visitPrincipal = (): unknown => Principal.anonymous();
    visitVec = (): unknown => [];
    visitOpt = (): unknown => [];
    visitFunc = (): unknown => [Principal.anonymous(), ''];
    visitService = (): unknown => Principal.anonymous();
    visitRecord(_t: IDL.RecordClass, fields: [string, IDL.Type][], depth: number): unknown {
        return Object.fromEntries(fields.map(([k, ty]) => [k, ty.accept(this, depth + 1)]));
    }
    visitTuple<T extends unknown[]>(_t: IDL.TupleClass<T>, components: IDL.Type[], depth: number): unknown {
        return components.map((ty) => ty.accept(this, depth + 1));
    }
    visitVariant(_t: IDL.VariantClass, fields: [string, IDL.Type][], depth: number): unknown {
        // The first case with a value (a recursive type ends in a case that does not recurse forever).
        for (const [k, ty] of fields) {
            try {
                if (depth < 32) return { [k]: ty.accept(this, depth + 1) };
            } catch {
                /* try the next case */
            }
        }
        throw new Error('candid codec: a variant without a finite value');
    }
    visitRec<T>(_t: IDL.RecClass<T>, ty: IDL.ConstructType<T>, depth: number): unknown {
        return ty.accept(this, depth + 1);
    }
}
const smallest = new Smallest();

const MAGIC = new TextEncoder().encode('DIDL');
const primitiveRefs = new WeakMap<IDL.Type, Uint8Array>();
/** A primitive's reference is its opcode, which needs no table. */
function primitiveRef(t: IDL.Type): Uint8Array {
    let ref = primitiveRefs.get(t);
    if (ref === undefined) primitiveRefs.set(t, (ref = t.encodeType(undefined as never)));
    return ref;
}
/**
 * A short key per type that is equal for two types exactly when their `name`s are (the library's
 * structural strings, by which its table shares entries): built from the children's interned numbers,
 * so it costs O(1) per type instead of a string of the whole structure. Undefined for the types
 * `buildPrefix` leaves to IDL.
 */
const keys = new WeakMap<IDL.Type, string>();
const interned = new Map<string, number>();
function keyOf(t: IDL.Type): string | undefined {
    let key = keys.get(t);
    if (key !== undefined) return key;
    const id = (child: IDL.Type): string | undefined => {
        const k = keyOf(child);
        if (k === undefined) return undefined;
        let n = interned.get(k);
        if (n === undefined) interned.set(k, (n = interned.size));
        return String(n);
    };
    const fields = (fs: [string, IDL.Type][]): string | undefined => {
        const parts: string[] = [];
        for (const [label, ty] of fs) {
            const child = id(ty);
            if (child === undefined) return undefined;
            parts.push(`${label}:${child}`);
        }
        return parts.join(';');
    };
    let inner: string | undefined;
    if (!(t instanceof IDL.ConstructType)) key = `=${t.name}`;
    else if (t instanceof IDL.VecClass) key = (inner = id(t._type)) === undefined ? undefined : `vec ${inner}`;
    else if (t instanceof IDL.OptClass) key = (inner = id(t._type)) === undefined ? undefined : `opt ${inner}`;
    // A tuple's name lists its components without labels: not the name of a record with labels _0_, _1_, ...
    else if (t instanceof IDL.TupleClass) key = (inner = fields(t._fields)) === undefined ? undefined : `tuple {${inner}}`;
    else if (t instanceof IDL.RecordClass) key = (inner = fields(t._fields)) === undefined ? undefined : `record {${inner}}`;
    else if (t instanceof IDL.VariantClass) key = (inner = fields(t._fields)) === undefined ? undefined : `variant {${inner}}`;
    if (key !== undefined) keys.set(t, key);
    return key;
}
const OPCODE = { opt: -18, vec: -19, record: -20, variant: -21 } as const;

/**
 * The bytes `IDL.encode` writes before the values, built the way it builds them (each type's children
 * first, then the type; structurally equal types share one entry) but keyed by {@link keyOf}: the
 * library recomputes a type's `name`, a string of its whole structure, at every reference, which makes
 * its table cost quadratic. Null for a list with a recursive, function or service type (IDL's own
 * encoder builds those). The unit tests hold this to `IDL.encode`'s bytes.
 */
function buildPrefix(types: readonly IDL.Type[]): Uint8Array | null {
    const entries: Uint8Array[] = [];
    const index = new Map<string, number>();
    const ref = (t: IDL.Type): Uint8Array => (t instanceof IDL.ConstructType ? slebEncode(index.get(keyOf(t)!)!) : primitiveRef(t));
    const fieldsOf = (fields: [string, IDL.Type][]) => [lebEncode(fields.length), ...fields.flatMap(([k, ty]) => [lebEncode(idlLabelToId(k)), ref(ty)])];
    const add = (t: IDL.Type): boolean => {
        if (!(t instanceof IDL.ConstructType)) return true;
        const key = keyOf(t);
        if (key === undefined) return false;
        if (index.has(key)) return true;
        let entry: Uint8Array[];
        if (t instanceof IDL.VecClass || t instanceof IDL.OptClass) {
            if (!add(t._type)) return false;
            entry = [slebEncode(t instanceof IDL.VecClass ? OPCODE.vec : OPCODE.opt), ref(t._type)];
        } else if (t instanceof IDL.RecordClass || t instanceof IDL.VariantClass) {
            // A tuple is a record whose fields are named _0_, _1_, ...
            for (const [, ty] of t._fields) if (!add(ty)) return false;
            entry = [slebEncode(t instanceof IDL.VariantClass ? OPCODE.variant : OPCODE.record), ...fieldsOf(t._fields)];
        } else {
            return false;
        }
        index.set(key, entries.length);
        entries.push(concat(entry));
        return true;
    };
    for (const t of types) if (!add(t)) return null;
    return concat([MAGIC, lebEncode(entries.length), ...entries, lebEncode(types.length), ...types.map(ref)]);
}

/**
 * Builds and keeps the bytes before the values for `types`, and the decoders the fast path reads with.
 * A canister calls this while it initialises, for every list it encodes or decodes: what a query computes
 * is rolled back with the rest of its heap, so a table first built in a query is built again by every
 * query. Returns null for a list no value can be written for (then `IDL` does all the work).
 */
export function prepareCandid(types: readonly IDL.Type[]): Uint8Array | null {
    const known = prefixes.get(types);
    if (known !== undefined) return known;
    const built = buildPrefix(types);
    if (built !== null) {
        prefixes.set(types, built);
        types.forEach(decoderOf);
        return built;
    }
    let values: unknown[];
    try {
        values = types.map((t) => t.accept(smallest, 0));
    } catch {
        return null;
    }
    const whole = new Uint8Array(IDL.encode(types as IDL.Type[], values));
    const valueBytes = encodeValues(types, values).reduce((n, v) => n + v.length, 0);
    const prefix = whole.slice(0, whole.length - valueBytes);
    prefixes.set(types, prefix);
    types.forEach(decoderOf);
    return prefix;
}

/** `IDL.encode(types, values)`, with the type table built once per `types` list. */
export function encodeCandid(types: readonly IDL.Type[], values: readonly unknown[]): Uint8Array {
    if (values.length !== types.length) throw new Error(`Wrong number of message arguments: ${values.length} for ${types.length} types`);
    const prefix = prepareCandid(types);
    if (prefix === null) return new Uint8Array(IDL.encode(types as IDL.Type[], values as unknown[]));
    return concat([prefix, ...encodeValues(types, values)]);
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
    if (bytes.length < prefix.length) return false;
    for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
    return true;
}

/** A read position in a message; every read checks it stays inside. */
class Reader {
    at = 0;
    private view: DataView;
    constructor(readonly bytes: Uint8Array) {
        this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    take(n: number): number {
        const at = this.at;
        if (n < 0 || at + n > this.bytes.length) throw new Error('decode: message truncated');
        this.at = at + n;
        return at;
    }
    byte(): number {
        return this.bytes[this.take(1)];
    }
    nat(): bigint {
        let small = 0;
        let scale = 1;
        let big = 0n;
        for (let shift = 0n; ; shift += 7n) {
            const b = this.byte();
            if (scale < 2 ** 46) {
                small += (b & 0x7f) * scale;
                scale *= 128;
            } else big |= BigInt(b & 0x7f) << shift;
            if ((b & 0x80) === 0) return big === 0n ? BigInt(small) : big | BigInt(small);
        }
    }
    int(): bigint {
        let value = 0n;
        let shift = 0n;
        for (;;) {
            const b = this.byte();
            value |= BigInt(b & 0x7f) << shift;
            shift += 7n;
            if ((b & 0x80) === 0) return b & 0x40 ? value - (1n << shift) : value;
        }
    }
    length(): number {
        const n = this.nat();
        if (n > BigInt(this.bytes.length - this.at)) throw new Error('decode: length beyond the message');
        return Number(n);
    }
    get data(): DataView {
        return this.view;
    }
}

type Decode = (r: Reader) => unknown;
type NumberArray = { [index: number]: unknown };
/** Vectors of fixed-width numbers other than nat8 decode to these, by bits: [unsigned, signed]. */
const TYPED_ARRAYS: Record<number, [new (n: number) => NumberArray, new (n: number) => NumberArray]> = {
    8: [Uint8Array, Int8Array],
    16: [Uint16Array, Int16Array],
    32: [Uint32Array, Int32Array],
    64: [BigUint64Array, BigInt64Array]
};
const decoders = new WeakMap<IDL.Type, Decode | null>();
const utf8 = new TextDecoder('utf8', { fatal: true });

/**
 * A decoder for values of `t` sent with `t` itself as the wire type (the fast path's condition), giving
 * exactly what `IDL.decode` gives; null for the types it leaves to the library (recursive, function and
 * service types).
 */
function decoderOf(t: IDL.Type): Decode | null {
    const known = decoders.get(t);
    if (known !== undefined) return known;
    decoders.set(t, null); // a cycle (only through Rec, which is refused below) reads as unsupported
    const d = makeDecoder(t);
    decoders.set(t, d);
    return d;
}

function makeDecoder(t: IDL.Type): Decode | null {
    if (t instanceof IDL.NullClass || t instanceof IDL.ReservedClass) return () => null;
    if (t instanceof IDL.BoolClass)
        return (r) => {
            const b = r.byte();
            if (b > 1) throw new Error('Boolean value out of range');
            return b === 1;
        };
    if (t instanceof IDL.TextClass)
        return (r) => {
            const n = r.length();
            const at = r.take(n);
            return utf8.decode(r.bytes.subarray(at, at + n));
        };
    if (t instanceof IDL.NatClass) return (r) => r.nat();
    if (t instanceof IDL.IntClass) return (r) => r.int();
    if (t instanceof IDL.FixedNatClass || t instanceof IDL.FixedIntClass) {
        const signed = t instanceof IDL.FixedIntClass;
        switch (t._bits) {
            case 8:
                return signed ? (r) => r.data.getInt8(r.take(1)) : (r) => r.byte();
            case 16:
                return signed ? (r) => r.data.getInt16(r.take(2), true) : (r) => r.data.getUint16(r.take(2), true);
            case 32:
                return signed ? (r) => r.data.getInt32(r.take(4), true) : (r) => r.data.getUint32(r.take(4), true);
            case 64:
                return signed ? (r) => r.data.getBigInt64(r.take(8), true) : (r) => r.data.getBigUint64(r.take(8), true);
        }
        return null;
    }
    if (t instanceof IDL.FloatClass) return t._bits === 32 ? (r) => r.data.getFloat32(r.take(4), true) : (r) => r.data.getFloat64(r.take(8), true);
    if (t instanceof IDL.PrincipalClass)
        return (r) => {
            if (r.byte() !== 1) throw new Error('Cannot decode principal');
            const n = r.length();
            const at = r.take(n);
            return Principal.fromUint8Array(r.bytes.slice(at, at + n));
        };
    if (t instanceof IDL.VecClass) {
        if (t._type instanceof IDL.FixedNatClass && t._type._bits === 8)
            return (r) => {
                const n = r.length();
                const at = r.take(n);
                return r.bytes.slice(at, at + n);
            };
        if (t._type instanceof IDL.FixedNatClass || t._type instanceof IDL.FixedIntClass) {
            // Typed arrays, as the library gives them, read little-endian whatever the host.
            const Make = TYPED_ARRAYS[t._type._bits]?.[t._type instanceof IDL.FixedIntClass ? 1 : 0];
            const item = decoderOf(t._type);
            if (Make === undefined || item === null) return null;
            const size = t._type._bits / 8;
            return (r) => {
                const n = Number(r.nat());
                const at = r.take(n * size);
                const items = new Reader(r.bytes.subarray(at, at + n * size));
                const out = new Make(n);
                for (let i = 0; i < n; i++) out[i] = item(items);
                return out;
            };
        }
        const item = decoderOf(t._type);
        if (item === null) return null;
        return (r) => {
            const n = Number(r.nat());
            const out: unknown[] = [];
            for (let i = 0; i < n; i++) out.push(item(r));
            return out;
        };
    }
    if (t instanceof IDL.OptClass) {
        const inner = decoderOf(t._type);
        if (inner === null) return null;
        return (r) => {
            const flag = r.byte();
            if (flag === 0) return [];
            if (flag === 1) return [inner(r)];
            throw new Error('Not an option value');
        };
    }
    if (t instanceof IDL.RecordClass || t instanceof IDL.VariantClass) {
        const fields: [string, Decode][] = [];
        for (const [k, ty] of t._fields) {
            const d = decoderOf(ty);
            if (d === null) return null;
            fields.push([k, d]);
        }
        if (t instanceof IDL.VariantClass)
            return (r) => {
                const i = Number(r.nat());
                if (i >= fields.length) throw new Error(`Invalid variant index: ${i}`);
                const [k, d] = fields[i];
                return { [k]: d(r) };
            };
        if (t instanceof IDL.TupleClass) return (r) => fields.map(([, d]) => d(r));
        return (r) => {
            const out: Record<string, unknown> = {};
            for (const [k, d] of fields) out[k] = d(r);
            return out;
        };
    }
    return null;
}

/**
 * `IDL.decode(types, bytes)`, skipping the type table when it is exactly the one `types` encode to.
 * Unlike `IDL.decode` (whose pipe reads the view's whole underlying buffer from offset 0), this reads a
 * view that does not start at its buffer's first byte correctly, such as a pooled Node `Buffer`.
 */
export function decodeCandid(types: readonly IDL.Type[], bytes: Uint8Array): unknown[] {
    const prefix = prepareCandid(types);
    const ds = types.map(decoderOf);
    if (prefix !== null && startsWith(bytes, prefix) && ds.every((d) => d !== null)) {
        const r = new Reader(bytes);
        r.take(prefix.length);
        const values = ds.map((d) => d!(r));
        if (r.at !== bytes.length) throw new Error('decode: Left-over bytes');
        return values;
    }
    // A copy, not `slice()`: on a Node Buffer that is a view again.
    return IDL.decode(types as IDL.Type[], bytes.byteOffset === 0 ? bytes : new Uint8Array(bytes)) as unknown[];
}
