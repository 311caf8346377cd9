/**
 * A hand-written canister (WAT) that forwards one call to another canister and answers with its raw
 * reply or reject, so a spec can call a canister-only method (one that refuses ingress) as a canister does.
 */
import type { Principal } from '@dfinity/principal';

import { ic0Imports, wat } from '../replica/wat';
import type { TestPic } from './pic';
import { ADMIN } from './silo';

const FORWARDER = `(module
  ${ic0Imports('msg_arg_data_size', 'msg_arg_data_copy', 'msg_reply', 'msg_reply_data_append', 'msg_reject', 'msg_reject_msg_size', 'msg_reject_msg_copy', 'call_new', 'call_data_append', 'call_perform')}
  (memory 64)
  (table 2 funcref)
  (elem (i32.const 0) $on_reply $on_reject)
  (func $on_reply (param $env i32) (local $n i32)
    (local.set $n (call $msg_arg_data_size))
    (call $msg_arg_data_copy (i32.const 0) (i32.const 0) (local.get $n))
    (call $msg_reply_data_append (i32.const 0) (local.get $n))
    (call $msg_reply))
  (func $on_reject (param $env i32) (local $n i32)
    (local.set $n (call $msg_reject_msg_size))
    (call $msg_reject_msg_copy (i32.const 0) (i32.const 0) (local.get $n))
    (call $msg_reject (i32.const 0) (local.get $n)))
  ;; argument: [callee length][callee][method length][method][payload]
  (func $call (local $n i32) (local $callee i32) (local $method i32) (local $payload i32)
    (local.set $n (call $msg_arg_data_size))
    (call $msg_arg_data_copy (i32.const 0) (i32.const 0) (local.get $n))
    (local.set $callee (i32.load8_u (i32.const 0)))
    (local.set $method (i32.load8_u (i32.add (i32.const 1) (local.get $callee))))
    (local.set $payload (i32.add (i32.const 2) (i32.add (local.get $callee) (local.get $method))))
    (call $call_new (i32.const 1) (local.get $callee) (i32.add (i32.const 2) (local.get $callee)) (local.get $method)
      (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0))
    (call $call_data_append (local.get $payload) (i32.sub (local.get $n) (local.get $payload)))
    (drop (call $call_perform)))
  (export "canister_update call" (func $call)))`;

/** Installs a forwarder; `call` sends `arg` to `method` of `target` from it and resolves to the raw reply. */
export async function setupForwarder(pic: TestPic) {
    const id = await pic.createCanister({ sender: ADMIN, controllers: [ADMIN], cycles: 10_000_000_000_000n });
    await pic.installCode({ canisterId: id, wasm: await wat(FORWARDER, 'forwarder.wat'), sender: ADMIN });
    return {
        id,
        call(target: Principal, method: string, arg: Uint8Array): Promise<Uint8Array> {
            const callee = target.toUint8Array();
            const name = new TextEncoder().encode(method);
            return pic.updateCall({ canisterId: id, method: 'call', arg: new Uint8Array([callee.length, ...callee, name.length, ...name, ...arg]), sender: ADMIN });
        }
    };
}
