/**
 * Canister lifecycle: upgrades keep stable memory and replace the heap, reinstalls wipe both, a failed
 * upgrade changes nothing; only controllers manage a canister; stopping waits for open call contexts
 * and a stopped canister refuses calls; oversized ingress messages are refused.
 */
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createPic, type TestPic } from '../helpers/pic';
import { idlFactory, type ProbeService } from '../fixtures/probe/idl';
import { PROBE_WASM, probeArg, setupProbe } from './probe';

const alice = Principal.fromText('xkbqi-2qaaa-aaaah-qbpqq-cai');
const bob = Principal.fromText('2vxsx-fae');

/** The management canister's stop_canister, for submitting it without waiting for it to finish. */
const stopIdl: IDL.InterfaceFactory = ({ IDL }) => IDL.Service({ stop_canister: IDL.Func([IDL.Record({ canister_id: IDL.Principal })], [], []) });

describe('canister lifecycle', () => {
    let pic: TestPic;

    beforeAll(async () => {
        pic = await createPic();
    });
    afterAll(async () => {
        await pic.tearDown();
    });

    describe('upgrade and reinstall', () => {
        it('upgrade keeps stable data, resets the heap, passes its argument to post_upgrade and bumps the version', async () => {
            const { actor, canisterId } = await setupProbe(pic, 'first');
            await actor.put(1n, new Uint8Array([1, 2, 3]));
            await actor.inc();
            await actor.inc();
            const before = await actor.info();
            expect(before).toMatchObject({ init_arg: 'first', upgraded: false, counter: 2n });

            await pic.upgradeCanister({ canisterId, wasm: PROBE_WASM, arg: probeArg('second') });
            const after = await actor.info();
            expect(after).toMatchObject({ init_arg: 'second', upgraded: true, counter: 0n });
            expect(after.version).toBeGreaterThan(before.version);
            expect(await actor.get_value(1n)).toEqual([new Uint8Array([1, 2, 3])]);
            expect(await actor.stored()).toBe(1n);
        });

        it('an upgrade whose post_upgrade traps leaves the canister exactly as it was', async () => {
            const { actor, canisterId } = await setupProbe(pic, 'kept');
            await actor.put(5n, new Uint8Array([5]));
            await actor.inc();
            // Azle finishes an update with calls to itself (`_azle_chunk`); let them land, since each
            // one bumps the canister version.
            await pic.tick(5);
            const before = await actor.info();

            await expect(pic.upgradeCanister({ canisterId, wasm: PROBE_WASM, arg: probeArg('trap') })).rejects.toThrow(
                "Canister called `ic0.trap` with message: 'post_upgrade refused the upgrade'"
            );
            expect(await actor.info()).toEqual(before);
            expect(await actor.get_value(5n)).toEqual([new Uint8Array([5])]);
            // The old heap is live again: it keeps counting from where it was.
            expect(await actor.inc()).toBe(2n);
        });

        it('reinstall wipes heap and stable memory and runs init again', async () => {
            const { actor, canisterId } = await setupProbe(pic, 'old');
            await actor.put(1n, new Uint8Array([1]));
            await actor.inc();
            await pic.reinstallCode({ canisterId, wasm: PROBE_WASM, arg: probeArg('new') });
            expect(await actor.info()).toMatchObject({ init_arg: 'new', upgraded: false, counter: 0n });
            expect(await actor.get_value(1n)).toEqual([]);
            expect(await actor.stored()).toBe(0n);
        });

        it('install on a canister that has code is refused', async () => {
            const { canisterId } = await setupProbe(pic);
            await expect(pic.installCode({ canisterId, wasm: PROBE_WASM, arg: probeArg('again') })).rejects.toThrow(
                `Canister ${canisterId.toText()} cannot be installed because the canister is not empty. Try installing with mode='reinstall' instead.`
            );
        });
    });

    describe('timers', () => {
        it('a timer fires once when due, and not before', async () => {
            const { actor } = await setupProbe(pic);
            await actor.set_timer(5);
            await pic.tick(3);
            expect(await actor.timer_fired()).toBe(0n);
            await pic.advanceTime(4_000);
            await pic.tick(3);
            expect(await actor.timer_fired()).toBe(0n);
            await pic.advanceTime(1_000);
            await pic.tick(3);
            expect(await actor.timer_fired()).toBe(1n);
            await pic.advanceTime(60_000);
            await pic.tick(3);
            expect(await actor.timer_fired()).toBe(1n);
        });
    });

    describe('controllers', () => {
        let canisterId: Principal;
        let actor: ReturnType<typeof pic.createActor<ProbeService>>;

        beforeAll(async () => {
            ({ actor, canisterId } = await setupProbe(pic, 'owned', { sender: alice }));
        });

        const notController = (sender: Principal) =>
            `Only the controllers of the canister ${canisterId.toText()} can control it.\nCanister's controllers: ${alice.toText()}\nSender's ID: ${sender.toText()}`;

        it('refuses install, stop and update_settings from a non-controller with IC0512', async () => {
            await expect(pic.reinstallCode({ canisterId, wasm: PROBE_WASM, arg: probeArg('x'), sender: bob })).rejects.toThrow(notController(bob));
            await expect(pic.stopCanister({ canisterId, sender: bob })).rejects.toThrow(notController(bob));
            await expect(pic.updateCanisterSettings({ canisterId, sender: bob, controllers: [bob] })).rejects.toThrow(notController(bob));
            await expect(pic.stopCanister({ canisterId, sender: bob })).rejects.toThrow('Reject code: CanisterError. Error code: CanisterInvalidController');
            // Nothing changed.
            expect((await pic.getControllers(canisterId)).map((p) => p.toText())).toEqual([alice.toText()]);
            expect(await actor.info()).toMatchObject({ init_arg: 'owned' });
        });

        it('is_controller tells controllers from others', async () => {
            expect(await actor.is_controller(alice)).toBe(true);
            expect(await actor.is_controller(bob)).toBe(false);
        });

        it('lets a controller hand control over', async () => {
            await pic.updateCanisterSettings({ canisterId, sender: alice, controllers: [alice, bob] });
            expect(await actor.is_controller(bob)).toBe(true);
        });
    });

    describe('stopping and stopped', () => {
        it('refuses calls to a stopped canister until it is started again', async () => {
            const { actor, canisterId } = await setupProbe(pic);
            await actor.inc();
            await pic.stopCanister({ canisterId });
            await expect(actor.inc()).rejects.toThrow(`Canister ${canisterId.toText()} is stopped`);
            await expect(actor.inc()).rejects.toThrow('Reject code: CanisterError. Error code: CanisterStopped');
            await expect(actor.get()).rejects.toThrow(`Canister ${canisterId.toText()} is stopped`);
            await pic.startCanister({ canisterId });
            expect(await actor.inc()).toBe(2n);
        });

        it('lets a stopping canister finish an open call context before it is stopped', async () => {
            const { canisterId: aId } = await setupProbe(pic, 'a');
            const { actor: b, canisterId: bId } = await setupProbe(pic, 'b');
            const a = pic.createDeferredActor<ProbeService>(idlFactory, aId);
            const management = pic.createDeferredActor<{ stop_canister: (arg: { canister_id: Principal }) => Promise<null> }>(stopIdl, Principal.managementCanister());

            const across = await a.read_across_await(bId);
            await pic.tick(); // a now awaits its call to b
            const stop = await management.stop_canister({ canister_id: aId });
            await pic.tick(); // a is stopping; b answers
            // While stopping, new calls are refused...
            const refused = await a.inc();
            await expect(refused()).rejects.toThrow(`Canister ${aId.toText()} is stopping`);
            // ...but the response to the open call is processed, which completes the call and the stop.
            expect(await across()).toEqual({ before: 0n, after: 0n });
            expect(await stop()).toBeNull();
            const after = await a.inc();
            await expect(after()).rejects.toThrow(`Canister ${aId.toText()} is stopped`);
            expect(await b.get()).toBe(1n);
        });
    });

    describe('ingress limits', () => {
        it('refuses an ingress message whose payload exceeds 2 MiB, and accepts one just below', async () => {
            const { actor } = await setupProbe(pic);
            // The Candid encoding adds 12 bytes: DIDL, a one-entry type table (vec nat8), the argument list, a 3-byte LEB128 length.
            await expect(actor.stage_wasm(new Uint8Array(2 * 1024 * 1024 - 11))).rejects.toThrow('exceeds the ingress message limit of 2097152 bytes');
            await expect(actor.stage_wasm(new Uint8Array(2 * 1024 * 1024 - 12))).resolves.toBeNull();
        });
    });
});
