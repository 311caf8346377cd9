/**
 * Silo within the IC's budgets, measured by the replica's metering: with the default configuration no
 * message of a full-size upload exceeds 10 B instructions (a quarter of the 40 B update limit), because
 * finish_upload reads chunks back in `hash_slice_bytes` slices.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DEFAULT_HASH_SLICE_BYTES, MAX_CHUNK_SIZE } from '../../shared/constants';
import type { Execution } from '../../replica/execution';
import { createPic, type TestPic } from '../helpers/pic';
import { bytes, deploySilo, download, identity, upload } from '../helpers/silo';

const BUDGET = 10_000_000_000n;
let pic: TestPic;
beforeEach(async () => {
    pic = await createPic();
});
afterEach(async () => {
    await pic.tearDown();
});

describe('instructions per message', () => {
    it('keeps every message of a 1.9 MiB-chunk upload under 10 B instructions with the default slices', async (context) => {
        if (pic.replica === undefined) context.skip(); // needs the replica's execution observer
        const silo = await deploySilo(pic);
        const executions: { method: string; instructions: bigint }[] = [];
        for (const id of [silo.indexId, ...silo.buckets]) {
            pic.replica!.getCanister(id)!.observer = (_c, exec: Execution) => executions.push({ method: exec.options.method ?? exec.kind, instructions: exec.instructions });
        }
        const data = bytes(MAX_CHUNK_SIZE + 4096, 5);
        const { asset } = await upload(silo, identity('carol'), data, { chunkSize: MAX_CHUNK_SIZE });
        expect(Buffer.from(await download(silo, identity('carol'), asset)).equals(Buffer.from(data))).toBe(true);

        const hashes = executions.filter((e) => e.method === 'c2c_hash_chunk');
        // The full chunk in slices of DEFAULT_HASH_SLICE_BYTES, and the short last chunk in one.
        expect(hashes).toHaveLength(Math.ceil(MAX_CHUNK_SIZE / DEFAULT_HASH_SLICE_BYTES) + 1);
        const largest = executions.reduce((m, e) => (e.instructions > m.instructions ? e : m));
        expect(largest.instructions, `${largest.method} used ${largest.instructions}`).toBeLessThanOrEqual(BUDGET);
        // And slicing is what keeps it there: hashing is the bulk of it.
        expect(largest.method).toBe('c2c_hash_chunk');
        expect(largest.instructions).toBeGreaterThan(BUDGET / 2n);
    });
});
