import { describe, expect, it } from 'vitest';

import { CanisterCallError, PocketIc } from '../../../replica';

describe('PocketIc (in-process)', () => {
    it('reports whole milliseconds exactly, although nanoseconds since the epoch exceed a double', async () => {
        const pic = await PocketIc.create(undefined, { time: 1_795_490_738_114 });
        expect(await pic.getTime()).toBe(1_795_490_738_114);
        await pic.advanceTime(1.5);
        expect(await pic.getTime()).toBe(1_795_490_738_115.5);
        await pic.setTime(new Date(1_800_000_000_007));
        expect(await pic.getTime()).toBe(1_800_000_000_007);
    });

    it('refuses to move time backwards', async () => {
        const pic = await PocketIc.create(undefined, { time: 1_000_000 });
        await expect(pic.setTime(999_999)).rejects.toThrow('time cannot go backwards');
    });

    it('words call errors as PicJS does', () => {
        expect(new CanisterCallError(5, 'boom', 503, true).message).toBe('Canister call failed: boom. Reject code: CanisterError. Error code: CanisterCalledTrap. Certified: true');
        expect(new CanisterCallError(1, 'big', undefined, false).message).toBe('Canister call failed: big. Reject code: SysFatal. Error code: None. Certified: false');
    });
});
