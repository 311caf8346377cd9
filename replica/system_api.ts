/**
 * The `ic0` System API, bound to one canister. Each function checks that the current execution context
 * may call it, validates its arguments as the interface specification demands, and traps otherwise.
 */
import { Principal } from '@dfinity/principal';

import { concatBytes } from '../shared/bytes';
import type { Canister } from './canister';
import type { ContextKind, Execution } from './execution';
import { Trap } from './execution';
import { ErrorCode } from './errors';
import { MAX_LOG_BYTES, MAX_PAYLOAD_BYTES } from './limits';
import { DIRTY_PAGE_OVERHEAD, loggingBytes, OS_PAGE_BYTES } from './metering';
import { vetkdFee } from './vetkd/keys';

const ALL: ContextKind[] = ['I', 'G', 'U', 'RQ', 'NRQ', 'CQ', 'Ry', 'Rt', 'CRy', 'CRt', 'C', 'CC', 'F', 'T'];
const ALL_AND_START: ContextKind[] = [...ALL, 's'];
const CAN_RESPOND: ContextKind[] = ['U', 'RQ', 'NRQ', 'CQ', 'Ry', 'Rt', 'CRy', 'CRt'];
const CAN_CALL: ContextKind[] = ['U', 'CQ', 'Ry', 'Rt', 'CRy', 'CRt', 'T'];
const CYCLES_CALL: ContextKind[] = ['U', 'Ry', 'Rt', 'T'];

/** Which contexts may call each function (the letters of the specification's System API table). */
export const AVAILABILITY: Record<string, ContextKind[]> = {
    msg_arg_data_size: ['I', 'U', 'RQ', 'NRQ', 'CQ', 'Ry', 'CRy', 'F'],
    msg_arg_data_copy: ['I', 'U', 'RQ', 'NRQ', 'CQ', 'Ry', 'CRy', 'F'],
    msg_caller_size: ALL,
    msg_caller_copy: ALL,
    msg_reject_code: ['Ry', 'Rt', 'CRy', 'CRt'],
    msg_reject_msg_size: ['Rt', 'CRt'],
    msg_reject_msg_copy: ['Rt', 'CRt'],
    msg_deadline: ['U', 'RQ', 'NRQ', 'CQ', 'Ry', 'Rt', 'CRy', 'CRt'],
    msg_reply_data_append: CAN_RESPOND,
    msg_reply: CAN_RESPOND,
    msg_reject: CAN_RESPOND,
    msg_cycles_available128: ['U', 'RQ', 'Rt', 'Ry'],
    msg_cycles_refunded128: ['Rt', 'Ry'],
    msg_cycles_accept128: ['U', 'RQ', 'Rt', 'Ry'],
    cycles_burn128: ['I', 'G', 'U', 'RQ', 'Ry', 'Rt', 'C', 'T'],
    canister_self_size: ALL,
    canister_self_copy: ALL,
    canister_cycle_balance128: ALL,
    canister_liquid_cycle_balance128: ALL,
    canister_status: ALL,
    canister_version: ALL,
    msg_method_name_size: ['F'],
    msg_method_name_copy: ['F'],
    accept_message: ['F'],
    call_new: CAN_CALL,
    call_on_cleanup: CAN_CALL,
    call_data_append: CAN_CALL,
    call_with_best_effort_response: CAN_CALL,
    call_cycles_add128: CYCLES_CALL,
    call_perform: CAN_CALL,
    stable64_size: ALL_AND_START,
    stable64_grow: ALL_AND_START,
    stable64_write: ALL_AND_START,
    stable64_read: ALL_AND_START,
    certified_data_set: ['I', 'G', 'U', 'Ry', 'Rt', 'T'],
    data_certificate_present: ALL,
    data_certificate_size: ['NRQ', 'CQ'],
    data_certificate_copy: ['NRQ', 'CQ'],
    time: ALL,
    global_timer_set: ['I', 'G', 'U', 'Ry', 'Rt', 'C', 'T'],
    performance_counter: ALL_AND_START,
    is_controller: ALL_AND_START,
    in_replicated_execution: ALL_AND_START,
    cost_call: ALL_AND_START,
    cost_vetkd_derive_key: ALL_AND_START,
    debug_print: ALL_AND_START,
    trap: ALL_AND_START
};

const U64_MAX = (1n << 64n) - 1n;
const decoder = new TextDecoder('utf-8', { fatal: false });
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** Misuse of the System API: a trap reported as a contract violation (IC0504). */
function violation(message: string): Trap {
    return new Trap(message, false, ErrorCode.CanisterContractViolation);
}

export function createSystemApi(canister: Canister): Record<string, (...args: any[]) => any> {
    const exec = (name: string): Execution => {
        const e = canister.exec;
        if (e === null) throw violation(`"ic0_${name}" cannot be executed outside of an execution`);
        if (!AVAILABILITY[name].includes(e.kind)) {
            throw violation(`"ic0_${name}" cannot be executed in ${contextName(e)} mode`);
        }
        canister.chargeSystemCall(e, name);
        return e;
    };
    const heap = (): Uint8Array => canister.instance!.heap();
    /** A view of the heap range [src, src + size); leaving the heap is a contract violation (IC0504). */
    const read = (name: string, src: number, size: number): Uint8Array => {
        if (canister.exec !== null) canister.chargeBytes(canister.exec, name, size);
        const h = heap();
        if (src + size > h.length) throw violation(`ic0.${name}: src=${src} + length=${size} exceeds the slice size=${h.length}`);
        return h.subarray(src, src + size);
    };
    /** The same for the stable memory copies, which the IC reports as a "heap out of bounds" trap (IC0502). */
    const stableHeapRange = (src: number, size: number): Uint8Array => {
        const h = heap();
        if (src + size > h.length) throw new Trap('heap out of bounds');
        return h.subarray(src, src + size);
    };
    /**
     * Copies `data[offset, offset + size)` to the heap at `dst`. Either range being out of bounds is a
     * contract violation (IC0504), the heap range checked first, worded as the IC words them.
     */
    const copyOut = (name: string, data: Uint8Array, dst: number, offset: number, size: number): void => {
        if (canister.exec !== null) canister.chargeBytes(canister.exec, name, size);
        const h = heap();
        if (dst + size > h.length) throw violation(`ic0.${name} heap: src=${dst} + length=${size} exceeds the slice size=${h.length}`);
        if (offset + size > data.length) throw violation(`ic0.${name}: src=${offset} + length=${size} exceeds the slice size=${data.length}`);
        h.set(data.subarray(offset, offset + size), dst);
    };
    const write128 = (name: string, dst: number, value: bigint): void => {
        const out = new Uint8Array(16);
        const view = new DataView(out.buffer);
        view.setBigUint64(0, value & U64_MAX, true);
        view.setBigUint64(8, value >> 64n, true);
        copyOut(name, out, dst, 0, 16);
    };
    const u32 = (n: number): number => n >>> 0;
    const u64 = (n: bigint): number => {
        const v = BigInt.asUintN(64, n);
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Trap('stable memory out of bounds');
        return Number(v);
    };
    const amount128 = (high: bigint, low: bigint): bigint => (BigInt.asUintN(64, high) << 64n) | BigInt.asUintN(64, low);
    const selfBytes = (): Uint8Array => canister.id.toUint8Array();
    const callerBytes = (e: Execution): Uint8Array => (e.options.caller ?? Principal.anonymous()).toUint8Array();

    const argData = (e: Execution): Uint8Array => e.options.arg ?? new Uint8Array();
    const dataCertificate = (name: string, e: Execution): Uint8Array => {
        if (e.options.dataCertificate === undefined) throw violation(`ic0.${name}: no certificate is present`);
        return e.options.dataCertificate();
    };
    const pendingCall = (name: string, e: Execution) => {
        if (e.pending === null) throw violation(`ic0.${name} called when no call is under construction.`);
        return e.pending;
    };
    const ensureCanRespond = (name: string, e: Execution): void => {
        if (e.response !== null || e.callContext?.responded) throw violation(`ic0.${name}: the call is already replied`);
        if (e.callContext === null || e.callContext.origin.type === 'system') throw violation(`ic0.${name}: the call does not need a response`);
    };

    return {
        msg_arg_data_size: () => argData(exec('msg_arg_data_size')).length,
        msg_arg_data_copy: (dst: number, offset: number, size: number) =>
            copyOut('msg_arg_data_copy', argData(exec('msg_arg_data_copy')), u32(dst), u32(offset), u32(size)),
        msg_caller_size: () => callerBytes(exec('msg_caller_size')).length,
        msg_caller_copy: (dst: number, offset: number, size: number) =>
            copyOut('msg_caller_copy', callerBytes(exec('msg_caller_copy')), u32(dst), u32(offset), u32(size)),
        msg_reject_code: () => exec('msg_reject_code').options.rejectCode ?? 0,
        msg_reject_msg_size: () => new TextEncoder().encode(exec('msg_reject_msg_size').options.rejectMessage ?? '').length,
        msg_reject_msg_copy: (dst: number, offset: number, size: number) =>
            copyOut('msg_reject_msg_copy', new TextEncoder().encode(exec('msg_reject_msg_copy').options.rejectMessage ?? ''), u32(dst), u32(offset), u32(size)),
        msg_deadline: () => {
            const origin = exec('msg_deadline').callContext?.origin;
            return origin?.type === 'canister' && origin.deadline !== undefined ? origin.deadline : 0n;
        },
        msg_reply_data_append: (src: number, size: number) => {
            const e = exec('msg_reply_data_append');
            ensureCanRespond('msg_reply_data_append', e);
            const data = read('msg_reply_data_append', u32(src), u32(size));
            const limit = e.kind === 'NRQ' || e.kind === 'CQ' ? canister.limits.maxQueryReplyBytes : MAX_PAYLOAD_BYTES;
            if (e.replySize + data.length > limit) {
                throw violation(`ic0.msg_reply_data_append: application payload size (${e.replySize + data.length}) cannot be larger than ${limit}`);
            }
            e.replyParts.push(data.slice());
            e.replySize += data.length;
        },
        msg_reply: () => {
            const e = exec('msg_reply');
            ensureCanRespond('msg_reply', e);
            e.response = { type: 'reply', data: concatBytes(e.replyParts) };
        },
        msg_reject: (src: number, size: number) => {
            const e = exec('msg_reject');
            ensureCanRespond('msg_reject', e);
            const bytes = read('msg_reject', u32(src), u32(size));
            let message: string;
            try {
                message = strictDecoder.decode(bytes);
            } catch {
                throw violation('ic0.msg_reject: the reject message is not valid UTF-8');
            }
            e.response = { type: 'reject', code: 4, message };
        },
        msg_cycles_available128: (dst: number) => {
            const e = exec('msg_cycles_available128');
            write128('msg_cycles_available128', u32(dst), e.callContext?.availableCycles ?? 0n);
        },
        msg_cycles_refunded128: (dst: number) => write128('msg_cycles_refunded128', u32(dst), exec('msg_cycles_refunded128').options.refunded ?? 0n),
        msg_cycles_accept128: (high: bigint, low: bigint, dst: number) => {
            const e = exec('msg_cycles_accept128');
            const ctx = e.callContext;
            const wanted = amount128(high, low);
            const accepted = ctx === null ? 0n : wanted < ctx.availableCycles ? wanted : ctx.availableCycles;
            write128('msg_cycles_accept128', u32(dst), accepted);
            if (ctx !== null && accepted > 0n) {
                ctx.availableCycles -= accepted;
                e.cyclesAccepted += accepted;
                canister.cycles += accepted;
            }
        },
        cycles_burn128: (high: bigint, low: bigint, dst: number) => {
            const e = exec('cycles_burn128');
            const wanted = amount128(high, low);
            const liquid = canister.liquidCycles();
            const burned = wanted < liquid ? wanted : liquid > 0n ? liquid : 0n;
            write128('cycles_burn128', u32(dst), burned);
            canister.cycles -= burned;
            void e;
        },
        canister_self_size: () => (exec('canister_self_size'), selfBytes().length),
        canister_self_copy: (dst: number, offset: number, size: number) => {
            exec('canister_self_copy');
            copyOut('canister_self_copy', selfBytes(), u32(dst), u32(offset), u32(size));
        },
        canister_cycle_balance128: (dst: number) => {
            exec('canister_cycle_balance128');
            write128('canister_cycle_balance128', u32(dst), canister.cycles);
        },
        canister_liquid_cycle_balance128: (dst: number) => {
            exec('canister_liquid_cycle_balance128');
            const liquid = canister.liquidCycles();
            write128('canister_liquid_cycle_balance128', u32(dst), liquid > 0n ? liquid : 0n);
        },
        canister_status: () => {
            exec('canister_status');
            return canister.status === 'running' ? 1 : canister.status === 'stopping' ? 2 : 3;
        },
        canister_version: () => (exec('canister_version'), canister.version),
        msg_method_name_size: () => new TextEncoder().encode(exec('msg_method_name_size').options.method ?? '').length,
        msg_method_name_copy: (dst: number, offset: number, size: number) =>
            copyOut('msg_method_name_copy', new TextEncoder().encode(exec('msg_method_name_copy').options.method ?? ''), u32(dst), u32(offset), u32(size)),
        accept_message: () => {
            const e = exec('accept_message');
            if (e.accepted) throw violation('ic0.accept_message: message already accepted');
            e.accepted = true;
        },
        call_new: (calleeSrc: number, calleeSize: number, nameSrc: number, nameSize: number, replyFun: number, replyEnv: number, rejectFun: number, rejectEnv: number) => {
            const e = exec('call_new');
            if (e.pending !== null) {
                // A call still under construction is discarded; its cycles return to the balance.
                canister.cycles += e.pending.cycles;
                e.pending = null;
            }
            const calleeBytes = read('call_new', u32(calleeSrc), u32(calleeSize));
            if (calleeBytes.length > 29) throw violation('ic0.call_new: callee is not a valid principal (longer than 29 bytes)');
            const method = decoder.decode(read('call_new', u32(nameSrc), u32(nameSize)));
            e.pending = {
                callee: Principal.fromUint8Array(calleeBytes.slice()),
                method,
                args: [],
                argSize: 0,
                cycles: 0n,
                reply: { fun: u32(replyFun), env: u32(replyEnv) },
                reject: { fun: u32(rejectFun), env: u32(rejectEnv) }
            };
        },
        call_on_cleanup: (fun: number, env: number) => {
            const e = exec('call_on_cleanup');
            const call = pendingCall('call_on_cleanup', e);
            if (call.cleanup !== undefined) throw violation('ic0.call_on_cleanup: cleanup callback already set');
            call.cleanup = { fun: u32(fun), env: u32(env) };
        },
        call_data_append: (src: number, size: number) => {
            const e = exec('call_data_append');
            const call = pendingCall('call_data_append', e);
            const data = read('call_data_append', u32(src), u32(size));
            if (call.argSize + data.length > MAX_PAYLOAD_BYTES) {
                throw violation(`ic0.call_data_append: payload size ${call.argSize + data.length} exceeds the maximum inter-canister call payload of ${MAX_PAYLOAD_BYTES} bytes`);
            }
            call.args.push(data.slice());
            call.argSize += data.length;
        },
        call_with_best_effort_response: (timeoutSeconds: number) => {
            const e = exec('call_with_best_effort_response');
            const call = pendingCall('call_with_best_effort_response', e);
            if (call.timeoutSeconds !== undefined) throw violation('ic0.call_with_best_effort_response: timeout already set');
            // The system bounds the timeout to 300 seconds.
            call.timeoutSeconds = Math.max(1, Math.min(u32(timeoutSeconds), 300));
        },
        call_cycles_add128: (high: bigint, low: bigint) => {
            const e = exec('call_cycles_add128');
            const call = pendingCall('call_cycles_add128', e);
            const amount = amount128(high, low);
            if (amount > canister.liquidCycles()) {
                throw violation(`ic0.call_cycles_add128: canister cannot transfer ${amount} cycles, its liquid balance is ${canister.liquidCycles()}`);
            }
            canister.cycles -= amount;
            call.cycles += amount;
        },
        call_perform: () => {
            const e = exec('call_perform');
            const call = pendingCall('call_perform', e);
            e.pending = null;
            const refusal = canister.checkOutgoingCall(e, call);
            if (refusal !== 0) {
                // The call is discarded; its cycles go back to the balance.
                canister.cycles += call.cycles;
                return refusal;
            }
            e.calls.push(call);
            return 0;
        },
        stable64_size: () => (exec('stable64_size'), BigInt(canister.stable.size)),
        stable64_grow: (pages: bigint) => {
            exec('stable64_grow');
            const delta = BigInt.asUintN(64, pages);
            if (delta > BigInt(Number.MAX_SAFE_INTEGER)) return -1n;
            return BigInt(canister.growStable(Number(delta)));
        },
        stable64_write: (offset: bigint, src: bigint, size: bigint) => {
            const e = exec('stable64_write');
            const o = u64(offset);
            const n = u64(size);
            if (!canister.stable.inBounds(o, n)) throw new Trap('stable memory out of bounds');
            canister.chargeBytes(e, 'stable64_write', n);
            if (n > 0) {
                // Each 4 KiB page this execution writes for the first time costs extra (dirty page overhead).
                let fresh = 0;
                for (let page = Math.floor(o / OS_PAGE_BYTES), last = Math.floor((o + n - 1) / OS_PAGE_BYTES); page <= last; page++) {
                    if (!e.dirtyStablePages.has(page)) {
                        e.dirtyStablePages.add(page);
                        fresh++;
                    }
                }
                canister.chargeInstructions(e, fresh * DIRTY_PAGE_OVERHEAD);
            }
            canister.stable.write(o, stableHeapRange(u64(src), n));
        },
        stable64_read: (dst: bigint, offset: bigint, size: bigint) => {
            const e = exec('stable64_read');
            const o = u64(offset);
            const n = u64(size);
            if (!canister.stable.inBounds(o, n)) throw new Trap('stable memory out of bounds');
            canister.chargeBytes(e, 'stable64_read', n);
            const target = stableHeapRange(u64(dst), n);
            canister.stable.read(o, target);
        },
        certified_data_set: (src: number, size: number) => {
            const e = exec('certified_data_set');
            if (u32(size) > 32) throw violation('ic0.certified_data_set: certified data may be at most 32 bytes');
            canister.certifiedData = read('certified_data_set', u32(src), u32(size)).slice();
            void e;
        },
        // A certificate is present only in a query called as a query on its target canister (the replica's
        // `dataCertificate` hook, set by the HTTP interface, provides it).
        data_certificate_present: () => (exec('data_certificate_present').options.dataCertificate === undefined ? 0 : 1),
        data_certificate_size: () => dataCertificate('data_certificate_size', exec('data_certificate_size')).length,
        data_certificate_copy: (dst: number, offset: number, size: number) =>
            copyOut('data_certificate_copy', dataCertificate('data_certificate_copy', exec('data_certificate_copy')), u32(dst), u32(offset), u32(size)),
        time: () => exec('time').time,
        global_timer_set: (timestamp: bigint) => {
            exec('global_timer_set');
            const previous = canister.globalTimer;
            canister.globalTimer = BigInt.asUintN(64, timestamp);
            return previous;
        },
        performance_counter: (type: number) => {
            const e = exec('performance_counter');
            if (type === 0) return e.instructionsUsed();
            if (type === 1) return (e.callContext?.instructions ?? 0n) + e.instructionsUsed();
            throw violation(`ic0.performance_counter: unknown counter type ${type}`);
        },
        is_controller: (src: number, size: number) => {
            exec('is_controller');
            const bytes = read('is_controller', u32(src), u32(size));
            if (bytes.length > 29) throw violation('ic0.is_controller: argument is not a valid principal (longer than 29 bytes)');
            const text = Principal.fromUint8Array(bytes.slice()).toText();
            return canister.controllers.some((c) => c.toText() === text) ? 1 : 0;
        },
        in_replicated_execution: () => (exec('in_replicated_execution').replicated ? 1 : 0),
        cost_call: (methodNameSize: bigint, payloadSize: bigint, dst: number) => {
            exec('cost_call');
            write128('cost_call', u32(dst), canister.costs.call(BigInt.asUintN(64, methodNameSize) + BigInt.asUintN(64, payloadSize)));
        },
        // What vetkd_derive_key with this key costs: 0 and the fee at dst, 1 for a curve other than
        // bls12_381_g2 (0), 2 for a key name the network does not hold.
        cost_vetkd_derive_key: (src: number, size: number, curve: number, dst: number): number => {
            exec('cost_vetkd_derive_key');
            const name = decoder.decode(read('cost_vetkd_derive_key', u32(src), u32(size)));
            if (u32(curve) !== 0) return 1;
            const fee = vetkdFee(name);
            if (fee === undefined) return 2;
            write128('cost_vetkd_derive_key', u32(dst), fee);
            return 0;
        },
        debug_print: (src: number, size: number) => {
            const e = exec('debug_print');
            const h = heap();
            const s = u32(src);
            // An out-of-bounds debug_print is ignored rather than trapping, as on the IC.
            if (s + u32(size) > h.length) return;
            const content = h.slice(s, s + u32(size));
            canister.chargeBytes(e, 'debug_print', content.length);
            // What the log costs: the record kept, the oldest dropped, the bytes sent to the replica.
            canister.chargeInstructions(e, loggingBytes(content.length, MAX_LOG_BYTES, canister.logBytesRemaining));
            canister.log(content, e.time, e.replicated);
        },
        trap: (src: number, size: number) => {
            const e = exec('trap');
            const h = heap();
            const s = u32(src);
            const n = Math.min(u32(size), Math.max(0, h.length - s));
            canister.chargeInstructions(e, n + loggingBytes(n, MAX_LOG_BYTES, canister.logBytesRemaining));
            throw new Trap(decoder.decode(h.subarray(s, s + n)), true);
        }
    };
}

/** The mode names the IC uses in its "cannot be executed in ... mode" errors. */
function contextName(e: Execution): string {
    // System tasks are named after the task; post_upgrade runs in the same "init" mode as canister_init.
    if (e.kind === 'T') return e.callContext?.method === 'canister_heartbeat' ? 'heartbeat' : 'global timer';
    const names: Record<ContextKind, string> = {
        I: 'init',
        G: 'pre upgrade',
        U: 'update',
        RQ: 'replicated query',
        NRQ: 'non replicated query',
        CQ: 'composite query',
        Ry: 'reply callback',
        Rt: 'reject callback',
        CRy: 'composite reply callback',
        CRt: 'composite reject callback',
        C: 'cleanup',
        CC: 'composite cleanup',
        F: 'inspect message',
        T: 'global timer',
        s: 'start'
    };
    return names[e.kind];
}
