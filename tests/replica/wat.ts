/** Compiles WebAssembly text to a binary module with `wabt`, for hand-written test canisters. */
type Wabt = Awaited<ReturnType<typeof import('wabt')>>;

let wabt: Promise<Wabt> | undefined;

export async function wat(text: string, name = 'test.wat'): Promise<Uint8Array> {
    wabt ??= import('wabt').then((m) => m.default());
    const module = (await wabt).parseWat(name, text);
    try {
        return module.toBinary({}).buffer;
    } finally {
        module.destroy();
    }
}

/** Every `ic0` import the test canisters use, with its signature (wasm32). */
const IC0: Record<string, string> = {
    msg_reply: '',
    msg_reply_data_append: '(param i32 i32)',
    msg_reject: '(param i32 i32)',
    msg_arg_data_size: '(result i32)',
    msg_arg_data_copy: '(param i32 i32 i32)',
    msg_caller_size: '(result i32)',
    msg_caller_copy: '(param i32 i32 i32)',
    msg_reject_code: '(result i32)',
    msg_reject_msg_size: '(result i32)',
    msg_reject_msg_copy: '(param i32 i32 i32)',
    msg_method_name_size: '(result i32)',
    msg_deadline: '(result i64)',
    call_new: '(param i32 i32 i32 i32 i32 i32 i32 i32)',
    call_on_cleanup: '(param i32 i32)',
    call_data_append: '(param i32 i32)',
    call_with_best_effort_response: '(param i32)',
    call_perform: '(result i32)',
    stable64_size: '(result i64)',
    stable64_grow: '(param i64) (result i64)',
    stable64_write: '(param i64 i64 i64)',
    stable64_read: '(param i64 i64 i64)',
    global_timer_set: '(param i64) (result i64)',
    time: '(result i64)',
    certified_data_set: '(param i32 i32)',
    data_certificate_present: '(result i32)',
    data_certificate_size: '(result i32)',
    data_certificate_copy: '(param i32 i32 i32)',
    debug_print: '(param i32 i32)',
    trap: '(param i32 i32)',
    in_replicated_execution: '(result i32)',
    call_cycles_add128: '(param i64 i64)'
};

/** `(import "ic0" ...)` lines for the named functions, each bound to `$<name>`. */
export function ic0Imports(...names: string[]): string {
    return names.map((n) => `(import "ic0" "${n}" (func $${n} ${IC0[n]}))`).join('\n');
}

/**
 * A canister holding certified data: update `set` certifies its raw argument (at most 32 bytes) and
 * replies with it; query `cert` replies with the raw data certificate, or nothing when none is present;
 * query `echo` replies with its raw argument.
 */
export const CERTIFIED_WAT = `(module
  ${ic0Imports('msg_reply', 'msg_reply_data_append', 'msg_arg_data_size', 'msg_arg_data_copy', 'certified_data_set', 'data_certificate_present', 'data_certificate_size', 'data_certificate_copy')}
  (memory 1)
  (func $arg (result i32) (local $n i32)
    (local.set $n (call $msg_arg_data_size))
    (call $msg_arg_data_copy (i32.const 1024) (i32.const 0) (local.get $n))
    (local.get $n))
  (func (export "canister_update set") (local $n i32)
    (local.set $n (call $arg))
    (call $certified_data_set (i32.const 1024) (local.get $n))
    (call $msg_reply_data_append (i32.const 1024) (local.get $n))
    (call $msg_reply))
  (func (export "canister_query echo")
    (call $msg_reply_data_append (i32.const 1024) (call $arg))
    (call $msg_reply))
  (func (export "canister_query cert") (local $n i32)
    (if (call $data_certificate_present)
      (then
        (local.set $n (call $data_certificate_size))
        (call $data_certificate_copy (i32.const 4096) (i32.const 0) (local.get $n))
        (call $msg_reply_data_append (i32.const 4096) (local.get $n))))
    (call $msg_reply)))`;

/**
 * A canister that relays calls, for the specs of inter-canister behaviour. Its init argument is its name.
 * A call target is `[n][callee: n bytes][m][method: m bytes]` (callee empty: the management canister).
 * - query `name`: its name; query `hits`: how many `cq` runs persisted ('0' + count, so '0' always);
 *   update `replicated` / query `replicated_q`: '0' + `ic0.in_replicated_execution`.
 * - update `trap` / query `trap_q`: trap with the argument as message; query `spin`: runs until stopped.
 * - update `call`: target, then the payload; calls it and replies `[0] + reply`, `[reject code] + message`,
 *   or `[0xFF, call_perform result]`.
 * - update `notify` (`notify_cycles`, with 1 M cycles attached): one-way call to the target (callbacks
 *   0xFFFFFFFF); replies `[call_perform result]`.
 * - update `flood`: `[count: u32 LE]` then a target; makes up to `count` calls to it, stopping at the
 *   first call_perform failure; replies `[calls made: u32 LE][last result: u32 LE]`.
 * - composite query `cq`: targets, one after another; calls each with no payload, then replies with
 *   '0' + `in_replicated_execution`, each response (a reply's bytes, or `!<code>:<message>`), and
 *   `#<hits>` (its own `hits` counter, incremented on entry: '1' if its changes survive to its callbacks).
 * - composite query `chain`: targets; calls the first with the rest as its argument and replies with its
 *   name followed by the response (`!<code>:<message>` for a reject); with no target, its name.
 */
export const RELAY_WAT = `(module
  ${ic0Imports('msg_reply', 'msg_reply_data_append', 'msg_reject', 'msg_arg_data_size', 'msg_arg_data_copy', 'msg_reject_code', 'msg_reject_msg_size', 'msg_reject_msg_copy', 'call_new', 'call_data_append', 'call_perform', 'call_cycles_add128', 'trap', 'in_replicated_execution')}
  (memory 4)
  (table 8 funcref)
  (elem (i32.const 0) $fwd_reply $fwd_reject $noop $cq_reply $cq_reject $chain_reply $chain_reject)
  ;; 0x100 hits, 0x104 pending cq calls, 0x108 cq output end, 0x200 name length, 0x204 name,
  ;; 0x1000 the argument, 0x20000 cq output.
  (func $arg (result i32) (local $n i32)
    (local.set $n (call $msg_arg_data_size))
    (call $msg_arg_data_copy (i32.const 0x1000) (i32.const 0) (local.get $n))
    (local.get $n))
  (func $byte (param $b i32) (i32.store8 (i32.const 0) (local.get $b)) (call $msg_reply_data_append (i32.const 0) (i32.const 1)))
  ;; call_new on the target at $p (callee, method); returns the address after it.
  (func $new (param $p i32) (param $reply i32) (param $reject i32) (result i32) (local $n i32) (local $m i32)
    (local.set $n (i32.load8_u (local.get $p)))
    (local.set $m (i32.load8_u (i32.add (local.get $p) (i32.add (local.get $n) (i32.const 1)))))
    (call $call_new
      (i32.add (local.get $p) (i32.const 1)) (local.get $n)
      (i32.add (local.get $p) (i32.add (local.get $n) (i32.const 2))) (local.get $m)
      (local.get $reply) (i32.const 0) (local.get $reject) (i32.const 0))
    (i32.add (local.get $p) (i32.add (i32.add (local.get $n) (local.get $m)) (i32.const 2))))
  (func (export "canister_init") (local $n i32)
    (local.set $n (call $msg_arg_data_size))
    (i32.store (i32.const 0x200) (local.get $n))
    (call $msg_arg_data_copy (i32.const 0x204) (i32.const 0) (local.get $n)))
  (func (export "canister_query name")
    (call $msg_reply_data_append (i32.const 0x204) (i32.load (i32.const 0x200)))
    (call $msg_reply))
  (func (export "canister_query hits")
    (call $byte (i32.add (i32.const 48) (i32.load (i32.const 0x100))))
    (call $msg_reply))
  (func (export "canister_update replicated")
    (call $byte (i32.add (i32.const 48) (call $in_replicated_execution)))
    (call $msg_reply))
  (func (export "canister_query replicated_q")
    (call $byte (i32.add (i32.const 48) (call $in_replicated_execution)))
    (call $msg_reply))
  (func (export "canister_query spin") (loop $l (memory.fill (i32.const 0x30000) (i32.const 0) (i32.const 65536)) (br $l)))
  (func (export "canister_update trap") (call $trap (i32.const 0x1000) (call $arg)))
  (func (export "canister_query trap_q") (call $trap (i32.const 0x1000) (call $arg)))
  (func (export "canister_update call") (local $end i32) (local $p i32) (local $r i32)
    (local.set $end (i32.add (i32.const 0x1000) (call $arg)))
    (local.set $p (call $new (i32.const 0x1000) (i32.const 0) (i32.const 1)))
    (call $call_data_append (local.get $p) (i32.sub (local.get $end) (local.get $p)))
    (local.set $r (call $call_perform))
    (if (local.get $r) (then (call $byte (i32.const 255)) (call $byte (local.get $r)) (call $msg_reply))))
  (func $fwd_reply (param $env i32) (local $n i32)
    (call $byte (i32.const 0))
    (local.set $n (call $msg_arg_data_size))
    (call $msg_arg_data_copy (i32.const 0x1000) (i32.const 0) (local.get $n))
    (call $msg_reply_data_append (i32.const 0x1000) (local.get $n))
    (call $msg_reply))
  (func $fwd_reject (param $env i32) (local $n i32)
    (call $byte (call $msg_reject_code))
    (local.set $n (call $msg_reject_msg_size))
    (call $msg_reject_msg_copy (i32.const 0x1000) (i32.const 0) (local.get $n))
    (call $msg_reply_data_append (i32.const 0x1000) (local.get $n))
    (call $msg_reply))
  (func $noop (param $env i32))
  (func $notify (param $cycles i64)
    (drop (call $arg))
    (drop (call $new (i32.const 0x1000) (i32.const -1) (i32.const -1)))
    (if (i64.ne (local.get $cycles) (i64.const 0)) (then (call $call_cycles_add128 (i64.const 0) (local.get $cycles))))
    (call $byte (call $call_perform))
    (call $msg_reply))
  (func (export "canister_update notify") (call $notify (i64.const 0)))
  (func (export "canister_update notify_cycles") (call $notify (i64.const 1000000)))
  (func (export "canister_update flood") (local $count i32) (local $i i32) (local $r i32)
    (drop (call $arg))
    (local.set $count (i32.load (i32.const 0x1000)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (drop (call $new (i32.const 0x1004) (i32.const 2) (i32.const 2)))
        (local.set $r (call $call_perform))
        (br_if $done (local.get $r))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.store (i32.const 0) (local.get $i))
    (i32.store (i32.const 4) (local.get $r))
    (call $msg_reply_data_append (i32.const 0) (i32.const 8))
    (call $msg_reply))
  (func $out (param $src i32) (param $n i32)
    (memory.copy (i32.load (i32.const 0x108)) (local.get $src) (local.get $n))
    (i32.store (i32.const 0x108) (i32.add (i32.load (i32.const 0x108)) (local.get $n))))
  (func $out_byte (param $b i32) (i32.store8 (i32.const 0) (local.get $b)) (call $out (i32.const 0) (i32.const 1)))
  (func $cq_done
    (i32.store (i32.const 0x104) (i32.sub (i32.load (i32.const 0x104)) (i32.const 1)))
    (if (i32.eqz (i32.load (i32.const 0x104)))
      (then
        (call $out_byte (i32.const 35))
        (call $out_byte (i32.add (i32.const 48) (i32.load (i32.const 0x100))))
        (call $msg_reply_data_append (i32.const 0x20000) (i32.sub (i32.load (i32.const 0x108)) (i32.const 0x20000)))
        (call $msg_reply))))
  (func (export "canister_composite_query cq") (local $end i32) (local $p i32)
    (i32.store (i32.const 0x100) (i32.add (i32.load (i32.const 0x100)) (i32.const 1)))
    (i32.store (i32.const 0x108) (i32.const 0x20000))
    (call $out_byte (i32.add (i32.const 48) (call $in_replicated_execution)))
    (local.set $end (i32.add (i32.const 0x1000) (call $arg)))
    (local.set $p (i32.const 0x1000))
    (i32.store (i32.const 0x104) (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $p (call $new (local.get $p) (i32.const 3) (i32.const 4)))
        (if (i32.eqz (call $call_perform)) (then (i32.store (i32.const 0x104) (i32.add (i32.load (i32.const 0x104)) (i32.const 1)))))
        (br $next)))
    (call $cq_done))
  ;; a reply's bytes, or "!<code>:<message>" for a reject, appended to the output
  (func $out_reply (local $n i32)
    (local.set $n (call $msg_arg_data_size))
    (call $msg_arg_data_copy (i32.const 0x1000) (i32.const 0) (local.get $n))
    (call $out (i32.const 0x1000) (local.get $n)))
  (func $out_reject (local $n i32)
    (call $out_byte (i32.const 33))
    (call $out_byte (i32.add (i32.const 48) (call $msg_reject_code)))
    (call $out_byte (i32.const 58))
    (local.set $n (call $msg_reject_msg_size))
    (call $msg_reject_msg_copy (i32.const 0x1000) (i32.const 0) (local.get $n))
    (call $out (i32.const 0x1000) (local.get $n)))
  (func $cq_reply (param $env i32) (call $out_reply) (call $cq_done))
  (func $cq_reject (param $env i32) (call $out_reject) (call $cq_done))
  (func $reply_out
    (call $msg_reply_data_append (i32.const 0x20000) (i32.sub (i32.load (i32.const 0x108)) (i32.const 0x20000)))
    (call $msg_reply))
  (func (export "canister_composite_query chain") (local $end i32) (local $p i32)
    (local.set $end (i32.add (i32.const 0x1000) (call $arg)))
    (i32.store (i32.const 0x108) (i32.const 0x20000))
    (call $out (i32.const 0x204) (i32.load (i32.const 0x200)))
    (if (i32.ge_u (i32.const 0x1000) (local.get $end)) (then (call $reply_out) (return)))
    (local.set $p (call $new (i32.const 0x1000) (i32.const 5) (i32.const 6)))
    (call $call_data_append (local.get $p) (i32.sub (local.get $end) (local.get $p)))
    (drop (call $call_perform)))
  (func $chain_reply (param $env i32) (call $out_reply) (call $reply_out))
  (func $chain_reject (param $env i32) (call $out_reject) (call $reply_out)))`;
