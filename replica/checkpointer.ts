/**
 * Checkpoints a replica into its state directory while it works: after enough new stable memory or a
 * while after the last checkpoint, whenever something ran since. A checkpoint is taken between rounds
 * (this runs from the event loop, never inside an execution) and holds whatever is in flight, so no
 * canister, however long it keeps a call open, can stop it. One checkpointer serves both the embedded
 * CLI and `silo start`.
 *
 * A periodic checkpoint that fails does not stop the work: it is reported once (and once more when
 * saving works again), and retried at the next interval.
 */
import type { Replica } from './replica';
import type { ReplicaStore } from './persistence';

/**
 * A checkpoint failed; the checkpointer has already told the user (its `report`), so whoever catches
 * this only decides what it means for the exit status.
 */
export class CheckpointFailedError extends Error {
    override name = 'CheckpointFailedError';
    constructor(
        message: string,
        readonly cause: Error
    ) {
        super(message);
    }
}

export interface CheckpointerOptions {
    /** Checkpoint when this long has passed since the last one and something ran (ms). */
    intervalMs: number;
    /** ... or as soon as this much stable memory was written since the last one. */
    everyBytes: number;
    /** The application's record kept with the state (`load().app`). */
    app: () => unknown;
    /** Hears of a failed periodic checkpoint (once per run of failures) and of the first success after. */
    report: (message: string) => void;
    /** Called after each checkpoint. */
    saved?: (at: Date) => void;
}

export class Checkpointer {
    /** When the last checkpoint was taken (by this process), or null before the first. */
    lastSavedAt: Date | null = null;
    /** The error of the last checkpoint, null when it succeeded. */
    failure: Error | null = null;
    private savedStamp = '';
    private timer: ReturnType<typeof setInterval> | null = null;

    constructor(
        private readonly store: ReplicaStore,
        private readonly replica: Replica,
        private readonly options: CheckpointerOptions
    ) {}

    /** Checks every quarter interval (at most every 500 ms) whether a checkpoint is due; never keeps the process alive. */
    start(): void {
        if (this.timer !== null) return;
        this.timer = setInterval(() => this.maybe(), Math.max(50, Math.min(500, this.options.intervalMs / 4)));
        this.timer.unref();
    }

    /** Ends the periodic checkpoints for good (`maybe` does nothing after); `save` still works. */
    stop(): void {
        if (this.timer !== null) clearInterval(this.timer);
        this.timer = null;
        this.stopped = true;
    }

    private stopped = false;

    /**
     * What changes whenever the replica's state may have: rounds, canisters, executions outside rounds
     * (each bumps a version), messages submitted.
     */
    private stamp(): string {
        let versions = 0n;
        for (const canister of this.replica.canisters.values()) versions += canister.version;
        const { nextMessageId, queue } = this.replica.messageState();
        return `${this.replica.round}:${this.replica.canisters.size}:${versions}:${nextMessageId}:${queue.length}`;
    }

    /** Whether anything may have changed since the last checkpoint. */
    changed(): boolean {
        return this.stamp() !== this.savedStamp;
    }

    /** Whether a checkpoint is due: something ran since the last one, and the interval passed or enough was written. */
    due(): boolean {
        if (!this.changed()) return false;
        const last = this.lastSavedAt?.getTime() ?? 0;
        if (Date.now() - last >= this.options.intervalMs) return true;
        let pending = 0;
        for (const canister of this.replica.canisters.values()) pending += canister.stable.overlayBytes;
        return pending >= this.options.everyBytes;
    }

    /** Checkpoints if due. Never throws: a failure is reported (once) and retried at the next interval. */
    maybe(): void {
        if (this.stopped || !this.due()) return;
        // After a failure, wait a whole interval before the next attempt.
        if (this.failure !== null && Date.now() - this.failedAt < this.options.intervalMs) return;
        try {
            this.save();
        } catch {
            // Recorded and reported by save.
        }
    }

    private failedAt = 0;

    /**
     * Checkpoints now. A failure is reported (once per run of failures) and thrown as a
     * {@link CheckpointFailedError}. `final`: the last one before the process ends (not retried).
     * `quiet`: the caller reports a failure itself; the store's error is thrown as it is.
     */
    save(final = false, quiet = false): void {
        const stamp = this.stamp();
        try {
            this.store.save(this.replica, this.options.app());
        } catch (error) {
            if (quiet) throw error;
            const first = this.failure === null;
            this.failure = error instanceof Error ? error : new Error(String(error));
            this.failedAt = Date.now();
            const last = this.lastSavedAt === null ? 'nothing saved by this process yet' : `last saved at ${this.lastSavedAt.toISOString()}`;
            const message = `could not save the state in ${this.store.dir}: ${this.failure.message} (${last})`;
            if (first) this.options.report(final ? message : `${message}; retrying every ${this.options.intervalMs / 1000} s`);
            throw new CheckpointFailedError(message, this.failure);
        }
        const at = new Date();
        if (this.failure !== null) this.options.report(`saved the state in ${this.store.dir} again at ${at.toISOString()}`);
        this.failure = null;
        this.lastSavedAt = at;
        this.savedStamp = stamp;
        this.options.saved?.(at);
    }
}
