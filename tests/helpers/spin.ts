/**
 * A canister that holds a call context open forever: `spin` (its argument: the canister's own id) calls
 * the canister's `tick`, and the reply callback counts the tick and calls again, never replying; so at
 * every round boundary a request or a response is queued and a callback waits. `bump` counts ordinary
 * updates, `arm` sets the global timer to its u64 argument (ns) and `canister_global_timer` counts
 * firings; query `counts` answers ticks, bumps and firings as three little-endian u32.
 */
import { ic0Imports, wat } from '../replica/wat';

export const SPIN_WAT = `(module ${ic0Imports('msg_arg_data_size', 'msg_arg_data_copy', 'msg_reply', 'msg_reply_data_append', 'call_new', 'call_perform', 'global_timer_set')}
  (memory 1)
  (table 1 funcref)
  (elem (i32.const 0) $again)
  (global $idlen (mut i32) (i32.const 0))
  (global $ticks (mut i32) (i32.const 0))
  (global $bumps (mut i32) (i32.const 0))
  (global $fired (mut i32) (i32.const 0))
  (data (i32.const 64) "tick")
  (func $call
    (call $call_new (i32.const 0) (global.get $idlen) (i32.const 64) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))
    (drop (call $call_perform)))
  (func $again (param $env i32)
    (global.set $ticks (i32.add (global.get $ticks) (i32.const 1)))
    (call $call))
  (func (export "canister_update spin")
    (global.set $idlen (call $msg_arg_data_size))
    (call $msg_arg_data_copy (i32.const 0) (i32.const 0) (global.get $idlen))
    (call $call))
  (func (export "canister_update tick") (call $msg_reply))
  (func (export "canister_update bump")
    (global.set $bumps (i32.add (global.get $bumps) (i32.const 1)))
    (call $msg_reply))
  (func (export "canister_update arm")
    (call $msg_arg_data_copy (i32.const 128) (i32.const 0) (i32.const 8))
    (drop (call $global_timer_set (i64.load (i32.const 128))))
    (call $msg_reply))
  (func (export "canister_global_timer")
    (global.set $fired (i32.add (global.get $fired) (i32.const 1))))
  (func (export "canister_query counts")
    (i32.store (i32.const 256) (global.get $ticks))
    (i32.store (i32.const 260) (global.get $bumps))
    (i32.store (i32.const 264) (global.get $fired))
    (call $msg_reply_data_append (i32.const 256) (i32.const 12))
    (call $msg_reply)))`;

export const spinWasm = (): Promise<Uint8Array> => wat(SPIN_WAT, 'spin.wat');

/** Decodes the reply of `counts`. */
export function decodeCounts(reply: Uint8Array): { ticks: number; bumps: number; fired: number } {
    const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
    return { ticks: view.getUint32(0, true), bumps: view.getUint32(4, true), fired: view.getUint32(8, true) };
}
