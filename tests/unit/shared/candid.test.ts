/**
 * The committed .did files are Silo's public contract: they must say exactly what the canisters declare.
 * Compared, names resolved and field order ignored, with the interface Azle generates from the canister
 * code at build time; and the built modules publish them as `candid:service` metadata.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { parseDid, renderDid, showShape, type ServiceName } from '../../../scripts/candid';

const root = resolve(import.meta.dirname, '../../..');
const committed = (name: ServiceName): string => readFileSync(join(root, 'canisters', name, `${name}.did`), 'utf8');
const generatedByAzle = (name: ServiceName): string => readFileSync(join(root, '.azle', name, `${name}.did`), 'utf8');

describe.each(['index', 'bucket'] as const)('%s.did', (name) => {
    it('declares what the canister code declares (the interface Azle generates)', () => {
        const mine = parseDid(committed(name));
        const azle = parseDid(generatedByAzle(name));
        const show = (s: ReturnType<typeof parseDid>) => ({
            init: s.init.map(showShape),
            methods: Object.fromEntries(Object.entries(s.methods).map(([m, f]) => [m, showShape(f)]))
        });
        expect(show(mine), `canisters/${name}/${name}.did is out of date: run \`npm run did\``).toEqual(show(azle));
    });

    it('is what `npm run did` writes, with named types', () => {
        expect(committed(name)).toBe(renderDid(name));
        expect(committed(name)).toMatch(/^type SiloError = variant \{/m);
    });

    it('is published in the built module as candid:service metadata', () => {
        const wasm = gunzipSync(readFileSync(join(root, '.azle', name, `${name}.wasm.gz`)));
        const sections = WebAssembly.Module.customSections(new WebAssembly.Module(wasm), 'icp:public candid:service');
        expect(sections).toHaveLength(1);
        expect(new TextDecoder().decode(sections[0])).toBe(committed(name));
    });
});

describe('parseDid', () => {
    it('resolves names, blob, tuples, quoted labels and ignores field order', () => {
        const a = parseDid('type A = record { "b" : blob; a : opt B }; type B = variant { x; y : record { nat; text } }; service : (A) -> { f : (A) -> (B) query; }');
        const b = parseDid('service : (record { a : opt variant { y : record { nat; text }; x }; b : vec nat8 }) -> { "f" : func (record {b: vec nat8; a: opt variant {x; y: record {nat; text}}}) -> (variant {x: null; y: record {nat; text}}) query }');
        expect(a).toEqual(b);
    });

    it('tells a changed type apart', () => {
        const a = parseDid('service : { f : (nat32) -> () }');
        const b = parseDid('service : { f : (nat64) -> () }');
        expect(a).not.toEqual(b);
    });
});
