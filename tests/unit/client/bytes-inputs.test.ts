/**
 * Node Buffers and views wherever bytes go in (issue 10, item 1's class): a Buffer is a Uint8Array whose
 * slice() is a view and whose .buffer may be a shared pool, so code that copies with slice() or reads
 * .buffer breaks on it. Each place that takes caller bytes is tried with them.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

import { IDL } from '@dfinity/candid';
import { describe, expect, it } from 'vitest';

import { PocketIc } from '../../../replica';
import { bytesSerializer, MemoryMap, u64Key } from '../../../shared/stable';
import { toSource } from '../../../client/source';
import { fixtureWasm } from '../../helpers/pic';

describe('Buffer and view inputs', () => {
    it('MemoryMap stores a copy of a Buffer value, not a view of it', () => {
        const map = new MemoryMap(u64Key, bytesSerializer);
        const value = Buffer.from('abcdef');
        map.insert(1n, value);
        value.fill(0);
        expect(Buffer.from(map.get(1n)!).toString()).toBe('abcdef');
        const got = map.get(1n)!;
        got.fill(0);
        expect(Buffer.from(map.get(1n)!).toString()).toBe('abcdef');
        expect(Buffer.from(map.items()[0][1]).toString()).toBe('abcdef');
    });

    it('toSource reads a pooled Buffer and a view at an offset by offset, exactly', async () => {
        const pooled = Buffer.from('0123456789');
        const source = await toSource(pooled.subarray(2, 9));
        expect(source.size).toBe(7);
        expect(Buffer.from(await source.read(1, 3)).toString()).toBe('345');
        expect(Buffer.from(await source.read(5, 10)).toString()).toBe('78');
    });

    it('the replica installs a module read with readFileSync (a Buffer), gzipped or not', async () => {
        const gz = readFileSync(fixtureWasm('calibration_hello_world'));
        for (const wasm of [gz, gunzipSync(gz), Buffer.from(gunzipSync(gz)).subarray(0)]) {
            const pic = await PocketIc.create();
            const { actor } = await pic.setupCanister<{ getMessage(): Promise<string> }>({
                idlFactory: () => IDL.Service({ getMessage: IDL.Func([], [IDL.Text], ['query']) }),
                wasm
            });
            expect(await actor.getMessage()).toBe('Hello world!');
            await pic.tearDown();
        }
    });
});
