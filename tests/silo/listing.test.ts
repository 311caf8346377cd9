/**
 * list_assets pages through an owner's assets in commit order. Asset ids are session ids, given at
 * begin_upload, so an upload begun earlier may commit later: found by the model-based suite, a listing
 * skipped such an asset (its cursor and its scan both assumed ids grow along the owner's pages).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Asset, AssetPage } from '../../shared/types';
import { createPic, type TestPic } from '../helpers/pic';
import { bytes, deploySilo, identity, stage, unwrap } from '../helpers/silo';

const alice = identity('alice');
let pic: TestPic;
beforeEach(async () => {
    pic = await createPic();
});
afterEach(async () => {
    await pic.tearDown();
});

describe('list_assets', () => {
    it('lists each asset once, in commit order, when uploads commit out of begin order, across pages and deletions', async () => {
        const silo = await deploySilo(pic, { config: { min_chunk_size: [1024] } });
        const staged: Awaited<ReturnType<typeof stage>>[] = [];
        for (let i = 0; i < 4; i++) staged.push(await stage(silo, alice, bytes(1500, i + 1)));
        const index = silo.index(alice);
        // Commit in the order 3, 1, 4, 2 (ids are given at begin: 1, 2, 3, 4).
        const order = [2, 0, 3, 1].map((i) => staged[i].ticket.session_id);
        for (const id of order) unwrap<Asset>(await index.finish_upload(id));

        const list = async (limit: number, cursor: [] | [bigint] = []) => unwrap<AssetPage>(await index.list_assets({ owner: [], cursor, limit: [limit] }));
        expect((await list(10)).assets.map((a) => a.id)).toEqual(order);

        const seen: bigint[] = [];
        let cursor: [] | [bigint] = [];
        do {
            const page = await list(1, cursor);
            seen.push(...page.assets.map((a) => a.id));
            cursor = page.next_cursor;
            // Deleting what was listed does not move the cursor past anything unlisted.
            if (seen.length === 1) unwrap(await index.delete_asset(seen[0]));
        } while (cursor.length > 0);
        expect(seen).toEqual(order);
        expect((await list(10)).assets.map((a) => a.id)).toEqual(order.slice(1));
    });
});
