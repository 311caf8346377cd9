/**
 * A bound on what decoding a Candid message from someone else can cost, checked before
 * `@dfinity/candid` decodes it. Every Candid value consumes input bytes except those of zero-sized
 * types (`null`, `reserved`, records of only such fields): a `vec null` of length 2^50 is six bytes on
 * the wire, and the decoder, which walks (or skips) vectors element by element, loops for days on it
 * (10^8 elements already take ~6 s). So a message whose type table holds a vector of a zero-sized type
 * is refused; no interface this repository decodes uses one. With that, decoding is linear in the
 * message's bytes.
 */

/** Why a message was refused before decoding. */
export class CandidBoundsError extends Error {
    override name = 'CandidBoundsError';
}

/** Most entries in a type table (each costs the decoder a subtype check); real interfaces use tens. */
const MAX_TYPES = 1000;

const OPT = -18;
const VEC = -19;
const RECORD = -20;
const VARIANT = -21;
const FUNC = -22;
const SERVICE = -23;
const NULL = -1;
const RESERVED = -16;

/** Throws {@link CandidBoundsError} when `bytes` is not a Candid message that decodes in time linear in its size. */
export function checkCandidBounds(bytes: Uint8Array): void {
    let at = 0;
    const fail = (why: string): never => {
        throw new CandidBoundsError(`Candid message refused before decoding: ${why}`);
    };
    const byte = (): number => {
        if (at >= bytes.length) fail('unexpected end of the type table');
        return bytes[at++];
    };
    const leb = (): number => {
        let value = 0;
        for (let shift = 0; ; shift += 7) {
            if (shift > 35) fail('a number in the type table is too large');
            const b = byte();
            value += (b & 0x7f) * 2 ** shift;
            if ((b & 0x80) === 0) return value;
        }
    };
    const sleb = (): number => {
        let value = 0;
        let shift = 0;
        let b: number;
        do {
            if (shift > 35) fail('a number in the type table is too large');
            b = byte();
            value += (b & 0x7f) * 2 ** shift;
            shift += 7;
        } while (b & 0x80);
        return b & 0x40 ? value - 2 ** shift : value;
    };
    if (bytes.length < 4 || bytes[0] !== 0x44 || bytes[1] !== 0x49 || bytes[2] !== 0x44 || bytes[3] !== 0x4c) fail("it does not start with 'DIDL'");
    at = 4;
    const count = leb();
    if (count > MAX_TYPES) fail(`its type table has ${count} entries (at most ${MAX_TYPES})`);
    /** For each entry: its constructor, and the types it refers to (element or fields). */
    const table: { op: number; refs: number[] }[] = [];
    for (let i = 0; i < count; i++) {
        const op = sleb();
        const refs: number[] = [];
        if (op === OPT || op === VEC) refs.push(sleb());
        else if (op === RECORD || op === VARIANT) {
            const fields = leb();
            if (fields > bytes.length) fail('a record or variant has more fields than the message has bytes');
            for (let f = 0; f < fields; f++) {
                leb();
                refs.push(sleb());
            }
        } else if (op === FUNC) {
            for (const _ of [0, 1]) {
                const n = leb();
                if (n > bytes.length) fail('a function type has more types than the message has bytes');
                for (let k = 0; k < n; k++) sleb();
            }
            const annotations = leb();
            if (annotations > bytes.length) fail('a function type has more annotations than the message has bytes');
            for (let k = 0; k < annotations; k++) byte();
        } else if (op === SERVICE) {
            const methods = leb();
            if (methods > bytes.length) fail('a service type has more methods than the message has bytes');
            for (let m = 0; m < methods; m++) {
                const length = leb();
                if (at + length > bytes.length) fail('unexpected end of the type table');
                at += length;
                sleb();
            }
        } else fail(`type table entry ${i} has an unknown constructor ${op}`);
        for (const ref of refs) if (ref >= count) fail(`type table entry ${i} refers to entry ${ref}, past the table`);
        table.push({ op, refs });
    }
    // Zero-sized: null, reserved, and records all of whose fields are zero-sized (the greatest fixpoint:
    // a record that contains only itself has no finite value, so it cannot cost bytes either).
    const zero = table.map((t) => t.op === RECORD);
    const isZero = (ref: number): boolean => (ref < 0 ? ref === NULL || ref === RESERVED : zero[ref]);
    for (let changed = true; changed; ) {
        changed = false;
        table.forEach((t, i) => {
            if (zero[i] && !t.refs.every(isZero)) {
                zero[i] = false;
                changed = true;
            }
        });
    }
    table.forEach((t, i) => {
        if (t.op === VEC && isZero(t.refs[0])) fail(`type table entry ${i} is a vector of a zero-sized type, whose length costs no bytes`);
    });
}
