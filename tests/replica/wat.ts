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
    trap: '(param i32 i32)'
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
