/**
 * Messages between canisters: requests from one canister to another arrive in the order they were
 * sent; other messages run while a canister awaits a response; a trap in a callback keeps what ran
 * before the await; calls that cannot be delivered come back as rejects with the IC's codes.
 */
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Actor } from '../../replica';
import { canisterIdFromIndex } from '../../replica/ids';
import { createPic, type TestPic } from '../helpers/pic';
import { idlFactory, type ProbeService } from '../fixtures/probe/idl';
import { setupProbe } from './probe';

describe('inter-canister messaging', () => {
    let pic: TestPic;
    let a: Actor<ProbeService>;
    let aId: Principal;
    let b: Actor<ProbeService>;
    let bId: Principal;

    beforeAll(async () => {
        pic = await createPic();
        ({ actor: a, canisterId: aId } = await setupProbe(pic, 'a'));
        ({ actor: b, canisterId: bId } = await setupProbe(pic, 'b'));
    });
    afterAll(async () => {
        await pic.tearDown();
    });

    it('delivers the requests one canister sends another in the order they were sent', async () => {
        const tags = Array.from({ length: 12 }, (_, i) => `t${i}`);
        const before = (await b.events_log()).length;
        await a.send_many(bId, tags);
        expect((await b.events_log()).slice(before)).toEqual(tags);
    });

    it('runs other messages while a canister awaits a response (interleaving at await)', async () => {
        const deferred = pic.createDeferredActor<ProbeService>(idlFactory, aId);
        const start = await a.get();
        // Submitted together: read_across_await runs first and awaits b, then both inc messages run
        // on a before the response to its call comes back.
        const across = await deferred.read_across_await(bId);
        const inc1 = await deferred.inc();
        const inc2 = await deferred.inc();
        await pic.tick();
        expect(await inc1()).toBe(start + 1n);
        expect(await inc2()).toBe(start + 2n);
        expect(await across()).toEqual({ before: start, after: start + 2n });
    });

    it('keeps only the changes made before the await when the callback traps, and rejects the caller', async () => {
        const counter = await a.get();
        const bCounter = await b.get();
        await expect(a.trap_in_callback(bId)).rejects.toThrow(
            `Error from Canister ${aId.toText()}: Canister called \`ic0.trap\` with message: 'trap in callback'`
        );
        await expect(a.trap_in_callback(bId)).rejects.toThrow('Reject code: CanisterError. Error code: CanisterCalledTrap');
        expect(await a.get()).toBe(counter + 2n); // +1 per call, from before the await; the +10 after it is gone
        const events = await a.events_log();
        expect(events.filter((e) => e === 'before-await')).toHaveLength(2);
        expect(events).not.toContain('after-await');
        expect(await b.get()).toBe(bCounter + 2n); // the calls themselves went through
    });

    it('rejects a call to a missing canister with code 3 (DestinationInvalid): no route outside the subnet, IC0301 inside it', async () => {
        const mainnet = Principal.fromText('rwlgt-iiaaa-aaaaa-aaaaa-cai');
        expect(await a.call_raw(mainnet, 'inc')).toEqual({ Err: { code: 3, message: `No route to canister ${mainnet.toText()}` } });
        const unused = canisterIdFromIndex(60_000n);
        expect(await a.call_raw(unused, 'inc')).toEqual({ Err: { code: 3, message: `IC0301: Canister ${unused.toText()} not found` } });
    });

    it('rejects a call to a missing method with code 5 and the IC0536 wording', async () => {
        expect(await a.call_raw(bId, 'no_such_method')).toEqual({
            Err: {
                code: 5,
                message:
                    `IC0536: Error from Canister ${bId.toText()}: Canister has no update method 'no_such_method'..\n` +
                    'Check that the method being called is exported by the target canister. See documentation: http://internetcomputer.org/docs/current/references/execution-errors#method-not-found'
            }
        });
    });

    it('rejects a call to a stopped canister, and to an empty one, with code 5', async () => {
        const stopped = await pic.createCanister();
        await pic.stopCanister({ canisterId: stopped });
        expect(await a.call_raw(stopped, 'inc')).toEqual({ Err: { code: 5, message: `IC0508: Canister ${stopped.toText()} is stopped` } });

        const empty = await pic.createCanister();
        const outcome = await a.call_raw(empty, 'inc');
        expect(outcome).toMatchObject({ Err: { code: 5 } });
        expect('Err' in outcome && outcome.Err.message).toContain(`IC0537: Error from Canister ${empty.toText()}: Attempted to execute a message, but the canister contains no Wasm module.`);
    });

    it('passes a reply through call_raw unchanged', async () => {
        const counter = await b.get();
        // `inc` replies with Candid `(nat)`: DIDL, no types, one arg of type nat (0x7d), LEB128 value.
        expect(await a.call_raw(bId, 'inc')).toEqual({ Ok: `4449444c00017d${(counter + 1n).toString(16).padStart(2, '0')}` });
    });

    it('sees the calling canister as the caller', async () => {
        const whoami = pic.createActor<ProbeService>(idlFactory, bId);
        expect((await whoami.whoami()).toText()).toBe(Principal.anonymous().toText());
        // a → b: b's `whoami` is a query, callable as an update from another canister (Candid principal reply).
        const outcome = await a.call_raw(bId, 'whoami');
        const id = aId.toUint8Array();
        const hex = Buffer.from(id).toString('hex');
        expect(outcome).toEqual({ Ok: `4449444c00016801${id.length.toString(16).padStart(2, '0')}${hex}` });
    });
});
