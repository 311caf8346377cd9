/** checkCandidBounds: messages that decode in linear time pass; vectors of zero-sized types do not. */
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import { CandidBoundsError, checkCandidBounds } from '../../../replica/candid_bounds';
import { HttpRequest } from '../../../shared/types';

const encode = (types: IDL.Type[], values: unknown[]) => new Uint8Array(IDL.encode(types, values));

describe('checkCandidBounds', () => {
    it('passes what real interfaces send: records, variants, options, vectors of values, functions and services', () => {
        const Tree = IDL.Rec();
        Tree.fill(IDL.Variant({ leaf: IDL.Nat8, node: IDL.Vec(Tree) }));
        const Service = IDL.Service({ get: IDL.Func([IDL.Text], [IDL.Opt(IDL.Nat)], ['query']) });
        const messages = [
            encode([], []),
            encode([IDL.Record({ canister_id: IDL.Principal })], [{ canister_id: Principal.anonymous() }]),
            encode([HttpRequest], [{ method: 'GET', url: '/', headers: [['a', 'b']], body: new Uint8Array(3), certificate_version: [2] }]),
            encode([Tree], [{ node: [{ leaf: 1 }, { node: [] }] }]),
            encode([IDL.Vec(IDL.Opt(IDL.Null)), IDL.Vec(IDL.Record({ a: IDL.Null, b: IDL.Nat8 }))], [[[null], []], [{ a: null, b: 1 }]]),
            encode([IDL.Func([IDL.Nat], [], ['query']), Service], [[Principal.anonymous(), 'm'], Principal.anonymous()]),
            encode([IDL.Null, IDL.Reserved], [null, null])
        ];
        for (const message of messages) expect(() => checkCandidBounds(message)).not.toThrow();
    });

    it('refuses vectors of null, reserved, empty records and records of only those, recursive or not', () => {
        const SelfOnly = IDL.Rec();
        SelfOnly.fill(IDL.Record({ again: IDL.Opt(SelfOnly) }));
        const zeroSized: IDL.Type[] = [IDL.Null, IDL.Reserved, IDL.Record({}), IDL.Record({ a: IDL.Null, b: IDL.Record({ c: IDL.Reserved }) }), IDL.Tuple(IDL.Null, IDL.Null)];
        for (const element of zeroSized) {
            const message = encode([IDL.Record({ x: IDL.Nat, junk: IDL.Vec(element) })], [{ x: 1, junk: [] }]);
            expect(() => checkCandidBounds(message), element.display()).toThrow(CandidBoundsError);
            expect(() => checkCandidBounds(message)).toThrow(/vector of a zero-sized type/);
        }
        // opt costs a byte per value, so a vector of a record holding an opt is fine even when the opt is recursive.
        expect(() => checkCandidBounds(encode([IDL.Vec(SelfOnly)], [[]]))).not.toThrow();
    });

    it('refuses what is not a Candid message, or whose type table lies', () => {
        expect(() => checkCandidBounds(new Uint8Array([1, 2, 3, 4, 5]))).toThrow(/DIDL/);
        expect(() => checkCandidBounds(Uint8Array.from([0x44, 0x49, 0x44, 0x4c, 0x02, 0x6d]))).toThrow(/unexpected end/);
        // One entry, a vector of entry 5: past the table.
        expect(() => checkCandidBounds(Uint8Array.from([0x44, 0x49, 0x44, 0x4c, 0x01, 0x6d, 0x05, 0x00]))).toThrow(/past the table/);
        // A constructor that does not exist (-30).
        expect(() => checkCandidBounds(Uint8Array.from([0x44, 0x49, 0x44, 0x4c, 0x01, 0x62, 0x00]))).toThrow(/unknown constructor/);
        // A type table of 2^28 entries announced in five bytes.
        expect(() => checkCandidBounds(Uint8Array.from([0x44, 0x49, 0x44, 0x4c, 0x80, 0x80, 0x80, 0x80, 0x01]))).toThrow(/entries/);
    });
});
