/**
 * A canister's stable memory: sparse 64 KiB pages allocated on first write, so a canister that grows
 * its stable memory by gigabytes costs only what it writes. Every execution runs inside a transaction:
 * the first write to a page saves the page's previous version in a journal, and a trap puts the saved
 * versions back. A page that the write covers entirely is replaced without copying its old content.
 */
export const WASM_PAGE = 65536;
/** 500 GiB, the IC's stable memory limit, in Wasm pages. */
export const MAX_STABLE_PAGES = (500 * 1024 * 1024 * 1024) / WASM_PAGE;

export class StableMemory {
    private pages = new Map<number, Uint8Array>();
    private sizePages = 0;
    /** Page number → previous content (undefined: the page did not exist). Null outside a transaction. */
    private journal: Map<number, Uint8Array | undefined> | null = null;
    private journalSize = 0;

    get size(): number {
        return this.sizePages;
    }

    /** Bytes held in memory for allocated pages. */
    get residentBytes(): number {
        return this.pages.size * WASM_PAGE;
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
            if (previous === undefined) this.pages.delete(page);
            else this.pages.set(page, previous);
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

    read(offset: number, target: Uint8Array): void {
        let done = 0;
        while (done < target.length) {
            const position = offset + done;
            const page = Math.floor(position / WASM_PAGE);
            const within = position - page * WASM_PAGE;
            const n = Math.min(WASM_PAGE - within, target.length - done);
            const content = this.pages.get(page);
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
        const current = this.pages.get(page);
        // A page this transaction already replaced is its own to modify.
        if (this.journal?.has(page)) return current!;
        this.journal?.set(page, current);
        // Any other page may be shared, with the journal or with a snapshot, so it is never written in
        // place: the write goes to a fresh page (outside a transaction too, or a snapshot would change).
        const fresh = whole || current === undefined ? new Uint8Array(WASM_PAGE) : current.slice();
        this.pages.set(page, fresh);
        return fresh;
    }

    /** Replaces the whole content (used when a canister is reinstalled or its state is loaded). */
    reset(pages: Map<number, Uint8Array> = new Map(), size = 0): void {
        this.pages = pages;
        this.sizePages = size;
        this.journal = null;
    }

    /**
     * A cheap copy of the whole content: a page that existed before is never modified in place (the
     * first write of a transaction, or any write outside one, replaces it), so sharing pages is safe.
     */
    snapshot(): { pages: Map<number, Uint8Array>; size: number } {
        if (this.journal !== null) throw new Error('stable memory snapshot taken inside a transaction');
        return { pages: new Map(this.pages), size: this.sizePages };
    }

    restore(snapshot: { pages: Map<number, Uint8Array>; size: number }): void {
        this.reset(new Map(snapshot.pages), snapshot.size);
    }

    /** Allocated pages in page order, for persistence. */
    *entries(): IterableIterator<[number, Uint8Array]> {
        for (const page of [...this.pages.keys()].sort((a, b) => a - b)) yield [page, this.pages.get(page)!];
    }
}
