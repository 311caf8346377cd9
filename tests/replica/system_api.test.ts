/**
 * Exact System API semantics, checked with small canisters written in WebAssembly text: what the
 * interface specification says about contexts, responses, calls, callbacks and cleanup, best-effort
 * deadlines, stable memory limits, the global timer and the transactionality of the Wasm heap.
 */
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createPic, type TestPic } from '../helpers/pic';
import { logLines } from './probe';
import { ic0Imports, wat } from './wat';

/**
 * One canister with a method per behaviour. Memory map: 0 Candid text header, 16.. constant strings,
 * 200 target principal (length at 200, bytes from 204), 240 scratch byte, 256 callback flags,
 * 300 last msg_deadline, 320 timer state, 400 echo count, 1024 scratch, 2048 argument buffer,
 * 3000 a word written only by trapping code.
 */
const API = `(module
  ${ic0Imports(
      'msg_reply', 'msg_reply_data_append', 'msg_arg_data_size', 'msg_arg_data_copy', 'msg_caller_size', 'msg_caller_copy',
      'msg_reject_code', 'msg_reject_msg_size', 'msg_reject_msg_copy', 'msg_method_name_size', 'msg_deadline',
      'call_new', 'call_on_cleanup', 'call_with_best_effort_response', 'call_perform',
      'stable64_size', 'stable64_grow', 'stable64_write', 'global_timer_set', 'time', 'debug_print', 'trap'
  )}
  (memory 1)
  (table 5 funcref)
  (elem (i32.const 0) $on_reply $on_reject $on_cleanup $on_reply_trap $on_cleanup_trap)
  (global $g (mut i32) (i32.const 0))
  (data (i32.const 0) "DIDL\\00\\01\\71")
  (data (i32.const 16) "replied")
  (data (i32.const 32) "reject ")
  (data (i32.const 48) ": ")
  (data (i32.const 64) "cleanup ran")
  (data (i32.const 80) "reply callback trapped")
  (data (i32.const 112) "cleanup trapped")
  (data (i32.const 128) "deliberate")
  (data (i32.const 144) "echo")

  ;; Replies with raw bytes.
  (func $reply (param $p i32) (param $n i32)
    (call $msg_reply_data_append (local.get $p) (local.get $n))
    (call $msg_reply))
  ;; Replies with the Candid encoding of one text shorter than 128 bytes.
  (func $reply_text (param $p i32) (param $n i32)
    (call $msg_reply_data_append (i32.const 0) (i32.const 7))
    (i32.store8 (i32.const 240) (local.get $n))
    (call $msg_reply_data_append (i32.const 240) (i32.const 1))
    (call $reply (local.get $p) (local.get $n)))
  ;; Copies the argument to 2048 and returns its size.
  (func $arg (result i32) (local $n i32)
    (local.set $n (call $msg_arg_data_size))
    (call $msg_arg_data_copy (i32.const 2048) (i32.const 0) (local.get $n))
    (local.get $n))
  ;; Starts a call to the target's "echo" with the given callbacks.
  (func $call_echo (param $reply i32) (param $reject i32)
    (call $call_new (i32.const 204) (i32.load (i32.const 200)) (i32.const 144) (i32.const 4)
      (local.get $reply) (i32.const 0) (local.get $reject) (i32.const 0)))

  (func $on_reply (param i32) (call $reply_text (i32.const 16) (i32.const 7)))
  ;; Replies "reject <code>: <message>".
  (func $on_reject (param i32) (local $n i32)
    (i64.store (i32.const 1024) (i64.load (i32.const 32)))
    (i32.store8 (i32.const 1031) (i32.add (i32.const 48) (call $msg_reject_code)))
    (i32.store16 (i32.const 1032) (i32.load16_u (i32.const 48)))
    (local.set $n (call $msg_reject_msg_size))
    (call $msg_reject_msg_copy (i32.const 1034) (i32.const 0) (local.get $n))
    (call $reply_text (i32.const 1024) (i32.add (i32.const 10) (local.get $n))))
  (func $on_reply_trap (param i32)
    (i32.store (i32.const 256) (i32.const 1))
    (call $trap (i32.const 80) (i32.const 22)))
  (func $on_cleanup (param i32)
    (i32.store (i32.const 260) (i32.const 1))
    (call $debug_print (i32.const 64) (i32.const 11)))
  (func $on_cleanup_trap (param i32)
    (i32.store (i32.const 260) (i32.const 2))
    (call $trap (i32.const 112) (i32.const 15)))

  (func (export "canister_update set_target")
    (i32.store (i32.const 200) (call $msg_arg_data_size))
    (call $msg_arg_data_copy (i32.const 204) (i32.const 0) (call $msg_arg_data_size))
    (call $msg_reply))
  (func (export "canister_update echo")
    (i32.store (i32.const 400) (i32.add (i32.load (i32.const 400)) (i32.const 1)))
    (i64.store (i32.const 300) (call $msg_deadline))
    (call $reply (i32.const 2048) (call $arg)))
  (func (export "canister_query echo_state") (call $reply (i32.const 300) (i32.const 104)))
  (func (export "canister_update go_best_effort")
    (call $call_echo (i32.const 0) (i32.const 1))
    (call $call_with_best_effort_response (i32.const 1))
    (drop (call $call_perform)))
  (func (export "canister_update go_cleanup")
    (call $call_echo (i32.const 3) (i32.const 1))
    (call $call_on_cleanup (i32.const 2) (i32.const 0))
    (drop (call $call_perform)))
  (func (export "canister_update go_cleanup_trap")
    (call $call_echo (i32.const 3) (i32.const 1))
    (call $call_on_cleanup (i32.const 4) (i32.const 0))
    (drop (call $call_perform)))
  (func (export "canister_query flags") (call $reply (i32.const 256) (i32.const 8)))

  (func (export "canister_update wrong_context") (drop (call $msg_method_name_size)) (call $msg_reply))
  (func (export "canister_query query_calls") (call $call_echo (i32.const 0) (i32.const 1)) (call $msg_reply))
  (func (export "canister_update reply_twice") (call $msg_reply) (call $msg_reply))
  (func (export "canister_update arg_copy_oob")
    (call $msg_arg_data_copy (i32.const 2048) (i32.const 0) (i32.add (call $msg_arg_data_size) (i32.const 1)))
    (call $msg_reply))
  (func (export "canister_update caller_copy_oob")
    (call $msg_caller_copy (i32.const 65536) (i32.const 0) (call $msg_caller_size))
    (call $msg_reply))
  (func (export "canister_update reply_append_oob") (call $msg_reply_data_append (i32.const 65530) (i32.const 10)) (call $msg_reply))
  (func (export "canister_update stable_from_heap_oob")
    (drop (call $stable64_grow (i64.const 1)))
    (call $stable64_write (i64.const 0) (i64.const 65530) (i64.const 10))
    (call $msg_reply))
  (func (export "canister_update no_reply") (i32.store (i32.const 3004) (i32.add (i32.load (i32.const 3004)) (i32.const 1))))
  (func (export "canister_query no_reply_count") (call $reply (i32.const 3004) (i32.const 4)))
  (func (export "canister_update perform_alone") (drop (call $call_perform)) (call $msg_reply))

  ;; Grows stable memory by the u64 argument; replies the result and the new size (two i64).
  (func (export "canister_update stable_grow")
    (drop (call $arg))
    (i64.store (i32.const 1024) (call $stable64_grow (i64.load (i32.const 2048))))
    (i64.store (i32.const 1032) (call $stable64_size))
    (call $reply (i32.const 1024) (i32.const 16)))
  ;; Writes 8 bytes ending 4 bytes past the end of stable memory.
  (func (export "canister_update stable_write_oob")
    (call $stable64_write (i64.sub (i64.mul (call $stable64_size) (i64.const 65536)) (i64.const 4)) (i64.const 0) (i64.const 8))
    (call $msg_reply))

  ;; Sets the global timer to now + the u64 argument (ns); replies the previous value.
  (func (export "canister_update arm")
    (drop (call $arg))
    (i64.store (i32.const 1024) (call $global_timer_set (i64.add (call $time) (i64.load (i32.const 2048)))))
    (call $reply (i32.const 1024) (i32.const 8)))
  (func (export "canister_update disarm")
    (i64.store (i32.const 1024) (call $global_timer_set (i64.const 0)))
    (call $reply (i32.const 1024) (i32.const 8)))
  ;; Counts firings and records the caller (size at 324, bytes from 328).
  (func (export "canister_global_timer")
    (i32.store (i32.const 320) (i32.add (i32.load (i32.const 320)) (i32.const 1)))
    (i32.store (i32.const 324) (call $msg_caller_size))
    (call $msg_caller_copy (i32.const 328) (i32.const 0) (call $msg_caller_size)))
  (func (export "canister_query timer_state") (call $reply (i32.const 320) (i32.const 40)))

  ;; Grows the heap by a page, writes its last word and bumps a global; replies the new size in pages.
  (func (export "canister_update grow")
    (drop (memory.grow (i32.const 1)))
    (i32.store (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4)) (i32.const 0x12345678))
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i32.store (i32.const 1024) (memory.size))
    (call $reply (i32.const 1024) (i32.const 4)))
  (func (export "canister_update grow_then_trap")
    (drop (memory.grow (i32.const 2)))
    (i32.store (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4)) (i32.const 0x0badf00d))
    (global.set $g (i32.add (global.get $g) (i32.const 100)))
    (i32.store (i32.const 3000) (i32.const 0xdead))
    (call $trap (i32.const 128) (i32.const 10)))
  ;; Replies memory.size, the global, the heap's last word and the word at 3000.
  (func (export "canister_query mem_state")
    (i32.store (i32.const 1024) (memory.size))
    (i32.store (i32.const 1028) (global.get $g))
    (i32.store (i32.const 1032) (i32.load (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4))))
    (i32.store (i32.const 1036) (i32.load (i32.const 3000)))
    (call $reply (i32.const 1024) (i32.const 16)))
)`;

const u64 = (n: bigint) => {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, n), true);
    return out;
};
const i64s = (bytes: Uint8Array) => {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return Array.from({ length: bytes.length / 8 }, (_, i) => view.getBigInt64(i * 8, true));
};
const i32s = (bytes: Uint8Array) => {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return Array.from({ length: bytes.length / 4 }, (_, i) => view.getInt32(i * 4, true));
};
/** The API canister's one method called through a deferred actor: it replies with Candid text. */
const textIdl: IDL.InterfaceFactory = ({ IDL }) => IDL.Service({ go_best_effort: IDL.Func([], [IDL.Text], []) });

describe('System API (raw Wasm canisters)', () => {
    let pic: TestPic;
    let module: Uint8Array;
    let a: Principal;
    let b: Principal;

    const install = async (wasm: Uint8Array = module): Promise<Principal> => {
        const canisterId = await pic.createCanister();
        await pic.installCode({ canisterId, wasm });
        return canisterId;
    };
    const update = (canisterId: Principal, method: string, arg?: Uint8Array) => pic.updateCall({ canisterId, method, arg });
    const query = (canisterId: Principal, method: string, arg?: Uint8Array) => pic.queryCall({ canisterId, method, arg });

    beforeAll(async () => {
        pic = await createPic();
        module = await wat(API, 'api.wat');
        a = await install();
        b = await install();
        await update(a, 'set_target', b.toUint8Array());
    });
    afterAll(async () => {
        await pic.tearDown();
    });

    describe('contexts and responses', () => {
        it('traps with IC0504 when a function is called from a context that may not call it', async () => {
            await expect(update(a, 'wrong_context')).rejects.toThrow(
                `Error from Canister ${a.toText()}: Canister violated contract: "ic0_msg_method_name_size" cannot be executed in update mode`
            );
            await expect(update(a, 'wrong_context')).rejects.toThrow('Error code: CanisterContractViolation');
            await expect(query(a, 'query_calls')).rejects.toThrow('"ic0_call_new" cannot be executed in non replicated query mode');
            // The same query called as an update runs in replicated query mode, where calls are still forbidden.
            await expect(update(a, 'query_calls')).rejects.toThrow('"ic0_call_new" cannot be executed in replicated query mode');
        });

        it('names the init context when canister_init misuses the API, and leaves the canister empty', async () => {
            const bad = await wat(`(module ${ic0Imports('call_perform')} (memory 1)
                (func (export "canister_init") (drop (call $call_perform)))
                (func (export "canister_update ping")))`);
            const canisterId = await pic.createCanister();
            await expect(pic.installCode({ canisterId, wasm: bad })).rejects.toThrow('"ic0_call_perform" cannot be executed in init mode');
            await expect(update(canisterId, 'ping')).rejects.toThrow('Attempted to execute a message, but the canister contains no Wasm module.');
        });

        it('traps on a second msg_reply, and the first reply is not delivered', async () => {
            await expect(update(a, 'reply_twice')).rejects.toThrow('Canister violated contract: ic0.msg_reply: the call is already replied');
        });

        it('traps when a *_copy reads past the end of its source or writes past the end of the heap', async () => {
            await expect(update(a, 'arg_copy_oob', new Uint8Array([1, 2, 3]))).rejects.toThrow(/Canister violated contract: ic0\.msg_arg_data_copy.*src=0 \+ length=4 exceeds the slice size=3/);
            await expect(update(a, 'caller_copy_oob')).rejects.toThrow(/Canister violated contract: ic0\.msg_caller_copy heap: src=65536 \+ length=1 exceeds the slice size=65536/);
        });

        it('traps when a function reads past the end of the heap: IC0504, or IC0502 for stable memory copies', async () => {
            await expect(update(a, 'reply_append_oob')).rejects.toThrow('Canister violated contract: ic0.msg_reply_data_append: src=65530 + length=10 exceeds the slice size=65536');
            await expect(update(a, 'stable_from_heap_oob')).rejects.toThrow(`Error from Canister ${a.toText()}: Canister trapped: heap out of bounds`);
        });

        it('rejects with IC0506 when an update returns without replying, keeping its state changes', async () => {
            await expect(update(a, 'no_reply')).rejects.toThrow(`Canister call failed: Canister ${a.toText()} did not reply to the call. Reject code: CanisterError. Error code: CanisterDidNotReply`);
            expect(i32s(await query(a, 'no_reply_count'))).toEqual([1]);
        });

        it('traps when call_perform is called without call_new', async () => {
            await expect(update(a, 'perform_alone')).rejects.toThrow('Canister violated contract: ic0.call_perform called when no call is under construction.');
        });
    });

    describe('callbacks', () => {
        it('delivers "Call deadline has expired." (reject code 6) to the reject callback of a best-effort call whose deadline passed', async () => {
            const start = BigInt(Math.round(await pic.getTime())) * 1_000_000n;
            const echoesBefore = i32s((await query(b, 'echo_state')).subarray(100, 104))[0];
            const deferred = pic.createDeferredActor<{ go_best_effort: () => Promise<string> }>(textIdl, a);
            const result = await deferred.go_best_effort();
            await pic.tick(); // a runs and sends the call with a 1 s timeout
            await pic.advanceTime(2_000); // the deadline passes before b answers
            expect(await result()).toBe('reject 6: Call deadline has expired.');
            // b did execute the call, saw the deadline, and its late reply was dropped.
            const state = await query(b, 'echo_state');
            expect(i64s(state.subarray(0, 8))[0]).toBe(start + 1_000_000_000n);
            expect(i32s(state.subarray(100, 104))[0]).toBe(echoesBefore + 1);
        });

        it('delivers the reply when a best-effort call is answered in time', async () => {
            const deferred = pic.createDeferredActor<{ go_best_effort: () => Promise<string> }>(textIdl, a);
            const result = await deferred.go_best_effort();
            expect(await result()).toBe('replied');
        });

        it('runs the cleanup callback on the pre-callback state when the reply callback traps', async () => {
            await expect(update(a, 'go_cleanup')).rejects.toThrow("Canister called `ic0.trap` with message: 'reply callback trapped'");
            // 256: set by the trapping reply callback (discarded); 260: set by the cleanup callback (kept).
            expect(i32s(await query(a, 'flags'))).toEqual([0, 1]);
            const logs = await logLines(pic, a);
            expect(logs).toContain('cleanup ran');
            expect(logs).toContain('[TRAP]: reply callback trapped');
        });

        it('discards the cleanup callback too when it traps, and reports both failures', async () => {
            await expect(update(a, 'go_cleanup_trap')).rejects.toThrow(
                "Canister called `ic0.trap` with message: 'reply callback trapped\n\ncall_on_cleanup also failed:\n\ncleanup trapped'"
            );
            expect(i32s(await query(a, 'flags'))).toEqual([0, 1]);
        });
    });

    describe('stable memory', () => {
        const MAX_PAGES = (500n * 1024n ** 3n) / 65536n;
        let c: Principal;
        beforeAll(async () => {
            c = await install();
        });

        it('stable64_grow returns -1 beyond the limit and leaves the size unchanged', async () => {
            expect(i64s(await update(c, 'stable_grow', u64(3n)))).toEqual([0n, 3n]);
            expect(i64s(await update(c, 'stable_grow', u64(MAX_PAGES - 2n)))).toEqual([-1n, 3n]);
            expect(i64s(await update(c, 'stable_grow', u64(-1n)))).toEqual([-1n, 3n]);
            expect(i64s(await update(c, 'stable_grow', u64(1n << 63n)))).toEqual([-1n, 3n]);
            expect(i64s(await update(c, 'stable_grow', u64(0n)))).toEqual([3n, 3n]);
        });

        it('traps with "stable memory out of bounds" on an access past the end', async () => {
            await expect(update(c, 'stable_write_oob')).rejects.toThrow(`Error from Canister ${c.toText()}: Canister trapped: stable memory out of bounds`);
            await expect(update(c, 'stable_write_oob')).rejects.toThrow('Error code: CanisterTrapped');
        });
    });

    describe('global timer', () => {
        let c: Principal;
        const timerState = async () => {
            const bytes = await query(c, 'timer_state');
            const [count, callerSize] = i32s(bytes.subarray(0, 8));
            return { count, caller: Principal.fromUint8Array(bytes.slice(8, 8 + callerSize)).toText() };
        };
        beforeAll(async () => {
            c = await install();
        });

        it('fires canister_global_timer once when due, not before, with the management canister as caller', async () => {
            expect(i64s(await update(c, 'arm', u64(1_000_000_000n)))).toEqual([0n]);
            await pic.tick(2);
            expect((await timerState()).count).toBe(0);
            await pic.advanceTime(999);
            await pic.tick();
            expect((await timerState()).count).toBe(0);
            await pic.advanceTime(1);
            await pic.tick();
            expect(await timerState()).toEqual({ count: 1, caller: 'aaaaa-aa' });
            // The timer was deactivated when it fired.
            await pic.advanceTime(10_000);
            await pic.tick(3);
            expect((await timerState()).count).toBe(1);
            expect(i64s(await update(c, 'disarm'))).toEqual([0n]);
        });

        it('rolls back a trapping timer task, which stays deactivated; the trap names the global timer mode', async () => {
            const failing = await install(
                await wat(`(module ${ic0Imports('global_timer_set', 'msg_reply', 'msg_reply_data_append')} (memory 1)
                    (func (export "canister_update arm") (drop (call $global_timer_set (i64.const 1))) (call $msg_reply))
                    (func (export "canister_global_timer") (i32.store (i32.const 0) (i32.const 1)) (call $msg_reply))
                    (func (export "canister_query state") (call $msg_reply_data_append (i32.const 0) (i32.const 4)) (call $msg_reply)))`)
            );
            await update(failing, 'arm'); // a deadline in the past: due at once
            await pic.tick(3);
            expect(i32s(await query(failing, 'state'))).toEqual([0]);
            const logs = await logLines(pic, failing);
            expect(logs).toEqual(['[TRAP]: "ic0_msg_reply" cannot be executed in global timer mode']);
        });

        it('global_timer_set returns the previous deadline, and 0 deactivates the timer', async () => {
            const now = BigInt(Math.round(await pic.getTime())) * 1_000_000n;
            await update(c, 'arm', u64(5_000_000_000n));
            expect(i64s(await update(c, 'arm', u64(7_000_000_000n)))).toEqual([now + 5_000_000_000n]);
            expect(i64s(await update(c, 'disarm'))).toEqual([now + 7_000_000_000n]);
            const before = (await timerState()).count;
            await pic.advanceTime(10_000);
            await pic.tick(2);
            expect((await timerState()).count).toBe(before);
        });
    });

    describe('module instantiation', () => {
        const STARTED = `(module ${ic0Imports('debug_print', 'msg_reply', 'msg_reply_data_append', 'trap')} (memory 1)
            (global $g (mut i32) (i32.const 0))
            (data (i32.const 0) "started")
            (func $start (call $debug_print (i32.const 0) (i32.const 7)) (global.set $g (i32.add (global.get $g) (i32.const 1))))
            (start $start)
            (func (export "canister_query g")
              (i32.store (i32.const 100) (global.get $g))
              (call $msg_reply_data_append (i32.const 100) (i32.const 4))
              (call $msg_reply))
            (func (export "canister_update grow_then_trap") (drop (memory.grow (i32.const 1))) (call $trap (i32.const 0) (i32.const 7))))`;

        it('runs the (start) function once at install, where debug_print is allowed, and not again on rollback', async () => {
            const c = await install(await wat(STARTED));
            expect(i32s(await query(c, 'g'))).toEqual([1]);
            // The trap grew the heap, so the replica re-creates the instance to roll back: start must not re-run.
            await expect(update(c, 'grow_then_trap')).rejects.toThrow("with message: 'started'");
            expect(i32s(await query(c, 'g'))).toEqual([1]);
            expect(await logLines(pic, c)).toEqual(['started', '[TRAP]: started']);
        });

        it('fails the install when (start) traps, leaving the canister empty', async () => {
            const failing = await wat(`(module ${ic0Imports('trap')} (memory 1) (data (i32.const 0) "no start")
                (func $start (call $trap (i32.const 0) (i32.const 8))) (start $start) (func (export "canister_update ping")))`);
            const canisterId = await pic.createCanister();
            await expect(pic.installCode({ canisterId, wasm: failing })).rejects.toThrow("Canister called `ic0.trap` with message: 'no start'");
            await expect(update(canisterId, 'ping')).rejects.toThrow('the canister contains no Wasm module');
        });

        it('fails the install of a module whose data segment does not fit its memory, and a later install works', async () => {
            const canisterId = await pic.createCanister();
            const overflowing = await wat(`(module (memory 1) (data (i32.const 65535) "ab") (func (export "canister_update ping")))`);
            await expect(pic.installCode({ canisterId, wasm: overflowing })).rejects.toThrow('Error code: CanisterTrapped');
            await expect(update(canisterId, 'ping')).rejects.toThrow('the canister contains no Wasm module');
            await pic.installCode({ canisterId, wasm: await wat(STARTED) });
            expect(i32s(await query(canisterId, 'g'))).toEqual([1]);
        });

        it('runs a module that declares no memory', async () => {
            const c = await install(await wat(`(module ${ic0Imports('msg_reply')} (func (export "canister_update ping") (call $msg_reply)))`));
            expect(await update(c, 'ping')).toEqual(new Uint8Array());
        });
    });

    describe('canister logs', () => {
        const LOGGER = `(module ${ic0Imports('msg_reply', 'msg_arg_data_size', 'msg_arg_data_copy', 'debug_print', 'trap')} (memory 1)
            (func $arg (result i32) (call $msg_arg_data_copy (i32.const 0) (i32.const 0) (call $msg_arg_data_size)) (call $msg_arg_data_size))
            (func (export "canister_update print") (call $debug_print (i32.const 0) (call $arg)) (call $msg_reply))
            (func (export "canister_query print_query") (call $debug_print (i32.const 0) (call $arg)) (call $msg_reply))
            (func (export "canister_query trap_query") (call $trap (i32.const 0) (call $arg))))`;
        const text = (s: string) => new TextEncoder().encode(s);
        const line = (tag: string) => tag + '.'.repeat(1000 - tag.length);
        let logger: Uint8Array;
        beforeAll(async () => {
            logger = await wat(LOGGER);
        });

        it('keeps the most recent 4 KiB, with increasing indices', async () => {
            const c = await install(logger);
            for (const tag of ['A', 'B', 'C', 'D', 'E']) await update(c, 'print', text(line(tag)));
            expect(await logLines(pic, c)).toEqual(['B', 'C', 'D', 'E'].map(line));
            const records = await pic.fetchCanisterLogs({ canisterId: c });
            expect(records.map((r) => r.idx)).toEqual([1n, 2n, 3n, 4n]);
        });

        it('does not collect the logs of non-replicated executions (queries called as queries)', async () => {
            const c = await install(logger);
            await query(c, 'print_query', text('query print'));
            await expect(query(c, 'trap_query', text('query trap'))).rejects.toThrow("Canister called `ic0.trap` with message: 'query trap'");
            await update(c, 'print_query', text('replicated query print'));
            await expect(update(c, 'trap_query', text('replicated query trap'))).rejects.toThrow('replicated query trap');
            expect(await logLines(pic, c)).toEqual(['replicated query print', '[TRAP]: replicated query trap']);
        });

        it('keeps logs across an upgrade, deletes them on reinstall, and then keeps 4 KiB of new ones', async () => {
            const c = await install(logger);
            for (const tag of ['A', 'B', 'C', 'D']) await update(c, 'print', text(line(tag)));
            await pic.upgradeCanister({ canisterId: c, wasm: logger });
            expect(await logLines(pic, c)).toEqual(['A', 'B', 'C', 'D'].map(line));
            await pic.reinstallCode({ canisterId: c, wasm: logger });
            expect(await logLines(pic, c)).toEqual([]);
            for (const tag of ['X', 'Y', 'Z']) await update(c, 'print', text(line(tag)));
            expect(await logLines(pic, c)).toEqual(['X', 'Y', 'Z'].map(line));
        });
    });

    describe('heap transactions', () => {
        let c: Principal;
        const memState = async () => i32s(await query(c, 'mem_state'));
        beforeAll(async () => {
            c = await install();
        });

        it('rolls back memory.grow, the heap and globals of a trapping message', async () => {
            expect(await memState()).toEqual([1, 0, 0, 0]);
            expect(i32s(await update(c, 'grow'))).toEqual([2]);
            expect(await memState()).toEqual([2, 1, 0x12345678, 0]);
            await expect(update(c, 'grow_then_trap')).rejects.toThrow("Canister called `ic0.trap` with message: 'deliberate'");
            // Same size, same last word, same global, and the word written before the trap is gone.
            expect(await memState()).toEqual([2, 1, 0x12345678, 0]);
            // The canister keeps working on the restored heap.
            expect(i32s(await update(c, 'grow'))).toEqual([3]);
            expect(await memState()).toEqual([3, 2, 0x12345678, 0]);
        });
    });
});
