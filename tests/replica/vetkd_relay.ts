/**
 * A canister that relays one call to the management canister and reports what came back, so specs see
 * the IC's answer to a canister exactly (reply bytes or reject code and message, and the refunded cycles).
 *
 * Update `relay` takes raw bytes: cycles to attach (u64 little-endian), the method name's length (one
 * byte), the method name, then the Candid argument. It replies with 0x00, the refunded cycles (u128 LE)
 * and the reply's bytes; or 0x01, the reject code (one byte), the refunded cycles and the reject message.
 * Query `cost` takes a curve (one byte) and a key name, and answers `ic0.cost_vetkd_derive_key`'s result
 * code (one byte) and the fee it wrote (u128 LE).
 */
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import type { PocketIc } from '../../replica';
import { ic0Imports, wat } from './wat';

export const RELAY_WAT = `(module
  ${ic0Imports('msg_reply', 'msg_reply_data_append', 'msg_arg_data_size', 'msg_arg_data_copy', 'msg_reject', 'msg_reject_code', 'msg_reject_msg_size', 'msg_reject_msg_copy', 'call_new', 'call_data_append', 'call_perform')}
  (import "ic0" "call_cycles_add128" (func $call_cycles_add128 (param i64 i64)))
  (import "ic0" "msg_cycles_refunded128" (func $msg_cycles_refunded128 (param i32)))
  (import "ic0" "cost_vetkd_derive_key" (func $cost_vetkd_derive_key (param i32 i32 i32 i32) (result i32)))
  (memory 4)
  (table 2 funcref) (elem (i32.const 0) $replied $rejected)
  (func $replied (param i32) (local $n i32)
    (i32.store8 (i32.const 131072) (i32.const 0))
    (call $msg_cycles_refunded128 (i32.const 131073))
    (local.set $n (call $msg_arg_data_size))
    (call $msg_arg_data_copy (i32.const 131089) (i32.const 0) (local.get $n))
    (call $msg_reply_data_append (i32.const 131072) (i32.add (local.get $n) (i32.const 17)))
    (call $msg_reply))
  (func $rejected (param i32) (local $n i32)
    (i32.store8 (i32.const 131072) (i32.const 1))
    (i32.store8 (i32.const 131073) (call $msg_reject_code))
    (call $msg_cycles_refunded128 (i32.const 131074))
    (local.set $n (call $msg_reject_msg_size))
    (call $msg_reject_msg_copy (i32.const 131090) (i32.const 0) (local.get $n))
    (call $msg_reply_data_append (i32.const 131072) (i32.add (local.get $n) (i32.const 18)))
    (call $msg_reply))
  (func (export "canister_query cost") (local $size i32)
    (local.set $size (call $msg_arg_data_size))
    (call $msg_arg_data_copy (i32.const 1024) (i32.const 0) (local.get $size))
    (i32.store8 (i32.const 131072)
      (call $cost_vetkd_derive_key (i32.const 1025) (i32.sub (local.get $size) (i32.const 1)) (i32.load8_u (i32.const 1024)) (i32.const 131073)))
    (call $msg_reply_data_append (i32.const 131072) (i32.const 17))
    (call $msg_reply))
  (func (export "canister_update relay") (local $size i32) (local $name i32)
    (local.set $size (call $msg_arg_data_size))
    (call $msg_arg_data_copy (i32.const 1024) (i32.const 0) (local.get $size))
    (local.set $name (i32.load8_u (i32.const 1032)))
    (call $call_new (i32.const 0) (i32.const 0) (i32.const 1033) (local.get $name) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0))
    (call $call_data_append (i32.add (i32.const 1033) (local.get $name)) (i32.sub (local.get $size) (i32.add (i32.const 9) (local.get $name))))
    (call $call_cycles_add128 (i64.const 0) (i64.load (i32.const 1024)))
    (if (call $call_perform) (then (call $msg_reject (i32.const 1033) (local.get $name))))))`;

export type RelayOutcome = { replied: Uint8Array; refunded: bigint } | { rejectCode: number; message: string; refunded: bigint };

const u128 = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).reverse().toString('hex')}`);

/** Installs a relay canister with `cycles`; returns a function that relays one call through it. */
export async function setupRelay(pic: PocketIc, controller: Principal, cycles = 1_000_000_000_000_000n) {
    const canisterId = await pic.createCanister({ sender: controller, controllers: [controller], cycles });
    await pic.installCode({ canisterId, wasm: await wat(RELAY_WAT), sender: controller });
    const relay = async (method: string, arg: Uint8Array, attach = 0n): Promise<RelayOutcome> => {
        const head = Buffer.alloc(9);
        head.writeBigUInt64LE(attach, 0);
        head[8] = method.length;
        const out = await pic.updateCall({ canisterId, method: 'relay', arg: Buffer.concat([head, Buffer.from(method), arg]), sender: controller });
        // A copy, not a view: IDL.decode reads a view's whole underlying buffer.
        if (out[0] === 0) return { replied: new Uint8Array(out.subarray(17)), refunded: u128(out.subarray(1, 17)) };
        return { rejectCode: out[1]!, refunded: u128(out.subarray(2, 18)), message: Buffer.from(out.subarray(18)).toString('utf8') };
    };
    /** Relays a call with Candid types, returning the decoded first value or the reject. */
    const call = async <T>(method: string, types: { args: IDL.Type[]; result: IDL.Type[] }, arg: unknown, attach = 0n) => {
        const outcome = await relay(method, new Uint8Array(IDL.encode(types.args, [arg])), attach);
        if ('replied' in outcome) return { value: IDL.decode(types.result, outcome.replied)[0] as T, refunded: outcome.refunded };
        return outcome;
    };
    /** `ic0.cost_vetkd_derive_key` for `name` and `curve`, as the canister sees it. */
    const cost = async (name: string, curve = 0): Promise<{ code: number; fee: bigint }> => {
        const out = await pic.queryCall({ canisterId, method: 'cost', arg: Buffer.concat([Buffer.from([curve]), Buffer.from(name)]), sender: controller });
        return { code: out[0]!, fee: u128(out.subarray(1, 17)) };
    };
    return { canisterId, relay, call, cost };
}
