/** The JSON form of the replica's messages and call contexts: lossless for what they hold, loud about anything else. */
import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import { fromPlain, toPlain } from '../../../replica/snapshot';

describe('snapshot codec', () => {
    it('round-trips bigints, bytes (Buffers and views too), principals, maps, non-finite numbers and nesting', () => {
        const bytes = new Uint8Array([9, 1, 2, 3, 4]).subarray(1, 4);
        const value = {
            cycles: 10n ** 30n,
            arg: bytes,
            buffer: Buffer.from('hi'),
            caller: Principal.fromText('rrkah-fqaaa-aaaaa-aaaaq-cai'),
            waiters: new Map([['a', [{ origin: { type: 'system' }, cycles: 0n }]]]),
            globals: [1, NaN, -Infinity, 2n],
            absent: undefined,
            none: null
        };
        const back = fromPlain<typeof value>(JSON.parse(JSON.stringify(toPlain(value))));
        expect(back.cycles).toBe(10n ** 30n);
        expect(back.arg).toEqual(new Uint8Array([1, 2, 3]));
        expect(back.buffer).toEqual(new Uint8Array([104, 105]));
        expect(back.caller.toText()).toBe('rrkah-fqaaa-aaaaa-aaaaq-cai');
        expect(back.waiters.get('a')).toEqual([{ origin: { type: 'system' }, cycles: 0n }]);
        expect(back.globals).toEqual([1, NaN, -Infinity, 2n]);
        expect('absent' in back).toBe(false);
        expect(back.none).toBeNull();
    });

    it('refuses what it cannot bring back: functions and class instances (a continuation must be data)', () => {
        expect(() => toPlain({ then: () => 1 })).toThrow(/cannot snapshot a function/);
        expect(() => toPlain({ pending: new Set([1]) })).toThrow(/cannot snapshot a Set/);
        class Continuation {
            step = 1;
        }
        expect(() => toPlain([new Continuation()])).toThrow(/cannot snapshot a Continuation/);
    });
});
