/**
 * Transactional execution: a trap discards every change the message made to the heap and to stable
 * memory (but not its log lines); a query's changes never persist, also when it runs as an update;
 * explicit rejects and traps reach the caller with the IC's codes and wording.
 */
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Actor } from '../../replica';
import { createPic, type TestPic } from '../helpers/pic';
import type { ProbeService } from '../fixtures/probe/idl';
import { logLines, setupProbe } from './probe';

describe('atomic execution', () => {
    let pic: TestPic;
    let probe: Actor<ProbeService>;
    let id: Principal;

    beforeAll(async () => {
        pic = await createPic();
        ({ actor: probe, canisterId: id } = await setupProbe(pic));
    });
    afterAll(async () => {
        await pic.tearDown();
    });

    it('rolls back heap and stable memory when a message traps, keeping its log lines', async () => {
        await probe.inc();
        await probe.put(8n, new Uint8Array([8, 8]));
        const stored = await probe.stored();

        await expect(probe.put_then_trap(7n, new Uint8Array([7]))).rejects.toThrow(
            `Canister call failed: Error from Canister ${id.toText()}: Canister called \`ic0.trap\` with message: 'deliberate trap after writing key 7'.\n`
        );
        expect(await probe.get()).toBe(1n);
        expect(await probe.get_value(7n)).toEqual([]);
        expect(await probe.stored()).toBe(stored);

        // Overwriting an existing entry is undone too: the old stable pages come back.
        await expect(probe.put_then_trap(8n, new Uint8Array([9, 9, 9]))).rejects.toThrow('deliberate trap after writing key 8');
        expect(await probe.get_value(8n)).toEqual([new Uint8Array([8, 8])]);
        expect(await probe.get()).toBe(1n);

        const logs = await logLines(pic, id);
        expect(logs.some((line) => line.includes('about to trap after writing key 7'))).toBe(true);
        expect(logs).toContain('[TRAP]: deliberate trap after writing key 7');
        expect(logs.indexOf('[TRAP]: deliberate trap after writing key 7')).toBeGreaterThan(logs.findIndex((l) => l.includes('key 7')));
    });

    it('reports an explicit trap as CanisterError / CanisterCalledTrap with the documentation link', async () => {
        const error = await probe.trap_with('nope').catch((e: Error) => e);
        expect(error).toBeInstanceOf(Error);
        const message = (error as Error).message;
        expect(message).toBe(
            `Canister call failed: Error from Canister ${id.toText()}: Canister called \`ic0.trap\` with message: 'nope'.\n` +
                'Consider gracefully handling failures from this canister or altering the canister to handle exceptions. ' +
                'See documentation: http://internetcomputer.org/docs/current/references/execution-errors#trapped-explicitly. ' +
                'Reject code: CanisterError. Error code: CanisterCalledTrap. Certified: true'
        );
        if (pic.kind === 'replica') expect(error).toMatchObject({ rejectCode: 5, errorCode: 503 });
    });

    it('delivers an explicit reject with code 4 (CanisterReject) and the canister\'s message', async () => {
        const error = await probe.reject_with('not today').catch((e: Error) => e);
        expect((error as Error).message).toMatch(/^Canister call failed: not today\. Reject code: CanisterReject\./);
        if (pic.kind === 'replica') expect(error).toMatchObject({ rejectCode: 4, rejectMessage: 'not today' });
        expect(await probe.get()).toBe(1n);
    });

    it('discards the writes of a query, which still replies with what it computed', async () => {
        const before = await probe.get();
        const stored = await probe.stored();
        expect(await probe.query_write()).toBe(before + 1000n);
        expect(await probe.query_write()).toBe(before + 1000n);
        expect(await probe.get()).toBe(before);
        expect(await probe.stored()).toBe(stored);
        expect(await probe.get_value(999n)).toEqual([]);
    });

    it('discards the writes of a query called as an update (replicated query)', async () => {
        const before = await probe.get();
        const stored = await probe.stored();
        const call = async () => IDL.decode([IDL.Nat], await pic.updateCall({ canisterId: id, method: 'query_write', arg: new Uint8Array(IDL.encode([], [])) }))[0];
        expect(await call()).toBe(before + 1000n);
        expect(await call()).toBe(before + 1000n);
        expect(await probe.get()).toBe(before);
        expect(await probe.stored()).toBe(stored);
        expect(await probe.get_value(999n)).toEqual([]);
    });

    // The replica skips the heap copy before an execution that follows a rollback (the copy still equals
    // the heap): every interleaving of discarded and kept executions must still restore the right state.
    it('keeps what each update wrote through any interleaving of queries, updates and traps', async () => {
        const start = await probe.get();
        expect(await probe.query_write()).toBe(start + 1000n); // rolled back
        expect(await probe.inc()).toBe(start + 1n); // runs right after a rollback: kept
        expect(await probe.query_write()).toBe(start + 1001n); // sees the update, rolled back
        await expect(probe.put_then_trap(5n, new Uint8Array([5]))).rejects.toThrow('deliberate trap');
        expect(await probe.inc()).toBe(start + 2n); // after a trap's rollback: kept
        expect(await probe.inc()).toBe(start + 3n); // after a kept update: kept
        await expect(probe.put_then_trap(6n, new Uint8Array([6]))).rejects.toThrow('deliberate trap'); // undoes only itself
        expect(await probe.get()).toBe(start + 3n);
        expect(await probe.get_value(5n)).toEqual([]);
        expect(await probe.get_value(6n)).toEqual([]);
    });
});
