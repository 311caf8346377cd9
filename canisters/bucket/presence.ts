/**
 * Which chunks of a session the bucket holds: one bit per chunk, in pages of `PAGE_BITS` bits stored in
 * their own map, so a put reads and writes one 1 KiB page whatever the chunk count (layout v2 kept the
 * whole bitmap in the session record and re-encoded it on every put). Pages with no bit set are removed.
 *
 * Sessions opened before layout v3 keep their bitmap in the record (`received`); their bits are read
 * there too and cleared there when a chunk goes, never set there.
 */
import type { BucketSession, BucketState } from './state';

/** Chunks per presence page: 8,192 bits, 1 KiB. */
export const PAGE_BITS = 8192;

const bit = (bytes: Uint8Array | undefined, i: number): boolean => bytes !== undefined && (bytes[i >> 3] & (1 << (i & 7))) !== 0;

export function hasChunk(state: BucketState, session: BucketSession, index: number): boolean {
    if (bit(session.received, index)) return true;
    return bit(state.presence.get([session.session_id, Math.floor(index / PAGE_BITS)]), index % PAGE_BITS);
}

/** Marks a chunk present or absent (the caller keeps `received_count` and saves the session). */
export function setChunk(state: BucketState, session: BucketSession, index: number, present: boolean): void {
    const key: [bigint, number] = [session.session_id, Math.floor(index / PAGE_BITS)];
    const i = index % PAGE_BITS;
    if (!present && bit(session.received, index)) session.received[index >> 3] &= ~(1 << (index & 7));
    const page = state.presence.get(key) ?? new Uint8Array(PAGE_BITS / 8);
    if (present) page[i >> 3] |= 1 << (i & 7);
    else page[i >> 3] &= ~(1 << (i & 7));
    if (page.some((b) => b !== 0)) state.presence.insert(key, page);
    else state.presence.remove(key);
}

/**
 * Calls `visit(index)` for each chunk the session holds at or after `from`, in order, reading at most
 * `maxPages` pages; stops early when `visit` returns false. Returns where to continue (chunk_count when
 * everything was visited).
 */
export function scanChunks(state: BucketState, session: BucketSession, from: number, maxPages: number, visit: (index: number) => boolean): number {
    const legacy = session.received.length > 0 ? session.received : undefined;
    for (let page = Math.floor(from / PAGE_BITS), read = 0; page * PAGE_BITS < session.chunk_count; page++, read++) {
        if (read >= maxPages) return page * PAGE_BITS;
        const bits = state.presence.get([session.session_id, page]);
        if (bits === undefined && legacy === undefined) continue;
        const end = Math.min((page + 1) * PAGE_BITS, session.chunk_count);
        for (let index = Math.max(from, page * PAGE_BITS); index < end; index++) {
            const i = index % PAGE_BITS;
            // Skip whole empty bytes quickly.
            if (i % 8 === 0 && (bits === undefined || bits[i >> 3] === 0) && (legacy === undefined || legacy[index >> 3] === 0) && index + 8 <= end) {
                index += 7;
                continue;
            }
            if ((bit(bits, i) || bit(legacy, index)) && !visit(index)) return index + 1;
        }
    }
    return session.chunk_count;
}

/** Chunks the session lacks: at most 1,000 of their indexes, and how many in all. */
export function missingChunks(state: BucketState, session: BucketSession): { missing: number[]; count: number } {
    const missing: number[] = [];
    let next = 0;
    const gapTo = (end: number) => {
        for (; next < end && missing.length < 1000; next++) missing.push(next);
        next = end;
    };
    scanChunks(state, session, 0, Number.MAX_SAFE_INTEGER, (index) => {
        gapTo(index);
        next = index + 1;
        return missing.length < 1000;
    });
    if (missing.length < 1000) gapTo(session.chunk_count);
    return { missing, count: session.chunk_count - session.received_count };
}

/** Indexes of the chunks the session holds, ascending. */
export function receivedChunks(state: BucketState, session: BucketSession): number[] {
    const received: number[] = [];
    scanChunks(state, session, 0, Number.MAX_SAFE_INTEGER, (index) => received.push(index) > 0);
    return received;
}
