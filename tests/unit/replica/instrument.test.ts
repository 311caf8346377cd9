/**
 * The instrumentation on its own: block costs as the IC's table gives them, loops checked at every
 * iteration, bulk memory charged by size, the limit trap, and modules that keep working unchanged.
 */
import { describe, expect, it } from 'vitest';

import { COUNTER_EXPORT, EXCEEDED_EXPORT, instructionCost, instrumentModule } from '../../../replica/wasm/instrument';
import { wat } from '../../replica/wat';

const START = 1_000_000_000n;

async function metered(text: string, imports: Record<string, Record<string, unknown>> = {}) {
    const wasm = await wat(text);
    const { wasm: instrumented } = instrumentModule(wasm);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(instrumented as Uint8Array<ArrayBuffer>), imports as WebAssembly.Imports);
    const counter = instance.exports[COUNTER_EXPORT] as WebAssembly.Global;
    const flag = instance.exports[EXCEEDED_EXPORT] as WebAssembly.Global;
    /** Runs an export with `left` instructions; returns what it used and whether it ran out. */
    const run = (name: string, left = START, ...args: unknown[]) => {
        counter.value = left;
        flag.value = 0;
        let result: unknown;
        let error: unknown = null;
        try {
            result = (instance.exports[name] as (...a: unknown[]) => unknown)(...args);
        } catch (e) {
            error = e;
        }
        return { used: left - (counter.value as bigint), exceeded: flag.value === 1, result, error };
    };
    return { instance, run };
}

describe('instruction costs (the IC table)', () => {
    it('charges 1 for an empty function, and each instruction of a straight block', async () => {
        const { run } = await metered(`(module
          (func (export "empty"))
          (func (export "straight") (result i32) (i32.add (i32.const 1) (i32.const 2))))`);
        expect(run('empty').used).toBe(1n);
        // entry 1 + const 1 + const 1 + add 1 (end is free)
        expect(run('straight').used).toBe(4n);
    });

    it('prices division, calls, globals, memory.grow and branches as the IC does', async () => {
        expect([0x6d, 0x80].map((op) => instructionCost(op))).toEqual([10, 10]); // i32.div_s, i64.div_u
        expect([0x10, 0x11, 0x23, 0x40, 0x3f, 0x0d, 0x04].map((op) => instructionCost(op))).toEqual([5, 10, 2, 300, 20, 2, 2]);
        expect(instructionCost(0xfc, 11)).toBe(100); // memory.fill, before its size
        const { run } = await metered(`(module
          (memory 1)
          (global $g (mut i32) (i32.const 7))
          (func $f (result i32) (i32.const 1))
          (func (export "mix") (result i32)
            (i32.div_u (global.get $g) (call $f)))
          (func (export "grow") (result i32) (memory.grow (i32.const 1))))`);
        // mix: entry 1 + global.get 2 + call 5 + div 10 = 18, and $f: entry 1 + const 1 = 2
        expect(run('mix').used).toBe(20n);
        expect(run('grow').used).toBe(1n + 1n + 300n);
    });

    it('charges a loop body per iteration, and only the branch taken', async () => {
        const { run } = await metered(`(module
          (func (export "count") (param $n i32) (result i32) (local $i i32)
            (loop $l
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
            (local.get $i))
          (func (export "pick") (param $c i32) (result i32)
            (if (result i32) (local.get $c)
              (then (i32.mul (i32.const 3) (i32.const 4)))
              (else (i32.const 0)))))`);
        // entry: 1 + loop 0 = 1; body: get 1, const 1, add 1, set 1, get 1, get 1, lt 1, br_if 2 = 9 per
        // iteration; after the loop: end 0, get 1, end 0.
        expect(run('count', START, 10).used).toBe(1n + 9n * 10n + 1n);
        expect(run('count', START, 1000).used).toBe(1n + 9n * 1000n + 1n);
        // entry 1 + get 1 + if 2 = 4, then: 1 + 1 + 1 (+ else 0) = 3, else: 1 (+ end 0)
        expect(run('pick', START, 1).used).toBe(4n + 3n);
        expect(run('pick', START, 0).used).toBe(4n + 1n);
    });

    it('charges bulk memory operations their size in bytes, at run time', async () => {
        const { run } = await metered(`(module
          (memory 2)
          (func (export "fill") (param $n i32) (memory.fill (i32.const 0) (i32.const 7) (local.get $n)))
          (func (export "copy") (param $n i32) (memory.copy (i32.const 65536) (i32.const 0) (local.get $n))))`);
        // entry 1 + const 1 + const 1 + get 1 + memory.fill 100 = 104, plus n
        expect(run('fill', START, 0).used).toBe(104n);
        expect(run('fill', START, 1000).used).toBe(1104n);
        expect(run('fill', START, 65536).used).toBe(104n + 65536n);
        expect(run('copy', START, 4096).used).toBe(104n + 4096n);
    });
});

describe('the limit', () => {
    it('stops a loop once the counter goes below zero, with the exceeded flag set', async () => {
        const { run } = await metered(`(module (func (export "spin") (loop $l (br $l))))`);
        const out = run('spin', 10_000n);
        expect(out.exceeded).toBe(true);
        expect(out.error).toBeInstanceOf(WebAssembly.RuntimeError);
        expect(out.used).toBeGreaterThan(10_000n);
        expect(out.used).toBeLessThan(10_010n);
    });

    it('stops a bulk operation that does not fit before it runs', async () => {
        const { instance, run } = await metered(`(module
          (memory (export "memory") 1)
          (func (export "fill") (param $n i32) (memory.fill (i32.const 0) (i32.const 7) (local.get $n))))`);
        const out = run('fill', 1000n, 4096);
        expect(out.exceeded).toBe(true);
        expect(new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer)[0]).toBe(0);
    });

    it('does not mistake an ordinary unreachable for the limit', async () => {
        const { run } = await metered(`(module (func (export "boom") unreachable))`);
        const out = run('boom');
        expect(out.error).toBeInstanceOf(WebAssembly.RuntimeError);
        expect(out.exceeded).toBe(false);
        expect(out.used).toBe(2n); // entry 1 + unreachable 1, written back before trapping
    });
});

describe('modules keep their meaning', () => {
    it('keeps imports, tables, globals and results; the counter crosses calls and imports', async () => {
        let seen = -1n;
        const { instance, run } = await metered(
            `(module
              (import "env" "probe" (func $probe (param i32) (result i32)))
              (table 2 funcref)
              (elem (i32.const 0) $double $triple)
              (type $t (func (param i32) (result i32)))
              (global $acc (mut i64) (i64.const 0))
              (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
              (func $triple (param i32) (result i32) (call $probe (i32.mul (local.get 0) (i32.const 3))))
              (func (export "go") (param $which i32) (param $x i32) (result i32)
                (global.set $acc (i64.add (global.get $acc) (i64.const 1)))
                (call_indirect (type $t) (local.get $x) (local.get $which)))
              (func (export "acc") (result i64) (global.get $acc)))`,
            {
                env: {
                    probe: (x: number) => {
                        // What an import sees: the instructions already charged, written back before the call.
                        seen = instance.exports[COUNTER_EXPORT] ? ((instance.exports[COUNTER_EXPORT] as WebAssembly.Global).value as bigint) : -1n;
                        return x + 1;
                    }
                }
            }
        );
        expect(run('go', START, 0, 21).result).toBe(42);
        const out = run('go', START, 1, 5);
        expect(out.result).toBe(16);
        // go: entry 1 + get 2 + const 1 + add 1 + set 2 + get 1 + get 1 + call_indirect 10 = 19;
        // triple: entry 1 + get 1 + const 1 + mul 1 + call 5 = 9
        expect(out.used).toBe(28n);
        expect(START - seen).toBe(28n);
        expect(run('acc').result).toBe(2n);
    });
});
