/**
 * Keeps a replica in a directory between processes, as the IC keeps a subnet across checkpoints: every
 * canister's ids, controllers, settings, cycles, module, stable memory, Wasm heap and globals, call
 * contexts, timer, certified data and logs, and the replica's messages in flight (queued requests and
 * responses, callbacks, stop requests). A save taken between two rounds is exact whatever the canisters
 * are doing: a restored canister continues where it was, and the calls it had open complete. (A state of
 * format version 1 kept no heap; its canisters come back as an upgrade would, through post_upgrade.)
 *
 * Stable memory and heap each live in one sparse image file per canister, in 64 KiB pages; stable memory
 * is read page by page on demand, so a canister holding gigabytes costs little memory. A save is a
 * checkpoint: the pages written since the last one (stable memory tracks them; heap pages are found by
 * their hashes) go to write-ahead files (synced), `state.json` is replaced to name them (the commit
 * point), the pages are applied to the images, and `state.json` is replaced again without them. Loading
 * replays the write-ahead files that `state.json` still names. Every file is written under a temporary
 * name, synced and renamed, so a crash at any point leaves the last committed state, never half of one.
 *
 * Exclusive use: `lock` holds the owning process id; a second process is refused while the owner lives.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

import { Principal } from '@dfinity/principal';

import type { Canister, CanisterSettings } from './canister';
import type { CanisterInstance } from './instance';
import type { CanisterRuntime, MessageState, RestoredCanister, Replica } from './replica';
import { fromPlain, type Plain, toPlain } from './snapshot';
import { type PageFile, WASM_PAGE } from './stable_memory';

const FORMAT = 'silo-replica-state';
const VERSION = 2;
/** Versions `load` reads: 1 kept no heap and no messages (its canisters are restored as upgraded). */
const READABLE = [1, 2];
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
    /** The Wasm heap (version 2; null for a canister without code). */
    heap?: HeapEntry | null;
    /** Call contexts, timer, certified data, logs (version 2). */
    runtime?: Plain;
}

interface HeapEntry {
    /** The heap's page image (pages past `bytes` are stale). */
    image: string;
    wal: FileRef | null;
    bytes: number;
    /** The module's mutable globals, in export order. */
    globals: Plain;
}

interface StateFile {
    format: typeof FORMAT;
    version: number;
    savedAt: string;
    time: string;
    app: unknown;
    modules: FileRef[];
    canisters: CanisterEntry[];
    /** The replica's messages in flight (version 2). */
    messages?: FileRef | null;
}

export interface LoadedState {
    time: bigint;
    app: unknown;
    canisters: (RestoredCanister & { pageFile: ImageFile | null })[];
    /** Null for a version 1 state. */
    messages: MessageState | null;
    /** When the state was saved. */
    savedAt: Date;
}

/** A heap image's page hashes, to find the pages a save must write, and what the heap was then. */
interface HeapPrints {
    image: string;
    prints: string[];
    /** The instance and version saved: every execution that keeps its changes bumps the version. */
    instance: CanisterInstance | null;
    version: bigint;
}

const sha256Hex = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const pagePrint = (page: Uint8Array): string => createHash('sha256').update(page).digest('base64');
const ZERO_PAGE_PRINT = pagePrint(new Uint8Array(WASM_PAGE));

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
    /** Numbers write-ahead and message files uniquely within this process. */
    private sequence = 0;
    private readonly heapPrints = new Map<string, HeapPrints>();

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
        if (state?.format !== FORMAT || !READABLE.includes(state.version) || !Array.isArray(state.canisters)) {
            throw new StateCorruptError(`${path} is not a Silo replica state of version ${READABLE.join(' or ')}; move it away to start afresh.`);
        }
        const modules = new Map<string, Uint8Array>();
        for (const ref of state.modules) modules.set(ref.sha256, this.readChecked(ref));
        // Finish a checkpoint that committed but may not have reached the images.
        let replayed = false;
        for (const entry of state.canisters) {
            const targets: { image: string | null; wal: FileRef | null }[] = entry.heap ? [entry, entry.heap] : [entry];
            for (const target of targets) {
                if (target.wal === null) continue;
                if (target.image === null) throw new StateCorruptError(`canister ${entry.id} has pages but no image; the state directory is unusable.`);
                const image = this.image(target.image);
                for (const [page, content] of decodePages(this.readChecked(target.wal))) image.write(page, content);
                image.sync();
                target.wal = null;
                replayed = true;
            }
        }
        this.state = state;
        const imageNames = state.canisters.flatMap((c) => [c.image ?? '', c.heap?.image ?? '']);
        this.generation = Math.max(0, ...imageNames.map((name) => Number(/\.(\d+)\.img$/.exec(name)?.[1] ?? 0)));
        if (replayed) this.commit(state);
        const messages = state.messages ? fromPlain<MessageState>(JSON.parse(new TextDecoder().decode(this.readChecked(state.messages)))) : null;
        // Write-ahead files of checkpoints that never committed, and applied ones, are dead weight.
        this.removeUnreferenced(state);
        const canisters = state.canisters.map((entry) => {
            const wasm = entry.module === null ? null : modules.get(entry.module);
            if (wasm === undefined) throw new StateCorruptError(`module ${entry.module} of canister ${entry.id} is missing; the state directory is unusable.`);
            const restored: RestoredCanister & { pageFile: ImageFile | null } = {
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
            if (entry.runtime !== undefined) {
                restored.running = { heap: entry.heap ? this.readHeap(entry.id, entry.heap) : null, runtime: fromPlain<CanisterRuntime>(entry.runtime) };
            }
            return restored;
        });
        return { time: BigInt(state.time), app: state.app, canisters, messages, savedAt: new Date(state.savedAt) };
    }

    /** A saved heap, read whole from its image; its page hashes are kept for the next save. */
    private readHeap(id: string, entry: HeapEntry): { bytes: Uint8Array; globals: unknown[] } {
        if (entry.bytes % WASM_PAGE !== 0) throw new StateCorruptError(`the heap of canister ${id} is not a whole number of pages; the state directory is unusable.`);
        const image = this.image(entry.image);
        const bytes = new Uint8Array(entry.bytes);
        const prints: string[] = [];
        for (let page = 0; page < entry.bytes / WASM_PAGE; page++) {
            const view = bytes.subarray(page * WASM_PAGE, (page + 1) * WASM_PAGE);
            image.read(page, view);
            prints.push(pagePrint(view));
        }
        // The instance does not exist yet: the first save hashes the heap once more.
        this.heapPrints.set(id, { image: entry.image, prints, instance: null, version: 0n });
        return { bytes, globals: fromPlain<unknown[]>(entry.globals) };
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
     * Checkpoints the replica. Call it between rounds (never from inside an execution); messages and
     * calls in flight are part of the checkpoint.
     */
    save(replica: Replica, app: unknown): void {
        const previous = new Map((this.state?.modules ?? []).map((m) => [m.sha256, m]));
        const modules = new Map<string, FileRef>();
        const entries: CanisterEntry[] = [];
        const pending: { canister: Canister; image: string; pages: [number, Uint8Array][]; fresh: boolean }[] = [];
        const heaps: { id: string; image: string; pages: [number, Uint8Array][]; prints: HeapPrints }[] = [];
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
            const wal = this.writeAhead(`stable/${canister.idText}.${this.generation}`, checkpoint.pages);
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
                wal,
                heap: this.saveHeap(canister, heaps),
                runtime: toPlain(replica.canisterRuntime(canister))
            });
        }
        const state: StateFile = {
            format: FORMAT,
            version: VERSION,
            savedAt: new Date().toISOString(),
            time: replica.time.toString(),
            app,
            modules: [...modules.values()],
            canisters: entries,
            messages: this.saveMessages(replica.messageState())
        };
        this.commit(state);
        for (const { id, image, pages, prints } of heaps) {
            const file = this.image(image);
            for (const [page, content] of pages) file.write(page, content);
            file.sync();
            this.heapPrints.set(id, prints);
        }
        for (const { canister, image, pages, fresh } of pending) {
            const file = this.image(image);
            for (const [page, content] of pages) file.write(page, content);
            file.sync();
            if (fresh) canister.stable.attach(file, canister.stable.size);
            else canister.stable.checkpointed();
        }
        for (const entry of entries) {
            entry.wal = null;
            if (entry.heap) entry.heap.wal = null;
        }
        this.commit(state);
        this.state = state;
        this.removeUnreferenced(state);
    }

    /** Writes `pages` to a new write-ahead file named after `stem`; null when there are none. */
    private writeAhead(stem: string, pages: [number, Uint8Array][]): FileRef | null {
        if (pages.length === 0) return null;
        const data = encodePages(pages);
        const wal = { name: `${stem}.${Date.now()}-${++this.sequence}.wal`, sha256: sha256Hex(data), bytes: data.length };
        writeAtomically(join(this.dir, wal.name), data);
        return wal;
    }

    /**
     * The heap's entry, with the pages that changed since the last save in a write-ahead file (found by
     * comparing page hashes; every non-zero page for a new image); `heaps` gets what to apply after the commit.
     */
    private saveHeap(canister: Canister, heaps: { id: string; image: string; pages: [number, Uint8Array][]; prints: HeapPrints }[]): HeapEntry | null {
        const instance = canister.instance;
        if (instance === null) return null;
        const known = this.heapPrints.get(canister.idText);
        const heap = instance.heap();
        if (known !== undefined && known.instance === instance && known.version === canister.version && known.prints.length === heap.length / WASM_PAGE) {
            // Nothing ran on this canister since the last save (queries and traps leave no trace): skip the hashing.
            return { image: known.image, wal: null, bytes: heap.length, globals: toPlain(instance.globalValues()) };
        }
        const image = known?.image ?? `heap/${canister.idText}.${++this.generation}.img`;
        const pages: [number, Uint8Array][] = [];
        const prints: string[] = [];
        for (let page = 0; page < heap.length / WASM_PAGE; page++) {
            const content = heap.subarray(page * WASM_PAGE, (page + 1) * WASM_PAGE);
            const print = pagePrint(content);
            prints.push(print);
            // A new image's holes read as zeros. Past the known pages of an image in use the file may hold
            // an older, larger heap's pages (before a reinstall, or in an earlier process): write them.
            if (print !== (known === undefined ? ZERO_PAGE_PRINT : known.prints[page])) pages.push([page, content]);
        }
        const wal = this.writeAhead(`heap/${canister.idText}.${this.generation}`, pages);
        heaps.push({ id: canister.idText, image, pages, prints: { image, prints, instance, version: canister.version } });
        return { image, wal, bytes: heap.length, globals: toPlain(instance.globalValues()) };
    }

    /** The messages in flight, in a file of their own (rewritten only when they changed). */
    private saveMessages(messages: MessageState): FileRef {
        const data = new TextEncoder().encode(JSON.stringify(toPlain(messages)));
        const sha256 = sha256Hex(data);
        const before = this.state?.messages;
        if (before?.sha256 === sha256 && existsSync(join(this.dir, before.name))) return before;
        const ref = { name: `messages/${Date.now()}-${++this.sequence}.json`, sha256, bytes: data.length };
        writeAtomically(join(this.dir, ref.name), data);
        return ref;
    }

    /** Deletes files the current state no longer names (applied write-ahead files, old images, leftovers). */
    private removeUnreferenced(state: StateFile): void {
        const keep = new Set(
            [
                ...state.modules.map((m) => m.name),
                ...state.canisters.flatMap((c) => [c.image, c.heap?.image ?? null]),
                state.messages?.name ?? null
            ].filter((n): n is string => n !== null)
        );
        for (const [name, image] of this.images) {
            if (!keep.has(name)) {
                image.close();
                this.images.delete(name);
            }
        }
        for (const folder of ['stable', 'modules', 'heap', 'messages']) {
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
 * Restores every saved canister into `replica` as it was, and the messages in flight; the canisters of a
 * version 1 state (no heap) go through post_upgrade with the argument `argFor` gives them. The replica's
 * clock resumes at the later of the saved time and now.
 */
export function restoreInto(replica: Replica, loaded: LoadedState, argFor: (id: Principal) => Uint8Array): void {
    const now = BigInt(Date.now()) * 1_000_000n;
    replica.time = loaded.time > now ? loaded.time : now;
    for (const saved of loaded.canisters) {
        const error = replica.restoreCanister(saved, saved.running?.heap ? new Uint8Array() : argFor(saved.id));
        if (error !== null) throw new StateCorruptError(`canister ${saved.id.toText()} could not be restored: ${error.message}`);
    }
    if (loaded.messages !== null) replica.restoreMessages(loaded.messages);
}
