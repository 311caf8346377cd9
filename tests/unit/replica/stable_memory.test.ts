import { describe, expect, it } from 'vitest';

import { MAX_STABLE_PAGES, StableMemory, WASM_PAGE } from '../../../replica/stable_memory';

const bytes = (...values: number[]) => Uint8Array.from(values);
const read = (memory: StableMemory, offset: number, length: number) => {
    const out = new Uint8Array(length);
    memory.read(offset, out);
    return out;
};
/** Writes inside a committed transaction, as every canister execution does. */
const committed = (memory: StableMemory, offset: number, data: Uint8Array) => {
    memory.begin();
    memory.write(offset, data);
    memory.commit();
};

describe('StableMemory', () => {
    describe('size and growth', () => {
        it('grows by pages, returning the previous size', () => {
            const memory = new StableMemory();
            expect(memory.size).toBe(0);
            expect(memory.grow(3)).toBe(0);
            expect(memory.grow(0)).toBe(3);
            expect(memory.grow(2)).toBe(3);
            expect(memory.size).toBe(5);
        });

        it('returns -1 and keeps its size beyond the 500 GiB limit or for a negative delta', () => {
            const memory = new StableMemory();
            expect(MAX_STABLE_PAGES).toBe((500 * 1024 * 1024 * 1024) / WASM_PAGE);
            expect(memory.grow(MAX_STABLE_PAGES + 1)).toBe(-1);
            expect(memory.grow(-1)).toBe(-1);
            expect(memory.grow(MAX_STABLE_PAGES)).toBe(0);
            expect(memory.grow(1)).toBe(-1);
            expect(memory.size).toBe(MAX_STABLE_PAGES);
        });

        it('checks bounds against the current size', () => {
            const memory = new StableMemory();
            expect(memory.inBounds(0, 0)).toBe(true);
            expect(memory.inBounds(0, 1)).toBe(false);
            memory.grow(1);
            expect(memory.inBounds(0, WASM_PAGE)).toBe(true);
            expect(memory.inBounds(1, WASM_PAGE)).toBe(false);
            expect(memory.inBounds(WASM_PAGE, 0)).toBe(true);
            expect(memory.inBounds(-1, 1)).toBe(false);
        });
    });

    describe('sparse pages', () => {
        it('allocates a page only when it is first written, and reads zeros elsewhere', () => {
            const memory = new StableMemory();
            memory.grow(MAX_STABLE_PAGES); // 500 GiB declared, nothing resident
            expect(memory.residentBytes).toBe(0);
            const far = 400_000 * WASM_PAGE + 10;
            committed(memory, far, bytes(1, 2, 3));
            expect(memory.residentBytes).toBe(WASM_PAGE);
            expect(read(memory, far - 2, 7)).toEqual(bytes(0, 0, 1, 2, 3, 0, 0));
            expect(read(memory, 0, 4)).toEqual(bytes(0, 0, 0, 0));
            expect(memory.residentBytes).toBe(WASM_PAGE); // reading allocates nothing
        });

        it('reads and writes across page boundaries', () => {
            const memory = new StableMemory();
            memory.grow(3);
            const data = Uint8Array.from({ length: WASM_PAGE + 4 }, (_, i) => i % 251);
            committed(memory, WASM_PAGE - 2, data);
            expect(memory.residentBytes).toBe(3 * WASM_PAGE);
            expect(Buffer.from(read(memory, WASM_PAGE - 2, data.length)).equals(data)).toBe(true);
            expect([...memory.entries()].map(([page]) => page)).toEqual([0, 1, 2]);
        });
    });

    describe('transactions', () => {
        it('rolls back writes to existing and new pages, and growth', () => {
            const memory = new StableMemory();
            memory.grow(1);
            committed(memory, 0, bytes(1, 1, 1, 1));

            memory.begin();
            memory.write(1, bytes(9, 9));
            memory.write(2, bytes(8)); // a second write to the same page keeps the first saved version
            expect(memory.grow(2)).toBe(1);
            memory.write(2 * WASM_PAGE, bytes(7));
            expect(read(memory, 0, 4)).toEqual(bytes(1, 9, 8, 1));
            memory.rollback();

            expect(memory.size).toBe(1);
            expect(read(memory, 0, 4)).toEqual(bytes(1, 1, 1, 1));
            expect(memory.residentBytes).toBe(WASM_PAGE);
            expect([...memory.entries()].map(([page]) => page)).toEqual([0]);
        });

        it('keeps the changes of a committed transaction; rollback after commit does nothing', () => {
            const memory = new StableMemory();
            memory.begin();
            memory.grow(1);
            memory.write(0, bytes(5));
            memory.commit();
            memory.rollback();
            expect(memory.size).toBe(1);
            expect(read(memory, 0, 1)).toEqual(bytes(5));
        });

        it('replaces a wholly written page instead of copying it, leaving the old page untouched', () => {
            const memory = new StableMemory();
            memory.grow(1);
            committed(memory, 0, new Uint8Array(WASM_PAGE).fill(1));
            const [[, original]] = [...memory.entries()];

            memory.begin();
            memory.write(0, new Uint8Array(WASM_PAGE).fill(2));
            const [[, replaced]] = [...memory.entries()];
            expect(replaced).not.toBe(original);
            expect(original.every((b) => b === 1)).toBe(true);
            memory.rollback();
            expect([...memory.entries()][0][1]).toBe(original);
            expect(read(memory, WASM_PAGE - 1, 1)).toEqual(bytes(1));
        });

        it('copies a partly written page, leaving the old page untouched', () => {
            const memory = new StableMemory();
            memory.grow(1);
            committed(memory, 0, bytes(1, 2, 3));
            const [[, original]] = [...memory.entries()];
            memory.begin();
            memory.write(1, bytes(7));
            expect(original.subarray(0, 3)).toEqual(bytes(1, 2, 3));
            expect(read(memory, 0, 3)).toEqual(bytes(1, 7, 3));
            memory.commit();
            expect(read(memory, 0, 3)).toEqual(bytes(1, 7, 3));
        });
    });

    describe('snapshot and restore', () => {
        it('restores content and size after later transactions', () => {
            const memory = new StableMemory();
            memory.grow(2);
            committed(memory, 0, bytes(1, 2));
            const snapshot = memory.snapshot();

            memory.begin();
            memory.grow(5);
            memory.write(0, bytes(9, 9));
            memory.write(6 * WASM_PAGE, bytes(9));
            memory.commit();

            memory.restore(snapshot);
            expect(memory.size).toBe(2);
            expect(read(memory, 0, 2)).toEqual(bytes(1, 2));
            expect(memory.residentBytes).toBe(WASM_PAGE);
        });

        it('keeps a snapshot intact however the memory is written afterwards, so it can be restored twice', () => {
            const memory = new StableMemory();
            memory.grow(1);
            committed(memory, 0, bytes(1));
            const snapshot = memory.snapshot();

            memory.write(0, bytes(2)); // outside any transaction
            committed(memory, 1, bytes(3));
            memory.restore(snapshot);
            expect(read(memory, 0, 2)).toEqual(bytes(1, 0));

            memory.write(0, bytes(4));
            memory.restore(snapshot);
            expect(read(memory, 0, 2)).toEqual(bytes(1, 0));
        });

        it('refuses a snapshot in the middle of a transaction', () => {
            const memory = new StableMemory();
            memory.begin();
            expect(() => memory.snapshot()).toThrow('inside a transaction');
        });

        it('reset replaces everything and ends any transaction', () => {
            const memory = new StableMemory();
            memory.grow(1);
            memory.begin();
            memory.write(0, bytes(1));
            memory.reset();
            expect(memory.size).toBe(0);
            expect(memory.residentBytes).toBe(0);
            expect(() => memory.snapshot()).not.toThrow();
        });
    });
});
