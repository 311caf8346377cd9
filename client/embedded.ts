/**
 * Silo on the in-process replica, kept in a state directory between runs: the CLI's default network.
 * The first run deploys an index and a bucket; later runs bring the replica back exactly as it was saved
 * (heaps, stable memory, calls in flight). State is checkpointed while work proceeds, whatever is in
 * flight (see replica/checkpointer.ts), so a killed process loses at most the last few seconds, and
 * never leaves a half-written state behind.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { Identity } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';
import { Principal as P } from '@dfinity/principal';

import { PocketIc, Replica, VetKdKeys } from '../replica';
import { Checkpointer } from '../replica/checkpointer';
import { isAlive, ReplicaStore, restoreInto } from '../replica/persistence';
import { bucketInitArg, deploySilo, indexInitArg } from './deploy';
import { SiloError } from './errors';
import { identityFromPem, newEd25519Pem } from './identity';
import { ReplicaTransport, type Transport } from './transport';

/** Checkpoint after this much new stable memory, or this long (SILO_CHECKPOINT_MS), whichever comes first. */
const SAVE_EVERY_BYTES = 8 * 1024 * 1024;
const GC_EVERY_BYTES = 8 * 1024 * 1024;
const SAVE_EVERY_MS = Number(process.env.SILO_CHECKPOINT_MS ?? 2000);

const root = resolve(import.meta.dirname, '..');

const EMBEDDED_HASH_SLICE_BYTES = 256 * 1024;

/** Where `npm run build` leaves the canister modules (the verifier's uncompressed: its hash is that of the file). */
export function builtModule(name: 'index' | 'bucket' | 'verifier'): Uint8Array {
    const path = join(root, '.azle', name, name === 'verifier' ? 'verifier.wasm' : `${name}.wasm.gz`);
    if (!existsSync(path)) throw new SiloError(`${path} is missing: run \`npm run build\` first.`);
    return new Uint8Array(readFileSync(path));
}

interface AppState {
    indexId: string;
}

/** A Silo deployment in the in-process replica, persisted in a directory. */
/** What `silo start` records in its state directory while it serves it. */
export interface ServerRecord {
    /** Where it listens, e.g. `http://127.0.0.1:4943`. */
    url: string;
    /** The index canister. */
    index: string;
    pid: number;
    /** When the server last checkpointed the state (ISO 8601), or null before its first checkpoint. */
    savedAt?: string | null;
}

const SERVER_FILE = 'server.json';

/**
 * The `silo start` serving `stateDir`, or null when none does. A record left by a server that died
 * (SIGKILL) names a process that is gone, and is ignored.
 */
export function runningServer(stateDir: string): ServerRecord | null {
    const path = join(stateDir, SERVER_FILE);
    if (!existsSync(path)) return null;
    let record: ServerRecord;
    try {
        record = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
        return null;
    }
    if (typeof record?.url !== 'string' || typeof record.index !== 'string' || !Number.isInteger(record.pid)) return null;
    return record.pid !== process.pid && isAlive(record.pid) ? record : null;
}

/** The identity kept in `stateDir` (the one the embedded network calls as), if there is one. */
export async function stateIdentity(stateDir: string): Promise<Identity | undefined> {
    const path = join(stateDir, 'identity.pem');
    return existsSync(path) ? identityFromPem(readFileSync(path, 'utf8'), path) : undefined;
}

export interface EmbeddedOptions {
    onStep?: (message: string) => void;
    echoLogs?: boolean;
    verifier?: boolean;
    /**
     * Hears of a failed checkpoint (once per run of failures) and of the first success after; default:
     * a `silo: ...` line on stderr.
     */
    report?: (message: string) => void;
}

export class EmbeddedSilo {
    private buffersAfterGc = 0;
    private closed = false;
    private server: ServerRecord | null = null;
    /** Takes the checkpoints, periodically and on demand. */
    readonly checkpointer: Checkpointer;

    private constructor(
        readonly pic: PocketIc,
        private readonly store: ReplicaStore,
        /** The index canister. */
        readonly indexId: Principal,
        /** The identity kept in the state directory, used when no other is given. */
        readonly defaultIdentity: Identity,
        report: (message: string) => void
    ) {
        this.checkpointer = new Checkpointer(store, pic.replica, {
            intervalMs: SAVE_EVERY_MS,
            everyBytes: SAVE_EVERY_BYTES,
            app: () => ({ indexId: this.indexId.toText() }) satisfies AppState,
            report,
            saved: (at) => this.saved(at)
        });
    }

    /** The state directory. */
    get stateDir(): string {
        return this.store.dir;
    }

    /** When this process last checkpointed the state, or null before it did. */
    get lastSavedAt(): Date | null {
        return this.checkpointer.lastSavedAt;
    }

    /**
     * Opens the deployment in `stateDir`, creating it on first use. The directory is locked until
     * {@link close}: a second process gets a `StateInUseError`.
     */
    static async open(stateDir: string, options: EmbeddedOptions = {}): Promise<EmbeddedSilo> {
        const store = ReplicaStore.open(stateDir);
        try {
            const identityPath = join(stateDir, 'identity.pem');
            if (!existsSync(identityPath)) writeFileSync(identityPath, newEd25519Pem(), { mode: 0o600 });
            const identity = await identityFromPem(readFileSync(identityPath, 'utf8'), identityPath);
            // The network's vetKD master keys live beside its root key, made on first use.
            const replica = new Replica({ echoLogs: options.echoLogs, releaseSnapshots: true, vetkd: VetKdKeys.load(stateDir) });
            const pic = new PocketIc(replica);
            const loaded = store.load();
            let indexId: Principal;
            if (loaded !== null) {
                indexId = P.fromText((loaded.app as AppState).indexId);
                restoreInto(replica, loaded, (id) => (id.toText() === indexId.toText() ? indexInitArg() : bucketInitArg(indexId)));
            } else {
                options.onStep?.(`deploying Silo in ${stateDir}`);
                ({ indexId } = await deploySilo(new ReplicaTransport(pic, identity.getPrincipal()), {
                    indexWasm: builtModule('index'),
                    bucketWasm: builtModule('bucket'),
                    // The native verifier, unless the caller asks for in-canister hashing (the bench compares both).
                    verifierWasm: options.verifier === false ? undefined : builtModule('verifier'),
                    // finish_upload hashes in slices of this size, one message each. In-process, a message
                    // runs on the host's thread without a break, so smaller slices keep Ctrl-C, timers and
                    // progress prompt (a quarter of the IC default: a few hundred ms per message).
                    config: { hash_slice_bytes: [EMBEDDED_HASH_SLICE_BYTES] },
                    onStep: options.onStep
                }));
            }
            const silo = new EmbeddedSilo(pic, store, indexId, identity, options.report ?? ((m) => process.stderr.write(`silo: ${m}\n`)));
            // The first checkpoint's failure is the caller's to report: the directory is unusable.
            silo.checkpointer.save(false, true);
            // Checkpoints also while a long call runs: the replica yields to the event loop between rounds.
            silo.checkpointer.start();
            return silo;
        } catch (error) {
            store.close();
            throw error;
        }
    }

    /** A transport calling as `identity` (the state directory's own by default). */
    transport(identity: Identity = this.defaultIdentity): Transport {
        // Each call runs on the wall clock's time and may checkpoint afterwards.
        return new ReplicaTransport(this.pic, identity.getPrincipal(), async (call) => {
            this.syncClock();
            const result = await call();
            this.maybeSave();
            return result;
        });
    }

    private syncClock(): void {
        const now = BigInt(Date.now()) * 1_000_000n;
        if (now > this.pic.replica.time) this.pic.replica.time = now;
    }

    private maybeSave(): void {
        this.checkpointer.maybe();
        this.collectIfNeeded();
    }

    /**
     * Every chunk passes through several short-lived buffers (file read, Candid encoding, message). V8
     * collects large buffers lazily, so without a nudge a long upload's memory grows with its size:
     * collect once they add up to 8 MiB (when the CLI exposed gc).
     */
    private collectIfNeeded(): void {
        const gc = (globalThis as { gc?: () => void }).gc;
        if (gc === undefined) return;
        if (process.memoryUsage().arrayBuffers > this.buffersAfterGc + GC_EVERY_BYTES) {
            gc();
            this.buffersAfterGc = process.memoryUsage().arrayBuffers;
        }
    }

    /**
     * Checkpoints the state directory now, with whatever is in flight (call it from the event loop, never
     * from inside a round). Throws a `CheckpointFailedError`, already reported, when it fails.
     */
    save(final = false): void {
        this.checkpointer.save(final);
    }

    private saved(at: Date): void {
        // The checkpoint just released the pages it wrote.
        this.buffersAfterGc = 0;
        this.collectIfNeeded();
        if (this.server !== null) {
            this.server.savedAt = at.toISOString();
            this.writeServerRecord();
        }
    }

    /**
     * For a server (`silo start`): runs a round when messages are queued or a canister's timer is due, on
     * the wall clock's time; the checkpointer saves in the background (so a killed server loses at most
     * its interval).
     */
    pulse(): void {
        this.syncClock();
        const replica = this.pic.replica;
        if (replica.busy || [...replica.canisters.values()].some((c) => c.globalTimer !== 0n && replica.time >= c.globalTimer)) replica.tick();
        this.checkpointer.maybe();
    }

    /** Records that a server at `url` serves this state directory (see {@link runningServer}). */
    recordServer(url: string): void {
        this.server = { url, index: this.indexId.toText(), pid: process.pid, savedAt: this.lastSavedAt?.toISOString() ?? null };
        this.writeServerRecord(true);
    }

    private writeServerRecord(strict = false): void {
        const path = join(this.store.dir, SERVER_FILE);
        const temporary = `${path}.tmp-${process.pid}`;
        try {
            writeFileSync(temporary, JSON.stringify(this.server));
            renameSync(temporary, path);
        } catch (error) {
            rmSync(temporary, { force: true });
            // Past the first write, the record only falls behind on `savedAt`; the checkpoint itself succeeded.
            if (strict) throw error;
        }
    }

    /**
     * Takes a last checkpoint, with whatever is in flight (nothing is run to its end first, so this is
     * quick whatever the canisters do), and releases the state directory. Throws a
     * `CheckpointFailedError`, already reported, when the checkpoint fails; the directory is released
     * either way.
     */
    close(): void {
        if (this.closed) return;
        this.closed = true;
        this.checkpointer.stop();
        try {
            if (this.checkpointer.changed() || this.checkpointer.failure !== null) this.save(true);
        } finally {
            if (this.server !== null) rmSync(join(this.store.dir, SERVER_FILE), { force: true });
            this.store.close();
        }
    }
}
