/**
 * What keeps the index's periodic work and its statistics bounded: time-ordered indexes of sessions (by
 * expires_at) and tasks (by next_attempt_at), from which the timer reads only the earliest few, and
 * running totals that stats() reads instead of scanning owners. Sessions and tasks are written through
 * the functions here so their index entries never disagree with the records.
 */
import { INDEX_LAYOUT_VERSION } from '../../shared/constants';
import { checkLayoutVersion, writeLayoutVersion } from '../../shared/stable';
import { getU64, type IndexState, MetaKey, type SessionRecord, setU64, type TaskRecord } from './state';

const EMPTY = new Uint8Array(0);

/** Sessions the expiry sweep examines per run at most. */
export const SWEEP_BATCH = 100;
/** Tasks the timer runs per run at most. */
export const TASK_BATCH = 32;

/** Stores a session, moving its expiry entry when `expires_at` changed. */
export function putSession(state: IndexState, s: SessionRecord): void {
    const previous = state.sessions.insert(s.session_id, s);
    if (previous !== undefined && previous.expires_at !== s.expires_at) state.expiries.remove([previous.expires_at, s.session_id]);
    state.expiries.insert([s.expires_at, s.session_id], EMPTY);
}

export function removeSession(state: IndexState, s: SessionRecord): void {
    const previous = state.sessions.remove(s.session_id);
    if (previous !== undefined) state.expiries.remove([previous.expires_at, s.session_id]);
}

/** Up to `limit` sessions whose expires_at is before `now`, earliest first (examines at most `limit` entries). */
export function dueSessions(state: IndexState, now: bigint, limit = SWEEP_BATCH): bigint[] {
    return state.expiries
        .keys(0, limit)
        .filter(([at]) => at < now)
        .map(([, id]) => id);
}

export function putTask(state: IndexState, task: TaskRecord): void {
    const previous = state.tasks.insert(task.id, task);
    if (previous !== undefined && previous.next_attempt_at !== task.next_attempt_at) state.taskQueue.remove([previous.next_attempt_at, task.id]);
    state.taskQueue.insert([task.next_attempt_at, task.id], EMPTY);
}

export function removeTask(state: IndexState, id: bigint): void {
    const previous = state.tasks.remove(id);
    if (previous !== undefined) state.taskQueue.remove([previous.next_attempt_at, id]);
}

/** Up to `limit` task ids due at `now`, earliest first. */
export function dueTasks(state: IndexState, now: bigint, limit = TASK_BATCH): bigint[] {
    return state.taskQueue
        .keys(0, limit)
        .filter(([at]) => at <= now)
        .map(([, id]) => id);
}

// ------------------------------------------------------------------ running totals

export interface Totals {
    assets: bigint;
    committed: bigint;
    reserved: bigint;
}

export function totals(state: IndexState): Totals {
    return { assets: getU64(state, MetaKey.totalAssets), committed: getU64(state, MetaKey.totalCommittedBytes), reserved: getU64(state, MetaKey.totalReservedBytes) };
}

export function addTotals(state: IndexState, delta: Partial<Totals>): void {
    if (delta.assets) setU64(state, MetaKey.totalAssets, getU64(state, MetaKey.totalAssets) + delta.assets);
    if (delta.committed) setU64(state, MetaKey.totalCommittedBytes, getU64(state, MetaKey.totalCommittedBytes) + delta.committed);
    if (delta.reserved) setU64(state, MetaKey.totalReservedBytes, getU64(state, MetaKey.totalReservedBytes) + delta.reserved);
}

// ------------------------------------------------------------------ layout

/**
 * After an upgrade: takes a layout v1 index over (building the time indexes, the totals and each owner's
 * open-session count, once, from the records), then returns a reason to refuse an unknown layout, or null.
 */
export function migrateLayout(state: IndexState): string | null {
    if (checkLayoutVersion(state.meta, MetaKey.layoutVersion, 1, 'index') === null) {
        const open = new Map<string, number>();
        for (const [, s] of state.sessions.items()) {
            state.expiries.insert([s.expires_at, s.session_id], EMPTY);
            open.set(s.owner.toText(), (open.get(s.owner.toText()) ?? 0) + 1);
        }
        for (const [, task] of state.tasks.items()) state.taskQueue.insert([task.next_attempt_at, task.id], EMPTY);
        const sum: Totals = { assets: 0n, committed: 0n, reserved: 0n };
        for (const [principal, owner] of state.owners.items()) {
            sum.assets += owner.asset_count;
            sum.committed += owner.committed_bytes;
            sum.reserved += owner.reserved_bytes;
            state.owners.insert(principal, { ...owner, open_sessions: [open.get(principal.toText()) ?? 0] });
        }
        setU64(state, MetaKey.totalAssets, sum.assets);
        setU64(state, MetaKey.totalCommittedBytes, sum.committed);
        setU64(state, MetaKey.totalReservedBytes, sum.reserved);
        writeLayoutVersion(state.meta, MetaKey.layoutVersion, INDEX_LAYOUT_VERSION);
    }
    return checkLayoutVersion(state.meta, MetaKey.layoutVersion, INDEX_LAYOUT_VERSION, 'index');
}
