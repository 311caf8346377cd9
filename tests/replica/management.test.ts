/**
 * The management canister as canisters use it: a canister creates another, uploads a module to the
 * new canister's chunk store and installs it with install_chunked_code; raw_rand gives fresh bytes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Actor } from '../../replica';
import { Fees } from '../../replica';
import { createPic, type TestPic } from '../helpers/pic';
import { idlFactory, type ProbeService } from '../fixtures/probe/idl';
import { PROBE_WASM, setupProbe } from './probe';

describe('management canister calls from canisters', () => {
    let pic: TestPic;
    let parent: Actor<ProbeService>;
    let parentId: Principal;

    beforeAll(async () => {
        pic = await createPic();
        ({ actor: parent, canisterId: parentId } = await setupProbe(pic, 'parent'));
    });
    afterAll(async () => {
        await pic.tearDown();
    });

    it('creates a child canister and installs a chunked module in it, then the child answers', async () => {
        const module = new Uint8Array(readFileSync(PROBE_WASM));
        expect(module.length).toBeGreaterThan(1024 * 1024); // more than one chunk
        const piece = 512 * 1024;
        for (let offset = 0; offset < module.length; offset += piece) await parent.stage_wasm(module.subarray(offset, offset + piece));
        const hash = new Uint8Array(createHash('sha256').update(module).digest());

        const childId = await parent.create_child('child', 1_000_000_000_000n, hash);
        const child = pic.createActor<ProbeService>(idlFactory, childId);
        expect(await child.info()).toMatchObject({ init_arg: 'child', upgraded: false, counter: 0n });
        expect(await child.inc()).toBe(1n);
        // The creator is the child's controller, and the child's cycles came from the call.
        expect((await pic.getControllers(childId)).map((p) => p.toText())).toEqual([parentId.toText()]);
        expect(await child.is_controller(parentId)).toBe(true);
        // The creation fee came out of the cycles sent; the child paid for its install, calls and messages
        // from the rest (a 13-node application subnet's fees).
        const balance = await pic.getCyclesBalance(childId);
        const afterFee = 1_000_000_000_000n - Fees.canisterCreation;
        expect(balance).toBeLessThan(afterFee);
        expect(balance).toBeGreaterThan(afterFee - 20_000_000_000n);
        if (pic.replica) expect(balance).toBe(afterFee - pic.replica.getCanister(childId)!.cyclesBurned);
    });

    it('refuses install_chunked_code when the hash does not match the chunks', async () => {
        // Enough cycles for the creation fee (500 B), so that it is the install that fails.
        await expect(parent.create_child('bad', 1_000_000_000_000n, new Uint8Array(32))).rejects.toThrow('does not match the hash');
    });

    it('raw_rand returns 32 fresh bytes per call', async () => {
        const first = await parent.random();
        const second = await parent.random();
        expect(first).toHaveLength(32);
        expect(second).toHaveLength(32);
        expect(Buffer.from(first).equals(Buffer.from(second))).toBe(false);
    });

    it('raw_rand is not accepted as an ingress message', async () => {
        await expect(
            pic.updateCall({ canisterId: Principal.managementCanister(), method: 'raw_rand', arg: new Uint8Array(IDL.encode([], [])) })
        ).rejects.toThrow('Only canisters can call ic00 method raw_rand');
    });

    // A Node Buffer is often a view into a larger pooled buffer; IDL.decode reads a view from its
    // buffer's first byte, so the replica once read such an argument as junk (InvalidManagementPayload).
    it('reads an argument passed as a view into a larger buffer, as PocketIC reads its bytes', async () => {
        const controller = Principal.fromUint8Array(Uint8Array.of(0x5c, 0x0b));
        const canisterId = await pic.createCanister({ sender: controller, controllers: [controller] });
        const arg = IDL.encode([IDL.Record({ canister_id: IDL.Principal })], [{ canister_id: canisterId }]);
        const view = Buffer.concat([Buffer.alloc(9, 0x44), Buffer.from(arg)]).subarray(9);
        expect(view.byteOffset).toBeGreaterThan(0);
        const reply = await pic.updateCall({ canisterId: Principal.fromText('aaaaa-aa'), method: 'canister_status', arg: view, sender: controller });
        expect(reply).toEqual(await pic.updateCall({ canisterId: Principal.fromText('aaaaa-aa'), method: 'canister_status', arg: new Uint8Array(arg), sender: controller }));
    });
});
