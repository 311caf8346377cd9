/**
 * Instruction metering, as the IC replica instruments a module before it runs it
 * (dfinity/ic `rs/embedders/src/wasm_utils/instrumentation.rs` is the reference; this is our own code).
 *
 * Every function body is decoded instruction by instruction and split into basic blocks the way the IC
 * splits them: a block ends after `loop`, `if`, `else`, `br`, `br_if`, `br_table`, `end`, `return` and
 * `unreachable`. At the start of each block the summed cost of its instructions ({@link instructionCost},
 * the IC's table) is subtracted from a mutable i64 global, the *counter* of instructions left. At the
 * starts of re-entrant blocks (function entries and loop bodies) the counter is then checked: below zero,
 * the code sets a second global, the *exceeded flag*, and executes `unreachable`, which the replica turns
 * into IC0522. Non-re-entrant blocks are not checked (as on the IC): the overshoot is bounded by one
 * straight path through the function. Bulk memory and table operations are also charged their size
 * operand at run time, through a small helper function appended to the module.
 *
 * The IC adds imports (`out_of_instructions`, ...) for this; adding an import would shift every function
 * index, so here nothing is imported: the flag + `unreachable` replaces the call, and the helper is a
 * defined function appended after all others, which shifts nothing. System API calls are charged from
 * JavaScript by subtracting from the same exported global (see `replica/metering.ts`).
 *
 * The counter is exported as {@link COUNTER_EXPORT}, the flag as {@link EXCEEDED_EXPORT}.
 */
import { ExternalKind, readLimits, readSections, SectionId, WasmFormatError, WasmReader, WasmWriter, writeSections, type Section } from './binary';

export const COUNTER_EXPORT = '__silo_instructions_left';
export const EXCEEDED_EXPORT = '__silo_instructions_exceeded';

// ---------------------------------------------------------------- the IC's cost table

/** Cost classes of one-byte opcodes; opcodes not listed cost 1 (the IC's default). */
const COST = new Uint16Array(256).fill(1);
function setCost(cost: number, ...ops: number[]): void {
    for (const op of ops) COST[op] = cost;
}
function setRange(cost: number, from: number, to: number): void {
    for (let op = from; op <= to; op++) COST[op] = cost;
}
// block, loop, else, end: markers, free.
setCost(0, 0x02, 0x03, 0x05, 0x0b);
// if, br, br_if, br_table: 2. return, unreachable, nop, drop: 1 (default).
setCost(2, 0x04, 0x0c, 0x0d, 0x0e);
// call 5, call_indirect 10, return_call 3, return_call_indirect 60.
setCost(5, 0x10);
setCost(10, 0x11);
setCost(3, 0x12);
setCost(60, 0x13);
// global.get / global.set: 2; local.*, select: 1.
setCost(2, 0x23, 0x24);
// table.get / table.set: 5.
setCost(5, 0x25, 0x26);
// loads and stores (0x28..0x3e): 1 in wasm32 (default). memory.size 20, memory.grow 300.
setCost(20, 0x3f);
setCost(300, 0x40);
// integer division and remainder: 10 (i32 0x6d..0x70, i64 0x7f..0x82).
setRange(10, 0x6d, 0x70);
setRange(10, 0x7f, 0x82);
// float arithmetic (f32 0x8b..0x98, f64 0x99..0xa6).
setCost(1, 0x8b, 0x8c, 0x99, 0x9a); // abs, neg
setCost(2, 0x8d, 0x8e, 0x8f, 0x90, 0x92, 0x93, 0x94); // f32 ceil floor trunc nearest add sub mul
setCost(5, 0x91); // f32.sqrt
setCost(3, 0x95); // f32.div
setCost(18, 0x96, 0x97); // f32.min, f32.max
setCost(2, 0x98); // f32.copysign
setCost(2, 0x9b, 0x9c, 0x9d, 0x9e, 0xa0, 0xa1, 0xa2); // f64 ceil floor trunc nearest add sub mul
setCost(8, 0x9f); // f64.sqrt
setCost(5, 0xa3); // f64.div
setCost(18, 0xa4, 0xa5); // f64.min, f64.max
setCost(3, 0xa6); // f64.copysign
// float comparisons (f32 0x5b..0x60, f64 0x61..0x66): 3.
setRange(3, 0x5b, 0x66);
// trunc (float to int, trapping) 0xa8..0xab, 0xae..0xb1: 20.
setRange(20, 0xa8, 0xab);
setRange(20, 0xae, 0xb1);
// convert: signed 3, unsigned 16. f32.convert_i32_s/u 0xb2/0xb3, _i64_s/u 0xb4/0xb5; f64 0xb7..0xba.
setCost(3, 0xb2, 0xb4, 0xb7, 0xb9);
setCost(16, 0xb3, 0xb5, 0xb8, 0xba);
// ref.null 1, ref.is_null 5, ref.func 130.
setCost(5, 0xd1);
setCost(130, 0xd2);

/** Costs of the 0xFC-prefixed operations, by sub-opcode (before any size-dependent part). */
function prefixedCost(sub: number): number {
    if (sub <= 7) return 20; // saturating truncations
    if (sub === 8 || sub === 10 || sub === 11 || sub === 12 || sub === 14 || sub === 17) return 100; // bulk memory and table ops
    if (sub === 9 || sub === 13) return 300; // data.drop, elem.drop
    if (sub === 15) return 300; // table.grow
    if (sub === 16) return 100; // table.size
    return 1;
}

/** The IC's static cost of one instruction, given its first byte (and sub-opcode for 0xFC). */
export function instructionCost(op: number, sub = 0): number {
    return op === 0xfc ? prefixedCost(sub) : COST[op];
}

// ---------------------------------------------------------------- decoding

/**
 * Injection kinds, in the order they are emitted when several fall on the same offset: reload the local
 * counter after a call, charge a block (checked at re-entrant blocks), charge a bulk operation's size,
 * write the local counter back before leaving the function or calling out.
 */
const enum Kind {
    Reload = 0,
    Static = 1,
    Checked = 2,
    Dynamic = 3,
    Sync = 4
}

/**
 * Finds the injection points of one function body's instructions (from `start` to the body's end):
 * returns flat triples [byteOffset, kind, cost], sorted by offset then kind.
 */
function injectionPoints(b: Uint8Array, start: number, end: number): number[] {
    const points: number[] = [];
    const extra: number[] = [];
    const c = new WasmReader(b, start);
    // The function entry is a re-entrant block; even an empty function costs 1.
    let at = start;
    let kind = Kind.Checked;
    let cost = 1;
    /** Blocks open inside the function body; label `depth` is the function itself. */
    let depth = 0;
    const close = (next: number, nextKind: Kind) => {
        if (kind === Kind.Checked || cost > 0) points.push(at, kind, cost);
        at = next;
        kind = nextKind;
        cost = 0;
    };
    while (c.offset < end) {
        const pos = c.offset;
        const op = c.byte();
        switch (op) {
            case 0x02: // block bt
            case 0x03: // loop bt
            case 0x04: {
                // if bt
                const bt = c.byte();
                if (bt < 0x40 || bt >= 0x80) {
                    // a type index (s33) rather than a value type; re-read it whole
                    c.offset--;
                    c.skipLeb();
                }
                depth++;
                cost += COST[op];
                if (op === 0x03) close(c.offset, Kind.Checked);
                else if (op === 0x04) close(c.offset, Kind.Static);
                break;
            }
            case 0x0b: // end
                if (depth === 0) extra.push(pos, Kind.Sync, 0); // the function's own end: leaving it
                else depth--;
                cost += COST[op];
                close(c.offset, Kind.Static);
                break;
            case 0x05: // else
                cost += COST[op];
                close(c.offset, Kind.Static);
                break;
            case 0x0f: // return
            case 0x00: // unreachable (synced so that a trapping execution reports what it used)
                extra.push(pos, Kind.Sync, 0);
                cost += COST[op];
                close(c.offset, Kind.Static);
                break;
            case 0x0c: // br
            case 0x0d: // br_if
                if (c.u32() >= depth) extra.push(pos, Kind.Sync, 0);
                cost += COST[op];
                close(c.offset, Kind.Static);
                break;
            case 0x0e: {
                // br_table
                const n = c.u32();
                let leaves = false;
                for (let i = 0; i <= n; i++) if (c.u32() >= depth) leaves = true;
                if (leaves) extra.push(pos, Kind.Sync, 0);
                cost += COST[op];
                close(c.offset, Kind.Static);
                break;
            }
            case 0x12: // return_call
                c.skipLeb();
                extra.push(pos, Kind.Sync, 0);
                cost += COST[op];
                close(c.offset, Kind.Static);
                break;
            case 0x13: // return_call_indirect
                c.skipLeb();
                c.skipLeb();
                extra.push(pos, Kind.Sync, 0);
                cost += COST[op];
                close(c.offset, Kind.Static);
                break;
            case 0x10: // call: the callee counts in the global, so hand it over and take it back
                c.skipLeb();
                extra.push(pos, Kind.Sync, 0, c.offset, Kind.Reload, 0);
                cost += COST[op];
                break;
            case 0x11: // call_indirect type table
                c.skipLeb();
                c.skipLeb();
                extra.push(pos, Kind.Sync, 0, c.offset, Kind.Reload, 0);
                cost += COST[op];
                break;
            case 0x20: // local.get / set / tee
            case 0x21:
            case 0x22:
            case 0x23: // global.get / set
            case 0x24:
            case 0x25: // table.get / set
            case 0x26:
            case 0xd2: // ref.func
            case 0x41: // i32.const
            case 0x42: // i64.const
                c.skipLeb();
                cost += COST[op];
                break;
            case 0x1c: {
                // select with types
                const n = c.u32();
                c.skip(n);
                cost += 1;
                break;
            }
            case 0x3f: // memory.size / grow: memory index byte
            case 0x40:
            case 0xd0: // ref.null type
                c.byte();
                cost += COST[op];
                break;
            case 0x43:
                c.skip(4);
                cost += 1;
                break;
            case 0x44:
                c.skip(8);
                cost += 1;
                break;
            case 0xfc: {
                const sub = c.u32();
                switch (sub) {
                    case 8: // memory.init data mem
                        c.skipLeb();
                        c.byte();
                        break;
                    case 9: // data.drop
                    case 13: // elem.drop
                    case 15: // table.grow
                    case 16: // table.size
                    case 17: // table.fill
                        c.skipLeb();
                        break;
                    case 10: // memory.copy mem mem
                        c.byte();
                        c.byte();
                        break;
                    case 11: // memory.fill mem
                        c.byte();
                        break;
                    case 12: // table.init elem table
                    case 14: // table.copy table table
                        c.skipLeb();
                        c.skipLeb();
                        break;
                    default:
                        if (sub > 17) throw new WasmFormatError(`unsupported instruction 0xfc ${sub}`);
                }
                cost += prefixedCost(sub);
                // Bulk operations also pay their size (the operand on top of the stack), before they run.
                if (sub === 8 || sub === 10 || sub === 11 || sub === 12 || sub === 14 || sub === 17) extra.push(pos, Kind.Dynamic, 0);
                break;
            }
            default:
                if (op >= 0x28 && op <= 0x3e) {
                    // memarg: align, offset
                    c.skipLeb();
                    c.skipLeb();
                    cost += 1;
                } else if ((op >= 0x45 && op <= 0xc4) || op === 0x01 || op === 0x1a || op === 0x1b || op === 0xd1) {
                    cost += COST[op];
                } else {
                    throw new WasmFormatError(`unsupported instruction 0x${op.toString(16)} at body offset ${pos}`);
                }
        }
    }
    if (extra.length === 0) return points;
    // Block charges are in offset order already; merge the others in, sorted by (offset, kind).
    const order: number[] = [];
    for (let i = 0; i < extra.length; i += 3) order.push(i);
    order.sort((x, y) => extra[x] - extra[y] || extra[x + 1] - extra[y + 1]);
    const merged: number[] = [];
    let e = 0;
    for (let i = 0; i < points.length; i += 3) {
        while (e < order.length && (extra[order[e]] < points[i] || (extra[order[e]] === points[i] && extra[order[e] + 1] < points[i + 1]))) {
            const j = order[e++];
            merged.push(extra[j], extra[j + 1], 0);
        }
        merged.push(points[i], points[i + 1], points[i + 2]);
    }
    while (e < order.length) {
        const j = order[e++];
        merged.push(extra[j], extra[j + 1], 0);
    }
    return merged;
}

// ---------------------------------------------------------------- encoding

class Out {
    buf: Uint8Array;
    n = 0;
    constructor(size: number) {
        this.buf = new Uint8Array(size);
    }
    ensure(extra: number): void {
        if (this.n + extra <= this.buf.length) return;
        const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + extra));
        next.set(this.buf.subarray(0, this.n));
        this.buf = next;
    }
    byte(x: number): void {
        this.buf[this.n++] = x;
    }
    u32(v: number): void {
        do {
            let x = v & 0x7f;
            v = Math.floor(v / 128);
            if (v !== 0) x |= 0x80;
            this.buf[this.n++] = x;
        } while (v !== 0);
    }
    s64(v: number): void {
        // non-negative costs below 2^53
        for (;;) {
            const x = v % 128;
            v = Math.floor(v / 128);
            if (v === 0 && (x & 0x40) === 0) {
                this.buf[this.n++] = x;
                return;
            }
            this.buf[this.n++] = x | 0x80;
        }
    }
    copy(src: Uint8Array, from: number, to: number): void {
        this.ensure(to - from);
        this.buf.set(src.subarray(from, to), this.n);
        this.n += to - from;
    }
}

interface Indices {
    counter: number;
    flag: number;
}

/**
 * Inside a function the counter lives in a local (`local`), which the engine keeps in a register: a
 * global read-modify-write per block costs about twice as much. The global is the truth between
 * functions: the local is written back before every call and every way out of the function, and
 * re-read after every call. (A Wasm trap such as an out-of-bounds load leaves the function without a
 * write-back, so a trapped execution may report slightly fewer instructions than it ran; `unreachable`
 * and `ic0.trap` are exact.)
 */
function emitCharge(o: Out, ix: Indices, local: number, cost: number, checked: boolean): void {
    o.ensure(48);
    o.byte(0x20);
    o.u32(local);
    o.byte(0x42);
    o.s64(cost);
    o.byte(0x7d); // i64.sub
    o.byte(0x21);
    o.u32(local);
    if (checked) emitCheck(o, ix, local);
}

/** `if (left < 0) { counter = left; exceeded = 1; unreachable }` */
function emitCheck(o: Out, ix: Indices, local: number): void {
    o.ensure(32);
    o.byte(0x20);
    o.u32(local);
    o.byte(0x42);
    o.byte(0x00);
    o.byte(0x53); // i64.lt_s
    o.byte(0x04);
    o.byte(0x40); // if
    o.byte(0x20);
    o.u32(local);
    o.byte(0x24);
    o.u32(ix.counter);
    o.byte(0x41);
    o.byte(0x01);
    o.byte(0x24);
    o.u32(ix.flag);
    o.byte(0x00); // unreachable
    o.byte(0x0b);
}

function emitSync(o: Out, ix: Indices, local: number): void {
    o.ensure(12);
    o.byte(0x20);
    o.u32(local);
    o.byte(0x24);
    o.u32(ix.counter);
}

function emitReload(o: Out, ix: Indices, local: number): void {
    o.ensure(12);
    o.byte(0x23);
    o.u32(ix.counter);
    o.byte(0x21);
    o.u32(local);
}

/** Charges the i32 size on top of the stack (kept there) to the local counter, with a check. */
function emitDynamic(o: Out, ix: Indices, local: number, scratch: number): void {
    o.ensure(24);
    o.byte(0x22);
    o.u32(scratch); // local.tee
    o.byte(0x20);
    o.u32(local);
    o.byte(0x20);
    o.u32(scratch);
    o.byte(0xad); // i64.extend_i32_u
    o.byte(0x7d);
    o.byte(0x21);
    o.u32(local);
    emitCheck(o, ix, local);
}

/** Instruments one function body; `params` is the number of parameters of its type. */
function instrumentBody(o: Out, b: Uint8Array, start: number, end: number, ix: Indices, params: number): void {
    const c = new WasmReader(b, start);
    const groups = c.u32();
    const groupsStart = c.offset;
    let locals = 0;
    for (let i = 0; i < groups; i++) {
        locals += c.u32();
        c.byte();
    }
    const codeStart = c.offset;
    // Two more locals: the counter (i64) and a scratch i32 for bulk operation sizes.
    const local = params + locals;
    const scratch = local + 1;
    o.ensure(codeStart - start + 16);
    o.u32(groups + 2);
    o.copy(b, groupsStart, codeStart);
    o.byte(1);
    o.byte(0x7e);
    o.byte(1);
    o.byte(0x7f);
    emitReload(o, ix, local);
    const points = injectionPoints(b, codeStart, end);
    let last = codeStart;
    for (let i = 0; i < points.length; i += 3) {
        const at = points[i];
        o.copy(b, last, at);
        last = at;
        switch (points[i + 1] as Kind) {
            case Kind.Reload:
                emitReload(o, ix, local);
                break;
            case Kind.Sync:
                emitSync(o, ix, local);
                break;
            case Kind.Dynamic:
                emitDynamic(o, ix, local, scratch);
                break;
            default:
                emitCharge(o, ix, local, points[i + 2], points[i + 1] === Kind.Checked);
        }
    }
    o.copy(b, last, end);
}

// ---------------------------------------------------------------- the module

export interface InstrumentedModule {
    wasm: Uint8Array;
    /** Functions instrumented. */
    functions: number;
}

/** Parameter counts of the module's types. */
function typeParams(body: Uint8Array): number[] {
    const r = new WasmReader(body);
    const count = r.u32();
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
        const form = r.byte();
        if (form !== 0x60) throw new WasmFormatError(`unsupported type form 0x${form.toString(16)}`);
        const params = r.u32();
        r.slice(params);
        const results = r.u32();
        r.slice(results);
        out.push(params);
    }
    return out;
}

/**
 * Adds metering to a module: two globals (counter, flag) and their exports are appended, and every
 * function body gets its charges and two locals. Nothing existing is renumbered.
 */
export function instrumentModule(wasm: Uint8Array): InstrumentedModule {
    const sections = readSections(wasm);
    let importedGlobals = 0;
    let definedGlobals = 0;
    let params: number[] = [];
    let functionTypes: number[] = [];
    for (const s of sections) {
        const r = new WasmReader(s.body);
        if (s.id === SectionId.import) {
            const count = r.u32();
            for (let i = 0; i < count; i++) {
                r.name();
                r.name();
                const kind = r.byte();
                if (kind === ExternalKind.func) r.u32();
                else if (kind === ExternalKind.table) {
                    r.byte();
                    readLimits(r);
                } else if (kind === ExternalKind.memory) readLimits(r);
                else if (kind === ExternalKind.global) {
                    r.byte();
                    r.byte();
                    importedGlobals++;
                }
            }
        } else if (s.id === SectionId.function) {
            const count = r.u32();
            functionTypes = Array.from({ length: count }, () => r.u32());
        } else if (s.id === SectionId.global) definedGlobals = r.u32();
        else if (s.id === SectionId.type) params = typeParams(s.body);
    }
    const ix: Indices = { counter: importedGlobals + definedGlobals, flag: importedGlobals + definedGlobals + 1 };

    const globals = new WasmWriter();
    // (mut i64) = 0, (mut i32) = 0
    globals.byte(0x7e).byte(0x01).byte(0x42).byte(0x00).byte(0x0b);
    globals.byte(0x7f).byte(0x01).byte(0x41).byte(0x00).byte(0x0b);
    const newGlobals = globals.finish();
    const newExports = new WasmWriter().name(COUNTER_EXPORT).byte(3).u32(ix.counter).name(EXCEEDED_EXPORT).byte(3).u32(ix.flag).finish();
    const extendVec = (body: Uint8Array, extra: number, tail: Uint8Array): Uint8Array => {
        const r = new WasmReader(body);
        const count = r.u32();
        return new WasmWriter()
            .u32(count + extra)
            .bytes(body.subarray(r.offset))
            .bytes(tail)
            .finish();
    };

    const out: Section[] = [];
    let sawGlobal = false;
    let sawExport = false;
    let functions = 0;
    // Sections appear in a fixed order (data count, id 12, sits between element and code).
    const order = (id: number) => (id === SectionId.dataCount ? 9.5 : id);
    const ensureBefore = (id: number) => {
        if (!sawGlobal && order(id) > SectionId.global) {
            sawGlobal = true;
            out.push({ id: SectionId.global, body: new WasmWriter().u32(2).bytes(newGlobals).finish() });
        }
        if (!sawExport && order(id) > SectionId.export) {
            sawExport = true;
            out.push({ id: SectionId.export, body: new WasmWriter().u32(2).bytes(newExports).finish() });
        }
    };
    for (const s of sections) {
        if (s.id === SectionId.custom) {
            out.push(s);
            continue;
        }
        ensureBefore(s.id);
        switch (s.id) {
            case SectionId.global:
                sawGlobal = true;
                out.push({ id: s.id, body: extendVec(s.body, 2, newGlobals) });
                break;
            case SectionId.export:
                sawExport = true;
                out.push({ id: s.id, body: extendVec(s.body, 2, newExports) });
                break;
            case SectionId.code: {
                const b = s.body;
                const c = new WasmReader(b, 0);
                const count = c.u32();
                if (count !== functionTypes.length) throw new WasmFormatError('function and code sections disagree');
                const o = new Out(Math.ceil(b.length * 1.8) + 1024);
                o.u32(count);
                const body = new Out(1 << 16);
                for (let i = 0; i < count; i++) {
                    const size = c.u32();
                    const start = c.offset;
                    body.n = 0;
                    instrumentBody(body, b, start, start + size, ix, params[functionTypes[i]]);
                    o.ensure(body.n + 5);
                    o.u32(body.n);
                    o.copy(body.buf, 0, body.n);
                    c.offset = start + size;
                    functions++;
                }
                out.push({ id: s.id, body: o.buf.slice(0, o.n) });
                break;
            }
            default:
                out.push(s);
        }
    }
    ensureBefore(100);
    return { wasm: writeSections(out), functions };
}
