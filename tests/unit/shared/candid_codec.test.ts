/**
 * The cached Candid codec must be byte-for-byte `IDL.encode` and value-for-value `IDL.decode`, for every
 * argument and result list of both canisters' public interfaces, on the first (uncached) call and on
 * every later one; and a message whose table is not exactly ours must take `IDL.decode`'s path.
 */
import { IDL, lebEncode, slebEncode } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { leb128, sleb128 } from '../../../shared/bytes';
import { decodeCandid, encodeCandid } from '../../../shared/candid_codec';
import { BucketSessionRecord } from '../../../canisters/bucket/state';
import { PlanRecord } from '../../../canisters/bucket/verify';
import * as indexState from '../../../canisters/index/state';
import { bucketMethods, indexMethods } from '../../../shared/idl';
import { AssetMeta, ConfigUpdate, VerifyResult } from '../../../shared/types';

/** A fast-check arbitrary for values of a Candid type (recursion bounded by `depth`). */
class Arbitraries extends IDL.Visitor<number, fc.Arbitrary<unknown>> {
    visitType<T>(t: IDL.Type<T>): fc.Arbitrary<unknown> {
        throw new Error(`no arbitrary for ${t.display()}`);
    }
    visitNull(): fc.Arbitrary<unknown> {
        return fc.constant(null);
    }
    visitReserved(): fc.Arbitrary<unknown> {
        return fc.constant(null);
    }
    visitBool(): fc.Arbitrary<unknown> {
        return fc.boolean();
    }
    visitText(): fc.Arbitrary<unknown> {
        return fc.string({ maxLength: 12, unit: 'grapheme' });
    }
    visitNat(): fc.Arbitrary<unknown> {
        return fc.bigInt({ min: 0n, max: 2n ** 80n });
    }
    visitInt(): fc.Arbitrary<unknown> {
        return fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n });
    }
    visitFloat(t: IDL.FloatClass): fc.Arbitrary<unknown> {
        return t._bits === 32 ? fc.float({ noNaN: true }).map(Math.fround) : fc.double({ noNaN: true });
    }
    visitFixedNat(t: IDL.FixedNatClass): fc.Arbitrary<unknown> {
        return t._bits === 64 ? fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) : fc.integer({ min: 0, max: 2 ** t._bits - 1 });
    }
    visitFixedInt(t: IDL.FixedIntClass): fc.Arbitrary<unknown> {
        return t._bits === 64 ? fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) : fc.integer({ min: -(2 ** (t._bits - 1)), max: 2 ** (t._bits - 1) - 1 });
    }
    visitPrincipal(): fc.Arbitrary<unknown> {
        return fc.uint8Array({ maxLength: 29 }).map((b) => Principal.fromUint8Array(b));
    }
    visitVec<T>(_t: IDL.VecClass<T>, ty: IDL.Type<T>, depth: number): fc.Arbitrary<unknown> {
        if (ty instanceof IDL.FixedNatClass && ty._bits === 8) return fc.uint8Array({ maxLength: 40 });
        return fc.array(ty.accept(this, depth + 1), { maxLength: depth > 3 ? 0 : 3 });
    }
    visitOpt<T>(_t: IDL.OptClass<T>, ty: IDL.Type<T>, depth: number): fc.Arbitrary<unknown> {
        return depth > 4 ? fc.constant([]) : fc.option(ty.accept(this, depth + 1), { nil: undefined }).map((v) => (v === undefined ? [] : [v]));
    }
    visitRecord(_t: IDL.RecordClass, fields: Array<[string, IDL.Type]>, depth: number): fc.Arbitrary<unknown> {
        return fc.record(Object.fromEntries(fields.map(([k, ty]) => [k, ty.accept(this, depth + 1)]))).map((r) => ({ ...r }));
    }
    visitTuple<T extends unknown[]>(_t: IDL.TupleClass<T>, components: IDL.Type[], depth: number): fc.Arbitrary<unknown> {
        return fc.tuple(...components.map((ty) => ty.accept(this, depth + 1)));
    }
    visitVariant(_t: IDL.VariantClass, fields: Array<[string, IDL.Type]>, depth: number): fc.Arbitrary<unknown> {
        return fc.oneof(...fields.map(([k, ty]) => ty.accept(this, depth + 1).map((v) => ({ [k]: v }))));
    }
    visitRec<T>(_t: IDL.RecClass<T>, ty: IDL.ConstructType<T>, depth: number): fc.Arbitrary<unknown> {
        return ty.accept(this, depth + 1);
    }
    visitFunc(): fc.Arbitrary<unknown> {
        return fc.constant([Principal.fromText('aaaaa-aa'), 'callback']);
    }
}

const arbitraries = new Arbitraries();
const valuesOf = (types: readonly IDL.Type[]) => fc.tuple(...types.map((t) => t.accept(arbitraries, 0)));

// What the canisters keep in stable maps, besides their interfaces.
const records = { ...indexState, BucketSessionRecord, PlanRecord, AssetMeta, ConfigUpdate, VerifyResult } as Record<string, unknown>;
const stored: [string, readonly IDL.Type[]][] = Object.entries(records)
    .filter((entry): entry is [string, IDL.RecordClass | IDL.VariantClass] => entry[1] instanceof IDL.RecordClass || entry[1] instanceof IDL.VariantClass)
    .map(([name, t]) => [`stored ${name}`, [t]]);

const lists: [string, readonly IDL.Type[]][] = [...stored, ...[indexMethods, bucketMethods].flatMap((methods) =>
    Object.entries(methods).flatMap(([name, f]): [string, readonly IDL.Type[]][] => [
        [`${name} arguments`, f.argTypes],
        [`${name} result`, f.retTypes]
    ])
)];

describe('the cached Candid codec', () => {
    it.each(lists)('encodes and decodes %s exactly as IDL does', (_name, types) => {
        // A fresh list each time: the first call per list is the uncached path, the rest the cached one.
        const list = [...types];
        fc.assert(
            fc.property(valuesOf(list), (values) => {
                const expected = new Uint8Array(IDL.encode(list as IDL.Type[], values));
                expect(encodeCandid(list, values)).toEqual(expected);
                expect(decodeCandid(list, expected)).toStrictEqual(IDL.decode(list as IDL.Type[], expected));
            }),
            { numRuns: 40, seed: 20261202 }
        );
    });

    it('encodes recursive and function types (built by IDL itself) exactly as IDL does', () => {
        const tree = IDL.Rec();
        tree.fill(IDL.Variant({ leaf: IDL.Nat8, node: IDL.Vec(tree) }));
        const list = [tree, IDL.Func([IDL.Text], [IDL.Nat], ['query']), IDL.Opt(tree)];
        const values = [{ node: [{ leaf: 1 }, { node: [] }] }, [Principal.fromText('aaaaa-aa'), 'f'], [{ leaf: 2 }]];
        for (let i = 0; i < 2; i++) {
            const expected = new Uint8Array(IDL.encode(list, values));
            expect(encodeCandid(list, values)).toEqual(expected);
            expect(decodeCandid(list, expected)).toStrictEqual(IDL.decode(list, expected));
        }
    });

    it('learns the table from a decode, then reads later messages on the fast path', () => {
        const list = [IDL.Record({ id: IDL.Nat64, name: IDL.Text })];
        const message = IDL.encode(list, [{ id: 7n, name: 'a' }]);
        expect(decodeCandid(list, message)).toEqual([{ id: 7n, name: 'a' }]);
        expect(decodeCandid(list, IDL.encode(list, [{ id: 8n, name: 'b' }]))).toEqual([{ id: 8n, name: 'b' }]);
    });

    it('reads vectors of wider numbers as the typed arrays IDL gives', () => {
        const list = [IDL.Vec(IDL.Nat16), IDL.Vec(IDL.Int64), IDL.Opt(IDL.Vec(IDL.Nat32)), IDL.Vec(IDL.Nat8)];
        const values = [Uint16Array.of(1, 65535), BigInt64Array.of(-5n), [Uint32Array.of(7)], Uint8Array.of(9)];
        const message = IDL.encode(list, values);
        expect(decodeCandid(list, encodeCandid(list, values))).toStrictEqual(IDL.decode(list, message));
    });

    it('refuses what IDL refuses, cached or not', () => {
        const list = [IDL.Nat64, IDL.Text];
        const good = encodeCandid(list, [1n, 'x']);
        // Left-over bytes after a message that starts with our own table.
        expect(() => decodeCandid(list, Uint8Array.of(...good, 0))).toThrow(/Left-over/);
        // Truncated value.
        expect(() => decodeCandid(list, good.subarray(0, good.length - 1))).toThrow();
        // Junk, and a value of the wrong shape.
        expect(() => decodeCandid(list, Uint8Array.of(1, 2, 3))).toThrow();
        expect(() => encodeCandid(list, [1n, 2])).toThrow(/Invalid text argument/);
        expect(() => encodeCandid(list, [1n])).toThrow(/Wrong number/);
    });

    it('reads a message with another table (a subtype, another order) through IDL.decode', () => {
        const list = [IDL.Record({ a: IDL.Nat32, b: IDL.Opt(IDL.Text) })];
        encodeCandid(list, [{ a: 1, b: [] }]);
        // The sender's record lacks the optional field: a different table, still a valid message.
        const older = IDL.encode([IDL.Record({ a: IDL.Nat32 })], [{ a: 5 }]);
        expect(decodeCandid(list, older)).toEqual([{ a: 5, b: [] }]);
        // Extra arguments the receiver does not declare are skipped, as by IDL.decode.
        const extra = IDL.encode([...list, IDL.Text], [{ a: 6, b: ['x'] }, 'ignored']);
        expect(decodeCandid(list, extra)).toEqual([{ a: 6, b: ['x'] }]);
    });
});

describe("Silo's interfaces", () => {
    // A vector of zero-sized elements (vec null, vec record {}) can claim 2^60 elements in a few bytes;
    // with none, a claimed length is bounded by the bytes the message has left (see the codec's header).
    it('have no vector of zero-sized elements', () => {
        const zeroSized = (t: IDL.Type): boolean => t instanceof IDL.NullClass || t instanceof IDL.ReservedClass || (t instanceof IDL.RecordClass && t._fields.every(([, f]) => zeroSized(f)));
        const seen = new Set<IDL.Type>();
        const found: string[] = [];
        const walk = (t: IDL.Type): void => {
            if (seen.has(t)) return;
            seen.add(t);
            if (t instanceof IDL.VecClass || t instanceof IDL.OptClass) {
                if (t instanceof IDL.VecClass && zeroSized(t._type)) found.push(t.display());
                walk(t._type);
            } else if (t instanceof IDL.RecordClass || t instanceof IDL.VariantClass) t._fields.forEach(([, f]) => walk(f));
        };
        lists.forEach(([, types]) => types.forEach(walk));
        expect(seen.size).toBeGreaterThan(50);
        expect(found).toEqual([]);
    });
});

describe('a view into a larger buffer', () => {
    it('decodes the bytes it shows, where IDL.decode reads from the buffer start', () => {
        const list = [IDL.Nat64];
        const message = new Uint8Array(IDL.encode(list, [42n]));
        const backing = new Uint8Array(message.length + 5);
        backing.set(message, 5);
        const view = backing.subarray(5);
        expect(() => IDL.decode(list, view)).toThrow(); // the library's own behaviour, the reason for the copy
        expect(decodeCandid(list, view)).toEqual([42n]); // uncached
        expect(decodeCandid(list, view)).toEqual([42n]); // cached
    });

    it('reads a pooled Node Buffer whose table is not ours (IDL.decode\'s path) too: its slice() is a view again', () => {
        const list = [IDL.Record({ a: IDL.Nat32, b: IDL.Opt(IDL.Text) })];
        const older = IDL.encode([IDL.Record({ a: IDL.Nat32 })], [{ a: 5 }]);
        const view = Buffer.concat([Buffer.alloc(9, 0x44), Buffer.from(older)]).subarray(9);
        expect(view.byteOffset).toBeGreaterThan(0);
        expect(decodeCandid(list, view)).toEqual([{ a: 5, b: [] }]);
    });
});

describe('the LEB128 encoders the table is written with', () => {
    it('match the library for every 32-bit integer tried', () => {
        fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (n) => {
            expect(sleb128(n)).toEqual(slebEncode(n));
        }), { seed: 7, numRuns: 2000 });
        fc.assert(fc.property(fc.nat({ max: 2 ** 53 - 1 }), (n) => {
            expect(leb128(n)).toEqual(lebEncode(n));
        }), { seed: 7, numRuns: 2000 });
        for (const n of [0, 63, 64, -64, -65, 127, 128, -128, -129, -24, -18]) expect(sleb128(n)).toEqual(slebEncode(n));
    });
});
