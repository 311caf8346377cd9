/**
 * The replica's instruction counts against the IC's: Azle's published figures for its examples
 * (bench/calibration.ts) must be matched within 10%. And the SHA-256 of `shared/` must cost at most a
 * third of `@noble/hashes`' instructions per byte in a canister, with identical digests.
 */
import { describe, expect, it } from 'vitest';

import { runCalibration } from '../../bench/calibration';
import { sha256InCanister } from '../../bench/metering';

describe('calibration against the IC replica', () => {
    it('counts Azle example calls within 10% of the instructions Azle measured on the IC', async () => {
        const rows = await runCalibration();
        expect(rows.length).toBeGreaterThanOrEqual(9);
        for (const row of rows) expect(Math.abs(row.deviation), `${row.example} ${row.method}: ${row.measured} vs ${row.published}`).toBeLessThanOrEqual(0.1);
    });

    it('hashes with shared/sha256.ts in at most a third of @noble/hashes` instructions, same digest', async () => {
        const result = await sha256InCanister(64 * 1024);
        expect(result.ratio).toBeLessThanOrEqual(1 / 3);
        expect(result.shared).toBeGreaterThan(100); // a real count, not a broken meter
    });
});
