/**
 * Silo within the IC's budgets, measured by the replica's metering: with the default configuration no
 * message of a full-size upload exceeds 10 B instructions (a quarter of the 40 B update limit), because
 * finish_upload reads chunks back in `hash_slice_bytes` slices; deletion, batched by
 * `DELETE_BATCH_CHUNKS` chunks per message, stays within it too.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DEFAULT_HASH_SLICE_BYTES, DELETE_BATCH_CHUNKS, MAX_CHUNK_SIZE } from '../../shared/constants';
import type { Execution } from '../../replica/execution';
import { createPic, type TestPic } from '../helpers/pic';
import { bytes, deploySilo, download, identity, unwrap, upload } from '../helpers/silo';

const BUDGET = 10_000_000_000n;
let pic: TestPic;
beforeEach(async () => {
    pic = await createPic();
});
afterEach(async () => {
    await pic.tearDown();
});

describe('instructions per message', () => {
    it('keeps every message of a 1.9 MiB-chunk upload, and of its deletion, under 10 B instructions with the defaults', async (context) => {
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

        // Deleting: one c2c_delete removes both chunks; a full batch of full chunks stays in budget too.
        executions.length = 0;
        unwrap(await silo.index(identity('carol')).delete_asset(asset.id));
        await pic.advanceTime(60_000);
        await pic.tick(5);
        const deletes = executions.filter((e) => e.method === 'c2c_delete');
        expect(deletes).toHaveLength(1);
        expect(await silo.bucket(asset.bucket, identity('carol')).stats()).toMatchObject({ chunks: 0n, stored_bytes: 0n });
        expect(deletes[0].instructions * BigInt(DELETE_BATCH_CHUNKS), `c2c_delete used ${deletes[0].instructions} for 1 + a bit chunks`).toBeLessThanOrEqual(BUDGET);
    });
});
