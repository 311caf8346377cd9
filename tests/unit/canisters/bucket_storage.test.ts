/** The bucket's chunk storage: chunks in pieces, and the whole chunks a layout v1 bucket left behind. */
import { describe, expect, it } from 'vitest';

import { checkLayout, commitSession, dropChunkOf, getChunk, hashChunk, openSession, putChunk, readChunk, removeChunk, sealSession, visitChunk, writeChunk } from '../../../canisters/bucket/logic';
import { MetaKey } from '../../../canisters/bucket/state';
import { BUCKET_LAYOUT_VERSION } from '../../../shared/constants';
import { absorbBlocks, encodeState, initialState } from '../../../shared/sha256';
import { ALICE, bytes, INDEX, newBucketState } from './harness';

const PIECE = 64;

describe('chunk pieces', () => {
    it('round-trips chunks of every length around the piece size, and reads any range', () => {
        const state = newBucketState();
        for (const length of [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE, 3 * PIECE + 17]) {
            const data = bytes(length, length);
            writeChunk(state, 7n, length, data, PIECE);
            expect(state.pieces.len()).toBe(Math.ceil(length / PIECE));
            expect(readChunk(state, 7n, length, 0, length, PIECE)).toEqual(data);
            for (const [from, to] of [[0, 1], [PIECE - 1, PIECE + 1], [PIECE, 2 * PIECE], [5, length]]) {
                if (to > length || from > to) continue;
                expect(readChunk(state, 7n, length, from, to, PIECE)).toEqual(data.subarray(from, to));
            }
            removeChunk(state, 7n, length, length, PIECE);
            expect(state.pieces.len()).toBe(0);
        }
    });

    it('visits a range a piece at a time, never more than one piece at once', () => {
        const state = newBucketState();
        const data = bytes(5 * PIECE + 3, 1);
        writeChunk(state, 1n, 0, data, PIECE);
        const parts: number[] = [];
        visitChunk(state, 1n, 0, 10, 4 * PIECE + 1, (b) => parts.push(b.length), PIECE);
        expect(parts).toEqual([PIECE - 10, PIECE, PIECE, PIECE, 1]);
    });

    it('keeps the pieces of neighbouring chunks and sessions apart', () => {
        const state = newBucketState();
        const a = bytes(2 * PIECE, 2);
        const b = bytes(2 * PIECE, 3);
        writeChunk(state, 1n, 1, a, PIECE);
        writeChunk(state, 1n, 2, b, PIECE);
        writeChunk(state, 2n, 1, b, PIECE);
        removeChunk(state, 1n, 2, b.length, PIECE);
        expect(readChunk(state, 1n, 1, 0, a.length, PIECE)).toEqual(a);
        expect(readChunk(state, 2n, 1, 0, b.length, PIECE)).toEqual(b);
        expect(() => readChunk(state, 1n, 2, 0, b.length, PIECE)).toThrow(/invariant broken: chunk 2 of 1 has no piece 0/);
    });
});

describe('a bucket stored by layout v1 (one value per chunk)', () => {
    function v1Bucket() {
        const state = newBucketState();
        state.meta.insert(MetaKey.layoutVersion, Uint8Array.of(0, 0, 0, 1));
        return state;
    }

    it('is taken over by an upgrade, which records the current layout', () => {
        const state = v1Bucket();
        expect(checkLayout(state)).toBeNull();
        expect(state.meta.get(MetaKey.layoutVersion)).toEqual(Uint8Array.of(0, 0, 0, BUCKET_LAYOUT_VERSION));
    });

    it('keeps its chunks readable, hashable and deletable; rewritten chunks move to pieces', () => {
        const state = v1Bucket();
        const size = 300;
        const data = bytes(size, 4);
        const env = { caller: INDEX, now: 1n };
        expect(openSession(state, env, { session_id: 5n, owner: ALICE, size: BigInt(size), chunk_size: 128, chunk_count: 3, visibility: { public: null } })).toEqual({ Ok: null });
        // Chunks 0 and 1 arrived before the upgrade, as whole values.
        for (const i of [0, 1]) {
            expect(putChunk(state, { caller: ALICE, now: 1n }, 5n, i, data.subarray(i * 128, i * 128 + 128))).toEqual({ Ok: null });
            removeChunk(state, 5n, i, 128);
            state.chunks.insert([5n, i], data.slice(i * 128, i * 128 + 128));
        }
        checkLayout(state);
        // Chunk 1 is sent again after the upgrade; chunk 2 for the first time.
        expect(putChunk(state, { caller: ALICE, now: 2n }, 5n, 1, data.subarray(128, 256))).toEqual({ Ok: null });
        expect(putChunk(state, { caller: ALICE, now: 2n }, 5n, 2, data.subarray(256))).toEqual({ Ok: null });
        expect(state.chunks.len()).toBe(1);
        expect(sealSession(state, 5n)).toEqual({ Ok: null });
        const hashed = hashChunk(state, { session_id: 5n, index: 0, offset: 0, length: 0, state: encodeState(initialState()) });
        expect(hashed).toEqual({ Ok: { state: encodeState(absorbBlocks(initialState(), data.subarray(0, 128))), tail: new Uint8Array() } });
        expect(commitSession(state, { session_id: 5n, owner: ALICE, visibility: { public: null }, meta: [] })).toEqual({ Ok: null });
        for (const i of [0, 1, 2]) expect(getChunk(state, { caller: ALICE, now: 3n }, 5n, i)).toEqual({ Ok: data.slice(i * 128, Math.min(size, i * 128 + 128)) });
        [128, 128, 44].forEach((length, i) => removeChunk(state, 5n, i, length));
        expect(state.chunks.len()).toBe(0);
        expect(state.pieces.len()).toBe(0);
    });
});

describe('hashing part of a chunk', () => {
    it('takes whole SHA-256 blocks, and leaves a partial block only at the very end, as the tail', () => {
        const state = newBucketState();
        const data = bytes(300, 6);
        expect(openSession(state, { caller: INDEX, now: 1n }, { session_id: 9n, owner: ALICE, size: 300n, chunk_size: 128, chunk_count: 3, visibility: { private: null } })).toEqual({ Ok: null });
        for (const i of [0, 1, 2]) expect(putChunk(state, { caller: ALICE, now: 1n }, 9n, i, data.subarray(i * 128, i * 128 + 128))).toEqual({ Ok: null });
        expect(sealSession(state, 9n)).toEqual({ Ok: null });
        const start = encodeState(initialState());
        const invalid = { Err: { InvalidArgument: expect.stringContaining('SHA-256 block') } };
        expect(hashChunk(state, { session_id: 9n, index: 0, offset: 0, length: 100, state: start })).toEqual(invalid);
        expect(hashChunk(state, { session_id: 9n, index: 2, offset: 0, length: 40, state: start })).toEqual(invalid);
        expect(hashChunk(state, { session_id: 9n, index: 0, offset: 32, length: 64, state: start })).toMatchObject({ Err: { InvalidArgument: expect.stringContaining('cannot hash bytes 32..96') } });
        expect(hashChunk(state, { session_id: 9n, index: 0, offset: 64, length: 0, state: start })).toEqual({ Ok: { state: encodeState(absorbBlocks(initialState(), data.subarray(64, 128))), tail: new Uint8Array() } });
        // The final chunk is 44 bytes: no whole block, all of it comes back as the tail.
        expect(hashChunk(state, { session_id: 9n, index: 2, offset: 0, length: 0, state: start })).toEqual({ Ok: { state: start, tail: data.slice(256) } });
    });
});

describe('sealing a session that is sealed already', () => {
    // On the verifier's path the bucket drops a chunk that fails verification while the session is sealed,
    // and the index re-opens the session. If that re-open is lost (the bucket was being stopped), the next
    // finish_upload seals again: a sealed session with a chunk missing would stay sealed for good, every
    // finish failing and every resend refused, until the session expired.
    it('re-opens it and names the missing chunks when verification dropped one', () => {
        const state = newBucketState();
        const data = bytes(300, 7);
        expect(openSession(state, { caller: INDEX, now: 1n }, { session_id: 11n, owner: ALICE, size: 300n, chunk_size: 128, chunk_count: 3, visibility: { private: null } })).toEqual({ Ok: null });
        for (const i of [0, 1, 2]) expect(putChunk(state, { caller: ALICE, now: 1n }, 11n, i, data.subarray(i * 128, i * 128 + 128))).toEqual({ Ok: null });
        expect(sealSession(state, 11n)).toEqual({ Ok: null });
        expect(sealSession(state, 11n)).toEqual({ Ok: null }); // all chunks there: a no-op, as before
        const sealed = state.sessions.get(11n)!;
        dropChunkOf(state, sealed, 1); // as verification does on a mismatch
        state.sessions.insert(11n, sealed);
        expect(sealSession(state, 11n)).toEqual({ Err: { MissingChunks: { count: 1, missing: [1] } } });
        expect(state.sessions.get(11n)!.state).toEqual({ open: null });
        expect(putChunk(state, { caller: ALICE, now: 2n }, 11n, 1, data.subarray(128, 256))).toEqual({ Ok: null });
        expect(sealSession(state, 11n)).toEqual({ Ok: null });
    });
});
