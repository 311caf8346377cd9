/** Minimal Wasm binary reading and writing: LEB128 and the section layout. */

export class WasmReader {
    offset: number;
    constructor(
        readonly bytes: Uint8Array,
        offset = 0
    ) {
        this.offset = offset;
    }

    byte(): number {
        if (this.offset >= this.bytes.length) throw new WasmFormatError('unexpected end of module');
        return this.bytes[this.offset++];
    }

    /** Unsigned LEB128 up to 32 bits, as a number. */
    u32(): number {
        let result = 0;
        let shift = 0;
        for (;;) {
            const b = this.byte();
            result += (b & 0x7f) * 2 ** shift;
            if ((b & 0x80) === 0) return result;
            shift += 7;
            if (shift > 35) throw new WasmFormatError('LEB128 value too long');
        }
    }

    skip(n: number): void {
        this.offset += n;
    }

    /** Signed LEB128 of any width, skipped (the value is not needed by the callers). */
    skipLeb(): void {
        while (this.byte() & 0x80);
    }

    /** Signed LEB128 up to 64 bits, as a bigint. */
    s64(): bigint {
        let result = 0n;
        let shift = 0n;
        let b: number;
        do {
            b = this.byte();
            result |= BigInt(b & 0x7f) << shift;
            shift += 7n;
        } while (b & 0x80);
        if (shift < 64n && b & 0x40) result |= -1n << shift;
        return BigInt.asIntN(64, result);
    }

    /** Signed LEB128 up to 32 bits, as a number. */
    s32(): number {
        return Number(BigInt.asIntN(32, this.s64()));
    }

    name(): string {
        const length = this.u32();
        const text = new TextDecoder().decode(this.bytes.subarray(this.offset, this.offset + length));
        this.offset += length;
        return text;
    }

    slice(length: number): Uint8Array {
        const out = this.bytes.subarray(this.offset, this.offset + length);
        if (out.length !== length) throw new WasmFormatError('unexpected end of module');
        this.offset += length;
        return out;
    }
}

export class WasmFormatError extends Error {
    override name = 'WasmFormatError';
}

export class WasmWriter {
    private chunks: Uint8Array[] = [];
    private current: number[] = [];
    length = 0;

    byte(b: number): this {
        this.current.push(b);
        this.length += 1;
        if (this.current.length >= 4096) this.flush();
        return this;
    }

    u32(value: number): this {
        do {
            let b = value & 0x7f;
            value = Math.floor(value / 128);
            if (value !== 0) b |= 0x80;
            this.byte(b);
        } while (value !== 0);
        return this;
    }

    s64(value: bigint): this {
        for (;;) {
            const b = Number(value & 0x7fn);
            value >>= 7n;
            if ((value === 0n && (b & 0x40) === 0) || (value === -1n && (b & 0x40) !== 0)) {
                this.byte(b);
                return this;
            }
            this.byte(b | 0x80);
        }
    }

    s32(value: number): this {
        return this.s64(BigInt(value));
    }

    name(text: string): this {
        const bytes = new TextEncoder().encode(text);
        this.u32(bytes.length);
        return this.bytes(bytes);
    }

    bytes(bytes: Uint8Array): this {
        this.flush();
        this.chunks.push(bytes);
        this.length += bytes.length;
        return this;
    }

    private flush(): void {
        if (this.current.length > 0) {
            this.chunks.push(Uint8Array.from(this.current));
            this.current = [];
        }
    }

    finish(): Uint8Array {
        this.flush();
        const out = new Uint8Array(this.length);
        let offset = 0;
        for (const chunk of this.chunks) {
            out.set(chunk, offset);
            offset += chunk.length;
        }
        return out;
    }
}

export interface Section {
    id: number;
    /** The section's payload (without id and size). */
    body: Uint8Array;
}

export const WASM_HEADER = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

export function readSections(bytes: Uint8Array): Section[] {
    for (let i = 0; i < 8; i++) {
        if (bytes[i] !== WASM_HEADER[i]) throw new WasmFormatError('not a Wasm module (bad magic or version)');
    }
    const reader = new WasmReader(bytes, 8);
    const sections: Section[] = [];
    while (reader.offset < bytes.length) {
        const id = reader.byte();
        const size = reader.u32();
        sections.push({ id, body: reader.slice(size) });
    }
    return sections;
}

export function writeSections(sections: Section[]): Uint8Array {
    const w = new WasmWriter().bytes(WASM_HEADER);
    for (const section of sections) {
        w.byte(section.id).u32(section.body.length).bytes(section.body);
    }
    return w.finish();
}

export const SectionId = {
    custom: 0,
    type: 1,
    import: 2,
    function: 3,
    table: 4,
    memory: 5,
    global: 6,
    export: 7,
    start: 8,
    element: 9,
    code: 10,
    data: 11,
    dataCount: 12
} as const;

export const ExternalKind = { func: 0, table: 1, memory: 2, global: 3 } as const;

/** Skips a constant expression (global initialisers, segment offsets) up to and including `end`. */
export function skipConstExpr(r: WasmReader): void {
    for (;;) {
        const op = r.byte();
        switch (op) {
            case 0x0b:
                return;
            case 0x41:
            case 0x42:
            case 0x23:
            case 0xd2:
                r.skipLeb();
                break;
            case 0x43:
                r.slice(4);
                break;
            case 0x44:
                r.slice(8);
                break;
            case 0xd0:
                r.byte();
                break;
            case 0x6a:
            case 0x6b:
            case 0x6c:
            case 0x7c:
            case 0x7d:
            case 0x7e:
                break;
            default:
                throw new WasmFormatError(`unsupported opcode 0x${op.toString(16)} in constant expression`);
        }
    }
}

/** Reads limits (a flags byte, the minimum and, when flag bit 0 is set, the maximum). */
export function readLimits(r: WasmReader): { min: number; max?: number } {
    const flags = r.byte();
    const min = r.u32();
    const max = flags & 1 ? r.u32() : undefined;
    return { min, max };
}
