/** The checkpointer: saves only when something changed, reports a failing save once, retries, says when it works again. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Principal } from '@dfinity/principal';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { PocketIc, Replica } from '../../../replica';
import { Checkpointer, CheckpointFailedError } from '../../../replica/checkpointer';
import { ReplicaStore } from '../../../replica/persistence';

const OWNER = Principal.fromText('rrkah-fqaaa-aaaaa-aaaaq-cai');

afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
});

describe('checkpointer', () => {
    it('saves when something changed and the interval passed; a failure is reported once, then once when it recovers', async () => {
        vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
        const store = ReplicaStore.open(mkdtempSync(join(tmpdir(), 'silo-checkpointer-')));
        const replica = new Replica();
        const pic = new PocketIc(replica);
        const reports: string[] = [];
        const checkpointer = new Checkpointer(store, replica, { intervalMs: 1000, everyBytes: 1 << 30, app: () => ({}), report: (m) => reports.push(m) });
        const save = vi.spyOn(store, 'save');
        try {
            checkpointer.save();
            expect(save).toHaveBeenCalledTimes(1);
            vi.setSystemTime(1_005_000);
            checkpointer.maybe();
            expect(save).toHaveBeenCalledTimes(1); // nothing changed

            await pic.createCanister({ sender: OWNER, controllers: [OWNER] });
            save.mockImplementation(() => {
                throw new Error('EROFS: read-only file system');
            });
            for (let i = 0; i < 5; i++) {
                vi.setSystemTime(1_010_000 + i * 2000);
                checkpointer.maybe();
            }
            expect(save).toHaveBeenCalledTimes(6);
            expect(reports).toHaveLength(1);
            expect(reports[0]).toMatch(/^could not save the state in .*: EROFS: read-only file system \(last saved at .*\); retrying every 1 s$/);
            expect(() => checkpointer.save(true)).toThrow(CheckpointFailedError);
            expect(reports).toHaveLength(1);

            save.mockRestore();
            vi.setSystemTime(1_030_000);
            checkpointer.maybe();
            expect(checkpointer.failure).toBeNull();
            expect(reports).toHaveLength(2);
            expect(reports[1]).toMatch(/^saved the state in .* again at /);
            expect(checkpointer.lastSavedAt?.getTime()).toBe(1_030_000);
        } finally {
            store.close();
        }
    });
});
