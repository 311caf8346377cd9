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
