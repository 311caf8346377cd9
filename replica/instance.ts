/**
 * A running instance of a canister module, with the heap transaction that makes an execution atomic.
 *
 * Before an execution that may have to be undone, `checkpoint()` copies the heap into a buffer kept for
 * reuse and saves the mutable globals; `rollback()` copies it back. Wasm memory cannot shrink, so when a
 * trapping execution grew the heap the instance is re-created at the old size and refilled instead.
 * After a rollback the copy still equals the heap, so the next checkpoint has nothing to copy: a run of
 * queries costs one heap copy each, not two.
 */
import { ErrorCode } from './errors';
import { Trap } from './execution';
import { COUNTER_EXPORT, EXCEEDED_EXPORT } from './wasm/instrument';
import type { CompiledModule } from './wasm/prepare';
import { WASM_PAGE } from './stable_memory';

export type Imports = { ic0: Record<string, (...args: any[]) => any> };

/** The IC's limit on a canister's Wasm heap (4 GiB, the whole 32-bit address space). */
export const MAX_HEAP_BYTES = 4 * 1024 * 1024 * 1024;

export class CanisterInstance {
    instance!: WebAssembly.Instance;
    memory!: WebAssembly.Memory;
    table: WebAssembly.Table | null = null;
    private globals: WebAssembly.Global[] = [];
    /** The instrumentation's instructions-left counter and exceeded flag; null in un-instrumented modules. */
    counter: WebAssembly.Global | null = null;
    exceededFlag: WebAssembly.Global | null = null;
    private snapshot = new Uint8Array(0);
    private snapshotBytes = 0;
    private snapshotGlobals: unknown[] = [];
    /** The snapshot equals heap and globals: nothing has run since the last checkpoint or rollback. */
    private snapshotCurrent = false;
    /** Bytes copied by checkpoints and rollbacks, for the replica's overhead figures. */
    copiedBytes = 0;

    constructor(
        readonly compiled: CompiledModule,
        private readonly imports: Imports
    ) {
        this.instantiate();
    }

    private instantiate(): void {
        this.snapshotCurrent = false;
        this.instance = new WebAssembly.Instance(this.compiled.module, this.imports);
        const exports = this.instance.exports;
        // A module may declare no memory; it then has an empty heap that never grows.
        this.memory = this.compiled.memoryExport === null ? new WebAssembly.Memory({ initial: 0, maximum: 0 }) : (exports[this.compiled.memoryExport] as WebAssembly.Memory);
        this.table = this.compiled.tableExport === null ? null : (exports[this.compiled.tableExport] as WebAssembly.Table);
        this.globals = this.compiled.mutableGlobalExports.map((name) => exports[name] as WebAssembly.Global);
        this.counter = (exports[COUNTER_EXPORT] as WebAssembly.Global | undefined) ?? null;
        this.exceededFlag = (exports[EXCEEDED_EXPORT] as WebAssembly.Global | undefined) ?? null;
    }

    exportedFunction(name: string): ((...args: unknown[]) => unknown) | undefined {
        const f = this.instance.exports[name];
        return typeof f === 'function' ? (f as (...args: unknown[]) => unknown) : undefined;
    }

    get heapBytes(): number {
        return this.memory.buffer.byteLength;
    }

    /** The heap as bytes. Re-read after anything that may grow memory: growth detaches old views. */
    heap(): Uint8Array {
        return new Uint8Array(this.memory.buffer);
    }

    checkpoint(): void {
        const bytes = this.memory.buffer.byteLength;
        if (this.snapshotCurrent && bytes === this.snapshotBytes) {
            // The execution about to run may change the heap: the snapshot is current only until then.
            this.snapshotCurrent = false;
            return;
        }
        if (this.snapshot.length < bytes) this.snapshot = new Uint8Array(bytes);
        this.snapshot.set(new Uint8Array(this.memory.buffer));
        this.snapshotBytes = bytes;
        this.snapshotGlobals = this.globals.map((g) => g.value);
        this.copiedBytes += bytes;
        this.snapshotCurrent = false;
    }

    /** Drops the heap copy kept for the next checkpoint (it is allocated again when needed). */
    releaseSnapshot(): void {
        this.snapshot = new Uint8Array(0);
        this.snapshotCurrent = false;
    }

    rollback(): void {
        if (this.memory.buffer.byteLength !== this.snapshotBytes) {
            // The execution grew the heap; memory cannot shrink, so start from a fresh instance.
            this.instantiate();
            const grow = this.snapshotBytes / WASM_PAGE - this.memory.buffer.byteLength / WASM_PAGE;
            if (grow > 0) this.memory.grow(grow);
        }
        new Uint8Array(this.memory.buffer).set(this.snapshot.subarray(0, this.snapshotBytes));
        this.globals.forEach((g, i) => (g.value = this.snapshotGlobals[i]));
        this.copiedBytes += this.snapshotBytes;
        this.snapshotCurrent = true;
    }

    /**
     * Invokes a table entry as the IC invokes callbacks: `table[fun](env)`. An index the table does not
     * hold, or holds no function at (a one-way call's 0xFFFFFFFF), is a trap in the callback (IC0513),
     * never a host error: the index is the canister's to choose.
     */
    callTable(fun: number, env: number): void {
        const table = this.table;
        const f = table !== null && fun >= 0 && fun < table.length ? table.get(fun) : null;
        if (typeof f !== 'function') throw new Trap(`Canister requested to invoke a non-existent Wasm function ${fun} from table 0`, false, ErrorCode.CanisterFunctionNotFound);
        (f as (env: number) => void)(env);
    }

    /** The mutable globals' values, in the module's export order (what `importState` takes back). */
    globalValues(): unknown[] {
        return this.globals.map((g) => g.value);
    }

    /** A copy of heap and globals, to undo a multi-execution operation such as an upgrade. */
    exportState(): { heap: Uint8Array; globals: unknown[] } {
        return { heap: new Uint8Array(this.memory.buffer).slice(), globals: this.globals.map((g) => g.value) };
    }

    importState(state: { heap: Uint8Array; globals: unknown[] }): void {
        if (this.memory.buffer.byteLength !== state.heap.length) {
            this.instantiate();
            const grow = (state.heap.length - this.memory.buffer.byteLength) / WASM_PAGE;
            if (grow > 0) this.memory.grow(grow);
        }
        new Uint8Array(this.memory.buffer).set(state.heap);
        this.globals.forEach((g, i) => (g.value = state.globals[i]));
        this.snapshotCurrent = false;
    }
}
