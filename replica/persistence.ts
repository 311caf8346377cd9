/**
 * Keeps a replica's canisters in a directory between processes, as the IC keeps them across an upgrade:
 * ids, controllers, settings, cycles, version, module and stable memory. The heap is not kept; a
 * restored canister runs post_upgrade like an upgraded one.
 *
 * Stable memory lives in one sparse image file per canister, read page by page on demand, so a canister
 * holding gigabytes costs little memory. A save is a checkpoint: the pages written since the last one
 * go to a write-ahead file (synced), `state.json` is replaced to name it (the commit point), the pages
 * are applied to the image, and `state.json` is replaced again without it. Loading replays a write-ahead
 * file that `state.json` still names. Every file is written under a temporary name, synced and renamed,
 * so a crash at any point leaves the last committed state, never half of one.
 *
 * Exclusive use: `lock` holds the owning process id; a second process is refused while the owner lives.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

import { Principal } from '@dfinity/principal';

import type { Canister, CanisterSettings } from './canister';
import type { RestoredCanister, Replica } from './replica';
import { type PageFile, WASM_PAGE } from './stable_memory';

const FORMAT = 'silo-replica-state';
const VERSION = 1;
const RECORD_BYTES = 4 + WASM_PAGE;

export class StateInUseError extends Error {
    override name = 'StateInUseError';
}
export class StateCorruptError extends Error {
    override name = 'StateCorruptError';
}

interface FileRef {
    name: string;
    sha256: string;
    bytes: number;
}

interface CanisterEntry {
    id: string;
    controllers: string[];
    cycles: string;
    version: string;
    status: Canister['status'];
    settings: Record<string, unknown>;
    module: string | null;
    stableSize: number;
    /** The page image; null while the canister has never been checkpointed. */
    image: string | null;
    /** Write-ahead pages not yet known to be in the image. */
    wal: FileRef | null;
}

interface StateFile {
    format: typeof FORMAT;
    version: number;
    savedAt: string;
    time: string;
    app: unknown;
    modules: FileRef[];
    canisters: CanisterEntry[];
}

export interface LoadedState {
    time: bigint;
    app: unknown;
    canisters: (RestoredCanister & { pageFile: ImageFile | null })[];
}

const sha256Hex = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

function writeAtomically(path: string, data: Uint8Array | string): void {
    mkdirSync(dirname(path), { recursive: true });
    const temporary = `${path}.tmp-${process.pid}`;
    const fd = openSync(temporary, 'w');
    try {
        const bytes = typeof data === 'string' ? Buffer.from(data) : data;
        for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
        fsyncSync(fd);
    } finally {
        closeSync(fd);
    }
    renameSync(temporary, path);
    syncDirectory(dirname(path));
}

function syncDirectory(path: string): void {
    try {
        const fd = openSync(path, 'r');
        try {
            fsyncSync(fd);
        } finally {
            closeSync(fd);
        }
    } catch {
        // Some file systems cannot sync directories; the rename is atomic all the same.
    }
}

/** Whether process `pid` is running (a process of another user counts). */
export function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
}

/** A canister's stable memory image: page n at offset n × 64 KiB, holes read as zeros. */
export class ImageFile implements PageFile {
    private readonly fd: number;

    constructor(readonly path: string) {
        mkdirSync(dirname(path), { recursive: true });
        this.fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    }

    read(page: number, into: Uint8Array): boolean {
        let done = 0;
        while (done < WASM_PAGE) {
            const n = readSync(this.fd, into, done, WASM_PAGE - done, page * WASM_PAGE + done);
            if (n === 0) break;
            done += n;
        }
        if (done === 0) return false;
        into.fill(0, done);
        return true;
    }

    write(page: number, content: Uint8Array): void {
        for (let done = 0; done < WASM_PAGE; ) done += writeSync(this.fd, content, done, WASM_PAGE - done, page * WASM_PAGE + done);
    }

    sync(): void {
        fsyncSync(this.fd);
    }

    close(): void {
        closeSync(this.fd);
    }
}

function encodePages(pages: [number, Uint8Array][]): Uint8Array {
    const data = new Uint8Array(pages.length * RECORD_BYTES);
    pages.forEach(([page, content], i) => {
        new DataView(data.buffer, i * RECORD_BYTES, 4).setUint32(0, page);
        data.set(content, i * RECORD_BYTES + 4);
    });
    return data;
}

function* decodePages(data: Uint8Array): Generator<[number, Uint8Array]> {
    for (let offset = 0; offset < data.length; offset += RECORD_BYTES) {
        yield [new DataView(data.buffer, data.byteOffset + offset, 4).getUint32(0), data.subarray(offset + 4, offset + RECORD_BYTES)];
    }
}

const bigintJson = (_: string, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v);
const bigintRevive = (_: string, v: unknown) => (typeof v === 'string' && /^-?\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v);

export class ReplicaStore {
    private state: StateFile | null = null;
    private locked = false;
    private readonly images = new Map<string, ImageFile>();
    private generation = 0;

    private constructor(readonly dir: string) {}

    /** Opens (creating if needed) a state directory and takes its lock. */
    static open(dir: string): ReplicaStore {
        mkdirSync(dir, { recursive: true });
        const store = new ReplicaStore(dir);
        store.lock();
        return store;
    }

    private lock(): void {
        const path = join(this.dir, 'lock');
        for (let attempt = 0; attempt < 2; attempt++) {
            try {
                const fd = openSync(path, 'wx');
                writeSync(fd, String(process.pid));
                closeSync(fd);
                this.locked = true;
                return;
            } catch (error) {
                if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
                const owner = Number(readFileSync(path, 'utf8').trim());
                if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
                    throw new StateInUseError(`State directory ${this.dir} is in use by process ${owner}; wait for it to finish or stop it.`);
                }
                // The owner died without unlocking: the lock is stale.
                rmSync(path, { force: true });
            }
        }
        throw new StateInUseError(`Could not lock state directory ${this.dir}; another process keeps taking it.`);
    }

    /** Releases the lock and the image files. */
    close(): void {
        for (const image of this.images.values()) image.close();
        this.images.clear();
        if (this.locked) rmSync(join(this.dir, 'lock'), { force: true });
        this.locked = false;
    }

    private image(name: string): ImageFile {
        let image = this.images.get(name);
        if (image === undefined) {
            image = new ImageFile(join(this.dir, name));
            this.images.set(name, image);
        }
        return image;
    }

    /**
     * Reads the saved state, checking modules and write-ahead files against their recorded hashes and
     * finishing an interrupted checkpoint; null for a new directory.
     */
    load(): LoadedState | null {
        const path = join(this.dir, 'state.json');
        if (!existsSync(path)) return null;
        let state: StateFile;
        try {
            state = JSON.parse(readFileSync(path, 'utf8'));
        } catch (error) {
            throw new StateCorruptError(`${path} is not valid JSON (${(error as Error).message}); the state directory is unusable. Move it away to start afresh.`);
        }
        if (state?.format !== FORMAT || state.version !== VERSION || !Array.isArray(state.canisters)) {
            throw new StateCorruptError(`${path} is not a Silo replica state of version ${VERSION}; move it away to start afresh.`);
        }
        const modules = new Map<string, Uint8Array>();
        for (const ref of state.modules) modules.set(ref.sha256, this.readChecked(ref));
        // Finish a checkpoint that committed but may not have reached the images.
        let replayed = false;
        for (const entry of state.canisters) {
            if (entry.wal === null) continue;
            if (entry.image === null) throw new StateCorruptError(`canister ${entry.id} has pages but no image; the state directory is unusable.`);
            const image = this.image(entry.image);
            for (const [page, content] of decodePages(this.readChecked(entry.wal))) image.write(page, content);
            image.sync();
            entry.wal = null;
            replayed = true;
        }
        this.state = state;
        this.generation = Math.max(0, ...state.canisters.map((c) => Number(/\.(\d+)\.img$/.exec(c.image ?? '')?.[1] ?? 0)));
        if (replayed) this.commit(state);
        // Write-ahead files of checkpoints that never committed, and applied ones, are dead weight.
        this.removeUnreferenced(state);
        const canisters = state.canisters.map((entry) => {
            const wasm = entry.module === null ? null : modules.get(entry.module);
            if (wasm === undefined) throw new StateCorruptError(`module ${entry.module} of canister ${entry.id} is missing; the state directory is unusable.`);
            return {
                id: Principal.fromText(entry.id),
                controllers: entry.controllers.map((c) => Principal.fromText(c)),
                cycles: BigInt(entry.cycles),
                version: BigInt(entry.version),
                status: entry.status,
                settings: reviveSettings(entry.settings),
                wasm,
                stableSize: entry.stableSize,
                pageFile: entry.image === null ? null : this.image(entry.image)
            };
        });
        return { time: BigInt(state.time), app: state.app, canisters };
    }

    private readChecked(ref: FileRef): Uint8Array {
        const path = join(this.dir, ref.name);
        if (!existsSync(path)) throw new StateCorruptError(`${ref.name} is missing; the state directory is unusable.`);
        const data = new Uint8Array(readFileSync(path));
        if (data.length !== ref.bytes || sha256Hex(data) !== ref.sha256) {
            throw new StateCorruptError(`${ref.name} does not match its recorded hash; the state directory is unusable.`);
        }
        return data;
    }

    private commit(state: StateFile): void {
        writeAtomically(join(this.dir, 'state.json'), JSON.stringify(state, null, 1));
    }

    /**
     * Checkpoints the replica. Call it when the replica is idle (no message queued, no call in flight):
     * a restored canister starts from its stable memory, so work in flight would be lost.
     */
    save(replica: Replica, app: unknown): void {
        const previous = new Map((this.state?.modules ?? []).map((m) => [m.sha256, m]));
        const modules = new Map<string, FileRef>();
        const entries: CanisterEntry[] = [];
        const pending: { canister: Canister; image: string; pages: [number, Uint8Array][]; fresh: boolean }[] = [];
        const prior = new Map((this.state?.canisters ?? []).map((c) => [c.id, c]));
        for (const canister of replica.canisters.values()) {
            let module: string | null = null;
            if (canister.module !== null) {
                // The module hash was computed once, at install (it is the hash of these original bytes).
                const original = canister.module.original;
                module = Buffer.from(canister.module.moduleHash).toString('hex');
                let ref = previous.get(module);
                if (ref === undefined) {
                    ref = { name: `modules/${module}.wasm`, sha256: module, bytes: original.length };
                    if (!existsSync(join(this.dir, ref.name))) writeAtomically(join(this.dir, ref.name), original);
                }
                modules.set(module, ref);
            }
            const checkpoint = canister.stable.pendingCheckpoint();
            const before = prior.get(canister.idText)?.image ?? null;
            // A canister new to this store, or wiped since the last checkpoint, gets a new, empty image.
            const fresh = before === null || checkpoint.cleared || !canister.stable.attached;
            const image = fresh ? `stable/${canister.idText}.${++this.generation}.img` : before;
            let wal: FileRef | null = null;
            if (checkpoint.pages.length > 0) {
                const data = encodePages(checkpoint.pages);
                wal = { name: `stable/${canister.idText}.${this.generation}.${Date.now()}.wal`, sha256: sha256Hex(data), bytes: data.length };
                writeAtomically(join(this.dir, wal.name), data);
            }
            if (checkpoint.pages.length > 0 || fresh) pending.push({ canister, image, pages: checkpoint.pages, fresh });
            entries.push({
                id: canister.idText,
                controllers: canister.controllers.map((c) => c.toText()),
                cycles: canister.cycles.toString(),
                version: canister.version.toString(),
                status: canister.status,
                settings: JSON.parse(JSON.stringify(canister.settings, bigintJson)),
                module,
                stableSize: canister.stable.size,
                image,
                wal
            });
        }
        const state: StateFile = {
            format: FORMAT,
            version: VERSION,
            savedAt: new Date().toISOString(),
            time: replica.time.toString(),
            app,
            modules: [...modules.values()],
            canisters: entries
        };
        this.commit(state);
        for (const { canister, image, pages, fresh } of pending) {
            const file = this.image(image);
            for (const [page, content] of pages) file.write(page, content);
            file.sync();
            if (fresh) canister.stable.attach(file, canister.stable.size);
            else canister.stable.checkpointed();
        }
        for (const entry of entries) entry.wal = null;
        this.commit(state);
        this.state = state;
        this.removeUnreferenced(state);
    }

    /** Deletes files the current state no longer names (applied write-ahead files, old images, leftovers). */
    private removeUnreferenced(state: StateFile): void {
        const keep = new Set([...state.modules.map((m) => m.name), ...state.canisters.map((c) => c.image).filter((n): n is string => n !== null)]);
        for (const [name, image] of this.images) {
            if (!keep.has(name)) {
                image.close();
                this.images.delete(name);
            }
        }
        for (const folder of ['stable', 'modules']) {
            const dir = join(this.dir, folder);
            if (!existsSync(dir)) continue;
            for (const entry of readdirSync(dir)) {
                const path = join(dir, entry);
                const name = relative(this.dir, path).split('\\').join('/');
                if (statSync(path).isFile() && !keep.has(name)) rmSync(path, { force: true });
            }
        }
    }
}

function reviveSettings(settings: Record<string, unknown>): CanisterSettings {
    const revived = JSON.parse(JSON.stringify(settings), bigintRevive) as CanisterSettings;
    const visibility = revived.logVisibility as { allowed_viewers?: unknown[] };
    if (visibility && Array.isArray(visibility.allowed_viewers)) {
        visibility.allowed_viewers = visibility.allowed_viewers.map((p) => Principal.fromText(String((p as { __principal__?: string }).__principal__ ?? p)));
    }
    return revived;
}

/**
 * Restores every saved canister into `replica`, each through post_upgrade with the argument `argFor`
 * gives it. The replica's clock resumes at the later of the saved time and now.
 */
export function restoreInto(replica: Replica, loaded: LoadedState, argFor: (id: Principal) => Uint8Array): void {
    const now = BigInt(Date.now()) * 1_000_000n;
    replica.time = loaded.time > now ? loaded.time : now;
    for (const saved of loaded.canisters) {
        const error = replica.restoreCanister(saved, argFor(saved.id));
        if (error !== null) throw new StateCorruptError(`canister ${saved.id.toText()} could not be restored: ${error.message}`);
    }
}
