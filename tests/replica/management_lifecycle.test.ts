/** Management canister methods for a canister's lifecycle: status, settings, uninstall, delete, deposits. */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { beforeEach, describe, expect, it } from 'vitest';

import { ManagementMethods } from '../../shared/management';
import { PocketIc } from '../../replica';
import { ic0Imports, wat } from './wat';

const MGMT = Principal.fromText('aaaaa-aa');
const OWNER = Principal.fromText('rrkah-fqaaa-aaaaa-aaaaq-cai');
const STRANGER = Principal.fromText('ryjl3-tyaaa-aaaaa-aaaba-cai');

const PING = `(module ${ic0Imports('msg_reply')} (memory 1) (func (export "canister_update ping") (call $msg_reply)))`;

async function manage(pic: PocketIc, method: keyof typeof ManagementMethods, arg: unknown, sender = OWNER): Promise<unknown> {
    const types = ManagementMethods[method];
    const reply = await pic.updateCall({ canisterId: MGMT, method, arg: new Uint8Array(IDL.encode(types.args, [arg])), sender });
    const values = IDL.decode(types.result, reply);
    return values[0];
}

/** A canister that sends `amount` cycles to `target` with deposit_cycles when `deposit` is called. */
function depositor(target: Principal, amount: bigint): string {
    const arg = Buffer.from(IDL.encode([IDL.Record({ canister_id: IDL.Principal })], [{ canister_id: target }]));
    const hex = [...arg].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('');
    return `(module ${ic0Imports('call_new', 'call_data_append', 'call_perform', 'msg_reply', 'msg_reject')}
      (import "ic0" "call_cycles_add128" (func $call_cycles_add128 (param i64 i64)))
      (memory 1)
      (data (i32.const 0) "deposit_cycles")
      (data (i32.const 100) "${hex}")
      (table 2 funcref) (elem (i32.const 0) $replied $rejected)
      (type $cb (func (param i32)))
      (func $replied (param i32) (call $msg_reply))
      (func $rejected (param i32) (call $msg_reject (i32.const 0) (i32.const 7)))
      (func (export "canister_update deposit")
        (call $call_new (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 14) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0))
        (call $call_data_append (i32.const 100) (i32.const ${arg.length}))
        (call $call_cycles_add128 (i64.const 0) (i64.const ${amount}))
        (drop (call $call_perform))))`;
}

let pic: PocketIc;
let canisterId: Principal;
let module: Uint8Array;

beforeEach(async () => {
    pic = await PocketIc.create();
    module = await wat(PING);
    canisterId = await pic.createCanister({ sender: OWNER, controllers: [OWNER], cycles: 10_000_000_000_000n });
    await pic.installCode({ canisterId, wasm: module, sender: OWNER });
});

describe('management canister lifecycle', () => {
    it('canister_status reports status, module hash, controllers and balance, to controllers only', async () => {
        const status = (await manage(pic, 'canister_status', { canister_id: canisterId })) as {
            status: object;
            module_hash: [] | [Uint8Array];
            settings: { controllers: Principal[] };
            cycles: bigint;
            memory_size: bigint;
        };
        expect(status.status).toEqual({ running: null });
        expect(Buffer.from(status.module_hash[0]!).toString('hex')).toBe(createHash('sha256').update(module).digest('hex'));
        expect(status.settings.controllers.map((c) => c.toText())).toEqual([OWNER.toText()]);
        expect(status.cycles).toBe(await pic.getCyclesBalance(canisterId));
        expect(status.memory_size).toBeGreaterThanOrEqual(65_536n);
        await expect(manage(pic, 'canister_status', { canister_id: canisterId }, STRANGER)).rejects.toThrow('Only the controllers of the canister');
    });

    it('reports the hash of a gzipped module as the hash of what it unzips to', async () => {
        const { gzipSync } = await import('node:zlib');
        const gz = gzipSync(module);
        await pic.reinstallCode({ canisterId, wasm: gz, sender: OWNER });
        const status = (await manage(pic, 'canister_status', { canister_id: canisterId })) as { module_hash: [Uint8Array] };
        expect(Buffer.from(status.module_hash[0]).toString('hex')).toBe(createHash('sha256').update(gunzipSync(gz)).digest('hex'));
    });

    it('update_settings hands control over', async () => {
        await pic.updateCanisterSettings({ canisterId, controllers: [OWNER, STRANGER], sender: OWNER });
        expect((await pic.getControllers(canisterId)).map((c) => c.toText())).toEqual([OWNER.toText(), STRANGER.toText()]);
        await pic.updateCanisterSettings({ canisterId, controllers: [STRANGER], sender: STRANGER });
        await expect(pic.stopCanister({ canisterId, sender: OWNER })).rejects.toThrow('Only the controllers of the canister');
    });

    it('uninstall_code leaves an empty canister that refuses calls', async () => {
        await manage(pic, 'uninstall_code', { canister_id: canisterId, sender_canister_version: [] });
        await expect(pic.updateCall({ canisterId, method: 'ping', sender: OWNER })).rejects.toThrow('contains no Wasm module');
        const status = (await manage(pic, 'canister_status', { canister_id: canisterId })) as { module_hash: [] | [Uint8Array] };
        expect(status.module_hash).toEqual([]);
    });

    it('delete_canister needs a stopped canister, then the canister is gone', async () => {
        await expect(manage(pic, 'delete_canister', { canister_id: canisterId })).rejects.toThrow('must be stopped before it is deleted');
        await pic.stopCanister({ canisterId, sender: OWNER });
        expect(((await manage(pic, 'canister_status', { canister_id: canisterId })) as { status: object }).status).toEqual({ stopped: null });
        await manage(pic, 'delete_canister', { canister_id: canisterId });
        await expect(pic.updateCall({ canisterId, method: 'ping', sender: OWNER })).rejects.toThrow(`Canister ${canisterId.toText()} not found`);
    });

    it('deposit_cycles moves the cycles a canister attaches to the target, and is refused as ingress', async () => {
        const sender = await pic.createCanister({ sender: OWNER, controllers: [OWNER], cycles: 10_000_000_000_000n });
        await pic.installCode({ canisterId: sender, wasm: await wat(depositor(canisterId, 1_000_000_000_000n)), sender: OWNER });
        const before = await pic.getCyclesBalance(canisterId);
        const senderBefore = await pic.getCyclesBalance(sender);
        await pic.updateCall({ canisterId: sender, method: 'deposit', sender: OWNER });
        const after = await pic.getCyclesBalance(canisterId);
        // The target only gains (idle charges per round are tiny next to a trillion).
        expect(after - before).toBeGreaterThan(999_000_000_000n);
        expect(after - before).toBeLessThanOrEqual(1_000_000_000_000n);
        expect(senderBefore - (await pic.getCyclesBalance(sender))).toBeGreaterThanOrEqual(1_000_000_000_000n);
        await expect(manage(pic, 'deposit_cycles', { canister_id: canisterId })).rejects.toThrow('Only canisters can call ic00 method deposit_cycles');
    });
});
