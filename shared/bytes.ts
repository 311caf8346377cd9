/** Joins byte arrays into one (usable inside canisters, where Node's Buffer does not exist). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) {
        out.set(part, offset);
        offset += part.length;
    }
    return out;
}

/** Unsigned LEB128 of a non-negative integer below 2^53 (Candid lengths, certified status codes). */
export function leb128(value: number): Uint8Array {
    const out: number[] = [];
    do {
        let b = value & 0x7f;
        value = Math.floor(value / 128);
        if (value !== 0) b |= 0x80;
        out.push(b);
    } while (value !== 0);
    return Uint8Array.from(out);
}

/** Signed LEB128 of an integer in the 32-bit range (Candid type opcodes and type-table indices). */
export function sleb128(value: number): Uint8Array {
    const out: number[] = [];
    for (;;) {
        const b = value & 0x7f;
        value = Math.floor(value / 128);
        const done = (value === 0 && (b & 0x40) === 0) || (value === -1 && (b & 0x40) !== 0);
        out.push(done ? b : b | 0x80);
        if (done) return Uint8Array.from(out);
    }
}
