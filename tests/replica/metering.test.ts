/**
 * Instruction metering and cycles through the replica: performance_counter 0 and 1, the IC's per-message
 * limits reported as IC0522 (the execution undone), System API charges, what a message costs in cycles,
 * and a canister out of cycles (frozen: updates refused with IC0207 until topped up).
 */
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CanisterCallError, PocketIc } from '../../replica';
import type { Execution } from '../../replica/execution';
import { executionCost, ingressCost } from '../../replica/fees';
import { INSTRUCTION_LIMITS } from '../../replica/metering';
import { wat } from './wat';

const IMPORTS = `
  (import "ic0" "performance_counter" (func $perf (param i32) (result i64)))
  (import "ic0" "msg_reply" (func $msg_reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (import "ic0" "canister_self_size" (func $self_size (result i32)))
  (import "ic0" "canister_self_copy" (func $self_copy (param i32 i32 i32)))
  (import "ic0" "call_new" (func $call_new (param i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "ic0" "call_perform" (func $call_perform (result i32)))`;

/** Memory: 0..16 reply scratch, 64 "noop", 128 own principal, 4096.. argument buffer. */
const METER = `(module
  ${IMPORTS}
  (memory 2)
  (table 1 funcref)
  (elem (i32.const 0) $on_reply)
  (global $g (mut i32) (i32.const 0))
  (data (i32.const 64) "noop")
  (func $reply2 (param i64 i64)
    (i64.store (i32.const 0) (local.get 0))
    (i64.store (i32.const 8) (local.get 1))
    (call $append (i32.const 0) (i32.const 16))
    (call $msg_reply))
  ;; One block: entry 1 + const 1 + call 5 + const 1 + call 5 + call 5 = 18, charged before it runs.
  (func (export "canister_update counters")
    (call $reply2 (call $perf (i32.const 0)) (call $perf (i32.const 1))))
  ;; Copies the whole argument, then reports performance_counter 0.
  (func (export "canister_update copy_arg")
    (call $arg_copy (i32.const 4096) (i32.const 0) (call $arg_size))
    (call $reply2 (call $perf (i32.const 0)) (i64.const 0)))
  (func (export "canister_update noop") (call $msg_reply))
  ;; Calls itself; the reply callback reports both counters.
  (func (export "canister_update call_self")
    (call $self_copy (i32.const 128) (i32.const 0) (call $self_size))
    (call $call_new (i32.const 128) (call $self_size) (i32.const 64) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))
    (drop (call $call_perform)))
  (func $on_reply (param i32)
    (call $reply2 (call $perf (i32.const 0)) (call $perf (i32.const 1))))
  ;; Sets the global, then fills 64 KiB forever: stopped by the limit, the global write undone.
  (func $burn
    (global.set $g (i32.const 1))
    (loop $l (memory.fill (i32.const 0) (i32.const 0) (i32.const 65536)) (br $l)))
  (func (export "canister_update burn") (call $burn))
  (func (export "canister_query burn_query") (call $burn))
  (func (export "canister_query g")
    (call $reply2 (i64.extend_i32_u (global.get $g)) (i64.const 0)))
)`;

const u64s = (data: Uint8Array): [bigint, bigint] => {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    return [view.getBigUint64(0, true), view.getBigUint64(8, true)];
};

describe('instruction metering', () => {
    let pic: PocketIc;
    let canisterId: Principal;
    const executions: Execution[] = [];
    const call = async (method: string, arg = new Uint8Array()) => u64s(await pic.updateCall({ canisterId, method, arg }));

    beforeAll(async () => {
        pic = await PocketIc.create();
        canisterId = await pic.createCanister();
        await pic.installCode({ canisterId, wasm: await wat(METER) });
        pic.replica.getCanister(canisterId)!.observer = (_c, exec) => executions.push(exec);
    });
    afterAll(async () => {
        await pic.tearDown();
    });

    it('performance_counter 0 counts the execution so far, block costs first, plus its own 200', async () => {
        const [zero, one] = await call('counters');
        expect(zero).toBe(18n + 200n);
        // The second read also paid for the first; a first execution's call context holds only itself.
        expect(one).toBe(18n + 400n);
    });

    it('performance_counter 1 adds the call context`s earlier executions', async () => {
        executions.length = 0;
        const [zero, one] = await call('call_self');
        const first = executions.find((e) => e.options.method === 'call_self')!;
        expect(first.instructions).toBeGreaterThan(1_000n);
        expect(one - zero).toBe(first.instructions + 200n);
    });

    it('charges argument copies per byte', async () => {
        const [small] = await call('copy_arg', new Uint8Array(10));
        const [large] = await call('copy_arg', new Uint8Array(10_010));
        expect(large - small).toBe(10_000n);
    });

    it('stops an update at 40 B instructions with IC0522, and undoes what it did', async () => {
        const error = await call('burn').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CanisterCallError);
        expect((error as CanisterCallError).errorCode).toBe(522);
        expect((error as CanisterCallError).rejectMessage).toContain(`exceeded the limit of ${INSTRUCTION_LIMITS.update} instructions for single message execution`);
        expect(u64s(await pic.queryCall({ canisterId, method: 'g' }))[0]).toBe(0n);
        const burn = executions.filter((e) => e.options.method === 'burn').at(-1)!;
        expect(burn.instructions).toBe(INSTRUCTION_LIMITS.update);
    });

    it('stops a query at 5 B instructions', async () => {
        const error = await pic.queryCall({ canisterId, method: 'burn_query' }).catch((e: unknown) => e);
        expect((error as CanisterCallError).errorCode).toBe(522);
        expect((error as CanisterCallError).rejectMessage).toContain(`exceeded the limit of ${INSTRUCTION_LIMITS.query} instructions`);
    });
});

describe('cycles', () => {
    let pic: PocketIc;

    beforeAll(async () => {
        pic = await PocketIc.create();
    });
    afterAll(async () => {
        await pic.tearDown();
    });

    it('charges an ingress update its induction, the execution fee and its instructions', async () => {
        const canisterId = await pic.createCanister();
        await pic.installCode({ canisterId, wasm: await wat(METER) });
        const executions: Execution[] = [];
        pic.replica.getCanister(canisterId)!.observer = (_c, exec) => executions.push(exec);
        const before = await pic.getCyclesBalance(canisterId);
        const arg = new Uint8Array(1000);
        await pic.updateCall({ canisterId, method: 'copy_arg', arg });
        const spent = before - (await pic.getCyclesBalance(canisterId));
        expect(executions).toHaveLength(1);
        expect(spent).toBe(ingressCost(BigInt(arg.length + 'copy_arg'.length)) + executionCost(executions[0].instructions));
        // Non-replicated queries are free.
        const afterUpdate = await pic.getCyclesBalance(canisterId);
        await pic.queryCall({ canisterId, method: 'g' });
        expect(await pic.getCyclesBalance(canisterId)).toBe(afterUpdate);
    });

    it('freezes a canister that cannot pay for a message: updates refused with IC0207 until topped up', async () => {
        const canisterId = await pic.createCanister({ cycles: 1_000_000_000n });
        await pic.installCode({ canisterId, wasm: await wat(METER) });
        const error = await pic.updateCall({ canisterId, method: 'noop' }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CanisterCallError);
        expect((error as CanisterCallError).errorCode).toBe(207);
        expect((error as CanisterCallError).rejectMessage).toMatch(/is out of cycles: please top up the canister with at least \d+ additional cycles/);
        // Its tiny memory keeps the freezing reserve near zero: queries still answer.
        await expect(pic.queryCall({ canisterId, method: 'g' })).resolves.toBeInstanceOf(Uint8Array);
        await pic.addCycles(canisterId, 100_000_000_000n);
        await expect(pic.updateCall({ canisterId, method: 'noop' })).resolves.toBeInstanceOf(Uint8Array);
    });
});
