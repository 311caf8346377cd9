/**
 * Nothing a canister does may escape a round as a host error: every index, length, pointer and amount it
 * passes to the System API, and every callback index it registers, ends as a reply or a reject (a trap of
 * that execution) while the replica goes on. Each System API function is called with hostile arguments
 * (the heap's end, 2^31 - 1, 2^32 - 1, 2^64 - 1), and calls are made with callback indices the table does
 * not hold; then the replica must still answer an ordinary call.
 */
import { Principal } from '@dfinity/principal';
import { beforeAll, describe, expect, it } from 'vitest';

import { FreeCosts, Replica } from '../../replica';
import { wat } from './wat';

const I32 = ['0', '65536', '0x7fffffff', '0xffffffff'];
const I64 = ['0', '0xffffffff', '0x7fffffffffffffff', '0xffffffffffffffff'];

/** Each System API function: its parameter types, its result type, and a call it needs under construction. */
const API: Record<string, { params: ('i32' | 'i64')[]; result?: 'i32' | 'i64'; pending?: boolean }> = {
    msg_arg_data_copy: { params: ['i32', 'i32', 'i32'] },
    msg_caller_copy: { params: ['i32', 'i32', 'i32'] },
    msg_method_name_copy: { params: ['i32', 'i32', 'i32'] },
    msg_reject_msg_copy: { params: ['i32', 'i32', 'i32'] },
    msg_reply_data_append: { params: ['i32', 'i32'] },
    msg_reject: { params: ['i32', 'i32'] },
    msg_cycles_available128: { params: ['i32'] },
    msg_cycles_accept128: { params: ['i64', 'i64', 'i32'] },
    cycles_burn128: { params: ['i64', 'i64', 'i32'] },
    canister_self_copy: { params: ['i32', 'i32', 'i32'] },
    canister_cycle_balance128: { params: ['i32'] },
    call_new: { params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'] },
    call_data_append: { params: ['i32', 'i32'], pending: true },
    call_on_cleanup: { params: ['i32', 'i32'], pending: true },
    call_with_best_effort_response: { params: ['i32'], pending: true },
    call_cycles_add128: { params: ['i64', 'i64'], pending: true },
    stable64_grow: { params: ['i64'], result: 'i64' },
    stable64_write: { params: ['i64', 'i64', 'i64'] },
    stable64_read: { params: ['i64', 'i64', 'i64'] },
    certified_data_set: { params: ['i32', 'i32'] },
    data_certificate_copy: { params: ['i32', 'i32', 'i32'] },
    global_timer_set: { params: ['i64'], result: 'i64' },
    performance_counter: { params: ['i32'], result: 'i64' },
    is_controller: { params: ['i32', 'i32'], result: 'i32' },
    cost_call: { params: ['i64', 'i64', 'i32'] },
    debug_print: { params: ['i32', 'i32'] },
    trap: { params: ['i32', 'i32'] }
};

const sig = (name: string) => {
    const f = API[name];
    return `(param ${f.params.join(' ')})${f.result ? ` (result ${f.result})` : ''}`;
};

/** A module whose update `go<i>` calls `name` with the i-th combination of hostile arguments, then replies. */
function hostileModule(name: string): { wasm: Promise<Uint8Array>; count: number } {
    const f = API[name];
    const methods: string[] = [];
    // Each argument position takes each hostile value once, the others the largest value.
    const combos: string[][] = [];
    for (let p = 0; p < f.params.length; p++) {
        const values = f.params[p] === 'i32' ? I32 : I64;
        for (const v of values) combos.push(f.params.map((t, q) => (q === p ? v : t === 'i32' ? '0xffffffff' : '0xffffffffffffffff')));
    }
    combos.forEach((args, i) => {
        const call = `(call $${name} ${args.map((a, q) => `(${f.params[q]}.const ${a})`).join(' ')})`;
        methods.push(`(func (export "canister_update go${i}")
            ${f.pending ? '(call $call_new (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))' : ''}
            ${f.result ? `(drop ${call})` : call}
            (call $msg_reply))`);
    });
    const imports = new Set([name, 'msg_reply', ...(f.pending ? ['call_new'] : [])]);
    const text = `(module
        ${[...imports].map((n) => `(import "ic0" "${n}" (func $${n} ${n === 'msg_reply' ? '' : sig(n)}))`).join('\n')}
        (memory 1)
        ${methods.join('\n')})`;
    return { wasm: wat(text), count: combos.length };
}

/** A module that calls its own `pong` with the given reply and reject callback indices (a table of 2). */
const CALLBACKS = (reply: string, reject: string) => `(module
    (import "ic0" "msg_reply" (func $msg_reply))
    (import "ic0" "call_new" (func $call_new ${sig('call_new')}))
    (import "ic0" "call_on_cleanup" (func $call_on_cleanup (param i32 i32)))
    (import "ic0" "call_perform" (func $call_perform (result i32)))
    (import "ic0" "canister_self_copy" (func $self_copy (param i32 i32 i32)))
    (import "ic0" "canister_self_size" (func $self_size (result i32)))
    (import "ic0" "trap" (func $trap (param i32 i32)))
    (memory 1)
    (table 2 funcref)
    (elem (i32.const 0) $cb)
    (data (i32.const 100) "pongfail")
    (func $cb (param i32) (call $msg_reply))
    (func (export "canister_update pong") (call $msg_reply))
    (func (export "canister_update fail") (call $trap (i32.const 104) (i32.const 4)))
    (func $go (param $method i32) (param $cleanup i32)
        (call $self_copy (i32.const 0) (i32.const 0) (call $self_size))
        (call $call_new (i32.const 0) (call $self_size) (local.get $method) (i32.const 4) (i32.const ${reply}) (i32.const 0) (i32.const ${reject}) (i32.const 0))
        (call $call_on_cleanup (local.get $cleanup) (i32.const 0))
        (drop (call $call_perform)))
    (func (export "canister_update reply_path") (call $go (i32.const 100) (i32.const 0xffffffff)))
    (func (export "canister_update reject_path") (call $go (i32.const 104) (i32.const 0x7fffffff))))`;

describe('no host error escapes a round', () => {
    const controller = Principal.fromText('aaaaa-aa');
    let replica: Replica;

    beforeAll(() => {
        replica = new Replica({ costs: FreeCosts });
    });

    const install = async (wasm: Uint8Array) => {
        const canister = replica.createCanister([controller], 10n ** 15n);
        const error = replica.installCode(canister, { install: null }, wasm, new Uint8Array(), controller);
        if (error !== null) throw new Error(error.toString());
        return canister;
    };

    it.each(Object.keys(API))('%s with hostile arguments replies or traps', async (name) => {
        const { wasm, count } = hostileModule(name);
        const canister = await install(await wasm);
        for (let i = 0; i < count; i++) {
            const response = replica.awaitIngress(replica.submitIngress(controller, canister.id, `go${i}`, new Uint8Array()));
            if (response.type === 'reject') expect([4, 5]).toContain(response.code);
        }
        // Whatever the calls made (say, to ids of 2^32 - 1 bytes' worth), the rounds after them run too.
        for (let i = 0; replica.busy && i < 100; i++) replica.tick();
    });

    it('inspect_message may make no call, and a composite query may attach no cycles (IC0504)', async () => {
        const canister = await install(
            await wat(`(module
                (import "ic0" "msg_reply" (func $msg_reply))
                (import "ic0" "accept_message" (func $accept_message))
                (import "ic0" "call_new" (func $call_new ${sig('call_new')}))
                (import "ic0" "call_cycles_add128" (func $call_cycles_add128 (param i64 i64)))
                (memory 1)
                (func $new (call $call_new (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
                (func (export "canister_inspect_message") (call $new) (call $accept_message))
                (func (export "canister_update go") (call $msg_reply))
                (func (export "canister_composite_query cq") (call $new) (call $call_cycles_add128 (i64.const 0) (i64.const 1)) (call $msg_reply)))`)
        );
        const inspected = replica.awaitIngress(replica.submitIngress(controller, canister.id, 'go', new Uint8Array()));
        expect(inspected).toMatchObject({ type: 'reject', code: 5, errorCode: 504 });
        expect(inspected.type === 'reject' && inspected.message).toContain('"ic0_call_new" cannot be executed in inspect message mode');
        const composite = replica.query(controller, canister.id, 'cq', new Uint8Array());
        expect(composite).toMatchObject({ type: 'reject', code: 5, errorCode: 504 });
        expect(composite.type === 'reject' && composite.message).toContain('"ic0_call_cycles_add128" cannot be executed in composite query mode');
    });

    it.each([
        ['0xffffffff', '0xffffffff'],
        ['0x7fffffff', '2'],
        ['2', '1']
    ])('callbacks at table indices %s / %s (and cleanup at 2^32 - 1, 2^31 - 1) trap with IC0513 and close the call', async (reply, reject) => {
        const canister = await install(await wat(CALLBACKS(reply, reject)));
        for (const method of ['reply_path', 'reject_path']) {
            const response = replica.awaitIngress(replica.submitIngress(controller, canister.id, method, new Uint8Array()));
            expect(response.type).toBe('reject');
            if (response.type === 'reject') {
                expect(response.errorCode).toBe(513);
                expect(response.message).toContain('Canister requested to invoke a non-existent Wasm function');
                expect(response.message).toContain('call_on_cleanup also failed');
            }
        }
        expect(canister.callContexts.size).toBe(0);
    });
});
