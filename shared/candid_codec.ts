/**
 * Candid encoding and decoding that builds each type table once.
 *
 * `IDL.encode` rebuilds and serialises the whole type table on every call, and `IDL.decode` parses the
 * table and rebuilds types from it before it reads a single value. For Silo's result types (a variant of
 * a record and the `SiloError` variant) that is almost all of the work: ~98% of an encode in Node, and in
 * a canister (QuickJS inside Wasm) 40–65 M instructions per reply against ~1 M for the value itself.
 *
 * Here the bytes before the values (magic number, type table, argument count and type references) are
 * kept per list of types, built once by encoding the list's smallest values. The output is exactly
 * `IDL.encode`'s. Decoding takes the fast path only when the message begins with exactly those bytes, so
 * its wire types are ours and each value is read with its own type, as `IDL.decode` would read it after
 * rebuilding the same types from the table; any other message (another table order, a subtype, junk)
 * goes through `IDL.decode` unchanged.
 *
 * Lists are cached by identity: pass a list that lives as long as the types (a `Func`'s `argTypes`, or a
 * constant), not a fresh array per call.
 */
import { IDL, PipeArrayBuffer } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

const prefixes = new WeakMap<readonly IDL.Type[], Uint8Array>();
const wires = new WeakMap<IDL.Type, IDL.Type>();

/**
 * The type `IDL.decode` would build from our own table: the same structure with every constructed type
 * wrapped in a `Rec`, which is what each type's `decodeValue` expects as the wire type.
 */
function wireType(t: IDL.Type): IDL.Type {
    if (t instanceof IDL.RecClass) return wireType(t.getType()!);
    if (!(t instanceof IDL.ConstructType)) return t;
    const known = wires.get(t);
    if (known !== undefined) return known;
    const rec = IDL.Rec();
    wires.set(t, rec); // before the fields: a recursive type refers back to it
    const fields = (fs: [string, IDL.Type][]) => Object.fromEntries(fs.map(([k, ty]) => [k, wireType(ty)]));
    if (t instanceof IDL.VecClass) rec.fill(IDL.Vec(wireType(t._type)));
    else if (t instanceof IDL.OptClass) rec.fill(IDL.Opt(wireType(t._type)));
    else if (t instanceof IDL.TupleClass) rec.fill(IDL.Tuple(...(t as unknown as { _components: IDL.Type[] })._components.map(wireType)));
    else if (t instanceof IDL.RecordClass) rec.fill(IDL.Record(fields(t._fields)));
    else if (t instanceof IDL.VariantClass) rec.fill(IDL.Variant(fields(t._fields)));
    else if (t instanceof IDL.FuncClass) rec.fill(IDL.Func(t.argTypes.map(wireType) as IDL.GenericIdlFuncArgs, t.retTypes.map(wireType) as IDL.GenericIdlFuncRets, t.annotations));
    else if (t instanceof IDL.ServiceClass) rec.fill(t);
    else throw new Error(`candid codec: no wire type for ${t.display()}`);
    return rec;
}

function concat(parts: Uint8Array[]): Uint8Array {
    let length = 0;
    for (const p of parts) length += p.length;
    const out = new Uint8Array(length);
    let at = 0;
    for (const p of parts) {
        out.set(p, at);
        at += p.length;
    }
    return out;
}

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

/**
 * Builds and keeps the bytes before the values for `types`, and the wire types the fast decode reads
 * with. A canister calls this while it initialises, for every list it encodes or decodes: what a query
 * computes is rolled back with the rest of its heap, so a table first built in a query is built again by
 * every query. Returns null for a list no value can be written for (then `IDL` does all the work).
 */
export function prepareCandid(types: readonly IDL.Type[]): Uint8Array | null {
    const known = prefixes.get(types);
    if (known !== undefined) return known;
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
    types.forEach(wireType);
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

/**
 * `IDL.decode(types, bytes)`, skipping the type table when it is exactly the one `types` encode to.
 * Unlike `IDL.decode` (whose pipe reads the view's whole underlying buffer from offset 0), this reads a
 * view that does not start at its buffer's first byte correctly, such as a pooled Node `Buffer`.
 */
export function decodeCandid(types: readonly IDL.Type[], bytes: Uint8Array): unknown[] {
    const own = bytes.byteOffset === 0 ? bytes : bytes.slice();
    const prefix = prepareCandid(types);
    if (prefix !== null && startsWith(own, prefix)) {
        const pipe = new PipeArrayBuffer(own);
        pipe.read(prefix.length);
        const values = types.map((t) => t.decodeValue(pipe, wireType(t)));
        if (pipe.byteLength > 0) throw new Error('decode: Left-over bytes');
        return values;
    }
    return IDL.decode(types as IDL.Type[], own) as unknown[];
}
