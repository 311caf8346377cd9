/**
 * Work the index owes buckets, persisted so that nothing is lost when a bucket is unreachable: deleting
 * the chunks of removed assets and dead sessions, and telling a bucket that a session became an asset.
 * Each task is tried at once and then by the timer, with backoff, until it succeeds.
 */
import type { SiloError } from '../../shared/types';
import { adjustBucket, backoff } from './buckets';
import { describeError } from './errors';
import { dueTasks, putTask, removeTask } from './schedule';
import { assetMetaOf } from './urls';
import { type Env, type IndexState, MetaKey, type Ports, type TaskKind, type TaskRecord, takeNext } from './state';

/** At most this many `c2c_delete` batches per task run, so one huge asset cannot hold the timer. */
const DELETE_ROUNDS_PER_RUN = 64;

export function enqueueTask(state: IndexState, env: Env, kind: TaskKind): TaskRecord {
    const task: TaskRecord = { id: takeNext(state, MetaKey.nextTaskId), kind, attempts: 0, next_attempt_at: env.now, last_error: [] };
    putTask(state, task);
    return task;
}

type Outcome = { status: 'done' } | { status: 'progress' } | { status: 'failed'; error: string };

async function attempt(state: IndexState, ports: Ports, kind: TaskKind): Promise<Outcome> {
    const failed = (error: SiloError | unknown): Outcome => ({ status: 'failed', error: describeError(error) });
    try {
        if ('delete_chunks' in kind) {
            const { bucket, id } = kind.delete_chunks;
            for (let round = 0; round < DELETE_ROUNDS_PER_RUN; round++) {
                const result = await ports.bucket.deleteChunks(bucket, id);
                if ('Err' in result) return failed(result.Err);
                if (result.Ok.remaining === 0) return { status: 'done' };
            }
            return { status: 'progress' };
        }
        const { bucket, session_id, owner, visibility } = kind.notify_commit;
        const result = await ports.bucket.commitSession(bucket, { session_id, owner, visibility, meta: assetMetaOf(state, session_id) });
        // A session already gone (or going) was deleted with its asset: nothing is left to commit.
        if ('Err' in result && ('SessionNotFound' in result.Err || ('SessionClosed' in result.Err && result.Err.SessionClosed.state === 'deleting'))) return { status: 'done' };
        return 'Err' in result ? failed(result.Err) : { status: 'done' };
    } catch (error) {
        return failed(error);
    }
}

/** Runs one task; removes it when done, otherwise records when to continue. True when done. */
export async function runTask(state: IndexState, env: Env, ports: Ports, task: TaskRecord): Promise<boolean> {
    // Telling a bucket about a commit is moot once the asset is deleted: its chunks are being deleted.
    if ('notify_commit' in task.kind && !state.assets.containsKey(task.kind.notify_commit.session_id)) {
        removeTask(state, task.id);
        return true;
    }
    const outcome = await attempt(state, ports, task.kind);
    // Another message may have run and removed the task while this one awaited.
    const current = state.tasks.get(task.id);
    if (current === undefined) return outcome.status === 'done';
    if (outcome.status === 'done') {
        removeTask(state, task.id);
        // The deleted chunks no longer occupy the bucket.
        if ('delete_chunks' in current.kind && current.kind.delete_chunks.bytes.length > 0) {
            adjustBucket(state, current.kind.delete_chunks.bucket, { used: -current.kind.delete_chunks.bytes[0]! });
        }
        return true;
    }
    if (outcome.status === 'progress') {
        // A batch limit is progress, not a failure: continue at the next sweep without backing off.
        current.next_attempt_at = env.now;
    } else {
        current.attempts += 1;
        current.last_error = [outcome.error];
        current.next_attempt_at = env.now + backoff(current.attempts);
    }
    putTask(state, current);
    return false;
}

/** Runs the earliest due tasks, at most TASK_BATCH of them; the rest wait for the next run. */
export async function runDueTasks(state: IndexState, env: Env, ports: Ports): Promise<void> {
    for (const id of dueTasks(state, env.now)) {
        const task = state.tasks.get(id);
        if (task !== undefined && task.next_attempt_at <= env.now) await runTask(state, env, ports, task);
    }
}
