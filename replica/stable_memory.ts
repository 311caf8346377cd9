/**
 * A canister's stable memory: sparse 64 KiB pages allocated on first write, so a canister that grows
 * its stable memory by gigabytes costs only what it writes.
 *
 * Pages live in an in-memory overlay, optionally on top of a page file on disk (the embedded replica's
 * persistent state). Written pages stay in the overlay until a checkpoint moves them to the file; pages
 * read from the file are kept in a small cache. Without a file, the overlay is the whole memory.
 *
 * Every execution runs inside a transaction: the first write to a page saves the page's previous overlay
 * entry in a journal, and a trap puts the saved entries back. A page that the write covers entirely is
 * replaced without reading or copying its old content. Pages are never modified in place once shared
 * (with a journal or a snapshot): a write goes to a fresh copy.
 */
export const WASM_PAGE = 65536;
/** 500 GiB, the IC's stable memory limit, in Wasm pages. */
export const MAX_STABLE_PAGES = (500 * 1024 * 1024 * 1024) / WASM_PAGE;

/** Committed pages on disk. */
export interface PageFile {
    /** Reads a page into `into`; returns false (leaving `into` untouched) when it was never written. */
    read(page: number, into: Uint8Array): boolean;
}

/** Clean pages read from the page file, kept for re-reads (least recently used first out). */
const CACHE_PAGES = 64;

export interface StableSnapshot {
    overlay: Map<number, Uint8Array>;
    size: number;
    cleared: boolean;
}

export class StableMemory {
    private overlay = new Map<number, Uint8Array>();
    private file: PageFile | null = null;
    private readonly cache = new Map<number, Uint8Array>();
    /** The page file's content no longer counts (a reinstall since the last checkpoint). */
    private cleared = false;
    private sizePages = 0;
    /** Page number → previous overlay entry (undefined: none). Null outside a transaction. */
    private journal: Map<number, Uint8Array | undefined> | null = null;
    private journalSize = 0;

    get size(): number {
        return this.sizePages;
    }

    /** Bytes of page content held in memory (overlay and cache). */
    get residentBytes(): number {
        return (this.overlay.size + this.cache.size) * WASM_PAGE;
    }

    /** Bytes written since the last checkpoint. */
    get overlayBytes(): number {
        return this.overlay.size * WASM_PAGE;
    }

    begin(): void {
        this.journal = new Map();
        this.journalSize = this.sizePages;
    }

    commit(): void {
        this.journal = null;
    }

    rollback(): void {
        if (this.journal === null) return;
        for (const [page, previous] of this.journal) {
            if (previous === undefined) this.overlay.delete(page);
            else this.overlay.set(page, previous);
        }
        this.sizePages = this.journalSize;
        this.journal = null;
    }

    /** Grows by `delta` pages; returns the previous size, or -1 when the limit would be passed. */
    grow(delta: number): number {
        const previous = this.sizePages;
        if (delta < 0 || previous + delta > MAX_STABLE_PAGES) return -1;
        this.sizePages = previous + delta;
        return previous;
    }

    inBounds(offset: number, length: number): boolean {
        return offset >= 0 && length >= 0 && offset + length <= this.sizePages * WASM_PAGE;
    }

    /** The committed-or-current content of a page, or undefined when it was never written. */
    private content(page: number): Uint8Array | undefined {
        const own = this.overlay.get(page);
        if (own !== undefined || this.file === null || this.cleared) return own;
        const cached = this.cache.get(page);
        if (cached !== undefined) {
            this.cache.delete(page);
            this.cache.set(page, cached);
            return cached;
        }
        // A full cache hands its least recently used buffer over: reading gigabytes allocates nothing.
        let loaded: Uint8Array;
        if (this.cache.size >= CACHE_PAGES) {
            const [oldest, buffer] = this.cache.entries().next().value!;
            this.cache.delete(oldest);
            loaded = buffer;
        } else {
            loaded = new Uint8Array(WASM_PAGE);
        }
        if (!this.file.read(page, loaded)) return undefined;
        this.cache.set(page, loaded);
        return loaded;
    }

    read(offset: number, target: Uint8Array): void {
        let done = 0;
        while (done < target.length) {
            const position = offset + done;
            const page = Math.floor(position / WASM_PAGE);
            const within = position - page * WASM_PAGE;
            const n = Math.min(WASM_PAGE - within, target.length - done);
            const content = this.content(page);
            if (content === undefined) target.fill(0, done, done + n);
            else target.set(content.subarray(within, within + n), done);
            done += n;
        }
    }

    write(offset: number, source: Uint8Array): void {
        let done = 0;
        while (done < source.length) {
            const position = offset + done;
            const page = Math.floor(position / WASM_PAGE);
            const within = position - page * WASM_PAGE;
            const n = Math.min(WASM_PAGE - within, source.length - done);
            this.writablePage(page, n === WASM_PAGE).set(source.subarray(done, done + n), within);
            done += n;
        }
    }

    private writablePage(page: number, whole: boolean): Uint8Array {
        const own = this.overlay.get(page);
        // A page this transaction already replaced is its own to modify.
        if (this.journal?.has(page)) return own!;
        this.journal?.set(page, own);
        const base = whole ? undefined : this.content(page);
        const fresh = base === undefined ? new Uint8Array(WASM_PAGE) : base.slice();
        this.overlay.set(page, fresh);
        return fresh;
    }

    /** Replaces the whole content (a reinstall, or state loaded without a page file). */
    reset(pages: Map<number, Uint8Array> = new Map(), size = 0): void {
        this.overlay = pages;
        this.sizePages = size;
        this.journal = null;
        this.cache.clear();
        this.cleared = this.file !== null;
    }

    /**
     * A cheap copy of the whole content, to undo a multi-execution operation (an upgrade). The page file
     * changes only at checkpoints, so copying the overlay suffices while none happens in between.
     */
    snapshot(): StableSnapshot {
        if (this.journal !== null) throw new Error('stable memory snapshot taken inside a transaction');
        return { overlay: new Map(this.overlay), size: this.sizePages, cleared: this.cleared };
    }

    restore(snapshot: StableSnapshot): void {
        this.overlay = new Map(snapshot.overlay);
        this.sizePages = snapshot.size;
        this.cleared = snapshot.cleared;
        this.journal = null;
    }

    /** Pages held in the overlay, in page order (all pages when there is no page file). */
    *entries(): IterableIterator<[number, Uint8Array]> {
        for (const page of [...this.overlay.keys()].sort((a, b) => a - b)) yield [page, this.overlay.get(page)!];
    }

    // ---------------------------------------------------------------- page file and checkpoints

    /** Puts the memory on top of a page file holding `size` pages' committed content. */
    attach(file: PageFile, size: number): void {
        this.file = file;
        this.overlay = new Map();
        this.cache.clear();
        this.cleared = false;
        this.sizePages = size;
        this.journal = null;
    }

    get attached(): boolean {
        return this.file !== null;
    }

    /**
     * What a checkpoint must write: the overlay's pages, and whether the file must first be emptied.
     * Call `checkpointed()` once they are durably in the file.
     */
    pendingCheckpoint(): { cleared: boolean; pages: [number, Uint8Array][] } {
        if (this.journal !== null) throw new Error('checkpoint taken inside a transaction');
        return { cleared: this.cleared, pages: [...this.entries()] };
    }

    checkpointed(): void {
        this.overlay = new Map();
        this.cache.clear();
        this.cleared = false;
    }
}
