import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
    SHA256_STATE_BYTES,
    Sha256,
    type Sha256State,
    absorbBlocks,
    chainingValue,
    decodeState,
    encodeState,
    finalize,
    initialState,
    sha256,
    toHex
} from './sha256';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const nodeHex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const hex = (bytes: Uint8Array): string => toHex(bytes);

/** Deterministic PRNG (mulberry32): same bytes on every run and machine. */
function prng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
        s = (s + 0x6d2b79f5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return (t ^ (t >>> 14)) >>> 0;
    };
}

function randomBytes(next: () => number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
        const x = next();
        out[i] = x;
        if (i + 1 < n) out[i + 1] = x >>> 8;
        if (i + 2 < n) out[i + 2] = x >>> 16;
        if (i + 3 < n) out[i + 3] = x >>> 24;
    }
    return out;
}

/** A uniform integer in [0, n). */
const below = (next: () => number, n: number): number => next() % n;

/**
 * The message padded by hand per FIPS 180-4 §5.1.1, as if `prefix` bytes (a multiple of 64) had been
 * absorbed before it: 0x80, zeros, then the total length in bits as a u64 big-endian.
 */
function padded(m: Uint8Array, prefix = 0): Uint8Array {
    const out = new Uint8Array(Math.ceil((m.length + 9) / 64) * 64);
    out.set(m);
    out[m.length] = 0x80;
    let bits = (BigInt(prefix) + BigInt(m.length)) * 8n;
    for (let i = out.length - 1; i >= out.length - 8; i--, bits >>= 8n) out[i] = Number(bits & 0xffn);
    return out;
}

const sameState = (a: Sha256State, b: Sha256State): void => {
    expect(a.length).toBe(b.length);
    expect(Array.from(a.h)).toEqual(Array.from(b.h));
};

describe('FIPS 180-4 / NIST test vectors', () => {
    const vectors: [string, Uint8Array, string][] = [
        ['empty string', new Uint8Array(0), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
        ['"abc"', utf8('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
        [
            '448-bit message',
            utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'),
            '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1'
        ],
        [
            '896-bit message',
            utf8(
                'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu'
            ),
            'cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1'
        ],
        ['one million "a"', new Uint8Array(1_000_000).fill(0x61), 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0']
    ];

    for (const [name, message, digest] of vectors) {
        it(`${name}: one-shot, streaming, finalize`, () => {
            expect(hex(sha256(message))).toBe(digest);
            expect(hex(finalize(initialState(), message))).toBe(digest);
            const s = new Sha256();
            for (let i = 0; i < message.length; i += 7) s.update(message.subarray(i, i + 7));
            expect(hex(s.digest())).toBe(digest);
            // absorbing the hand-padded message leaves the digest as the chaining value
            expect(hex(chainingValue(absorbBlocks(initialState(), padded(message))))).toBe(digest);
        });
    }

    it('448-bit message: intermediate hash value H(1) after the first block (FIPS 180-2 appendix B.2)', () => {
        const block1 = padded(utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).subarray(0, 64);
        expect(hex(chainingValue(absorbBlocks(initialState(), block1)))).toBe(
            '85e655d6417a17953363376a624cde5c76e09589cac5f811cc4b32c1f20e533a'
        );
    });

    it('initial state is the FIPS 180-4 §5.3.3 IV', () => {
        expect(hex(chainingValue(initialState()))).toBe('6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19');
        expect(initialState().length).toBe(0);
    });
});

describe('random data against node:crypto', () => {
    it('every length 0..200', () => {
        const next = prng(1);
        for (let n = 0; n <= 200; n++) {
            const m = randomBytes(next, n);
            expect(hex(sha256(m)), `length ${n}`).toBe(nodeHex(m));
        }
    });

    it('lengths around block and padding boundaries, and large sizes up to 1 MiB + 7', () => {
        const next = prng(2);
        const sizes = [255, 256, 257, 1000, 4095, 4096, 4097, 65_535, 65_536, 65_537, 100_003, (1 << 20) - 1, 1 << 20, (1 << 20) + 7];
        for (const n of sizes) {
            const m = randomBytes(next, n);
            expect(hex(sha256(m)), `length ${n}`).toBe(nodeHex(m));
        }
    });

    it('bytes with all bit patterns (0x00, 0xff, 0x80) hash right', () => {
        for (const fill of [0x00, 0xff, 0x80, 0x7f]) {
            for (const n of [55, 56, 64, 1000]) {
                const m = new Uint8Array(n).fill(fill);
                expect(hex(sha256(m))).toBe(nodeHex(m));
            }
        }
    });

    it('streaming with random update sizes (including 0 and > 64) equals node:crypto', () => {
        const next = prng(3);
        for (let trial = 0; trial < 40; trial++) {
            const m = randomBytes(next, below(next, 5000));
            const s = new Sha256();
            let pos = 0;
            while (pos < m.length) {
                const k = below(next, 4) === 0 ? below(next, 300) : below(next, 70);
                s.update(m.subarray(pos, pos + k));
                pos += k;
            }
            expect(s.length).toBe(m.length);
            expect(hex(s.digest())).toBe(nodeHex(m));
        }
    });

    it('works on subarrays with a non-zero byteOffset and on Buffers', () => {
        const next = prng(4);
        const big = randomBytes(next, 1000);
        for (const [start, end] of [[1, 1], [3, 200], [17, 999], [64, 192]]) {
            const view = big.subarray(start, end);
            expect(hex(sha256(view))).toBe(nodeHex(view));
            const st = absorbBlocks(initialState(), big.subarray(start, start + 128));
            expect(hex(finalize(st, big.subarray(start + 128, end + 128)))).toBe(nodeHex(big.subarray(start, end + 128)));
        }
        const buf = Buffer.from('hello, buffer');
        expect(hex(sha256(buf))).toBe(nodeHex(buf));
    });

    it('accepts any Uint8Array (pooled Buffer, Buffer.subarray, view at any offset), never modifies it, and equals node:crypto', () => {
        const next = prng(41);
        const lengths = [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 191, 1000, 4096 + 13];
        const offsets = [0, 1, 2, 3, 5, 63, 64, 100];
        for (const length of lengths) {
            for (const offset of offsets) {
                const source = randomBytes(next, offset + length + 7);
                const kinds: [string, Uint8Array][] = [
                    // Buffer.from(array) of a small length lands in Node's shared 8 KiB pool, at any byteOffset.
                    ['pooled Buffer', Buffer.from(source.subarray(offset, offset + length))],
                    ['Buffer.subarray', Buffer.from(source).subarray(offset, offset + length)],
                    ['view at an offset', new Uint8Array(source.buffer, offset, length)],
                    ['subarray', source.subarray(offset, offset + length)]
                ];
                for (const [kind, input] of kinds) {
                    const before = Uint8Array.from(input);
                    const backing = new Uint8Array(input.buffer).slice();
                    const expected = nodeHex(before);
                    const label = `${kind}, length ${length}, offset ${offset}`;
                    expect(hex(sha256(input)), label).toBe(expected);
                    const streamed = new Sha256();
                    for (let i = 0; i < input.length; i += 61) streamed.update(input.subarray(i, i + 61));
                    expect(hex(streamed.digest()), label).toBe(expected);
                    expect(hex(new Sha256().update(input).digest()), label).toBe(expected);
                    const whole = input.length - (input.length % 64);
                    expect(hex(finalize(absorbBlocks(initialState(), input.subarray(0, whole)), input.subarray(whole))), label).toBe(expected);
                    expect(Array.from(input), `${label}: input unchanged`).toEqual(Array.from(before));
                    expect(Array.from(new Uint8Array(input.buffer)), `${label}: backing store unchanged`).toEqual(Array.from(backing));
                }
            }
        }
    });

    it('digest() does not change the hasher, and update may go on', () => {
        const m = randomBytes(prng(5), 300);
        const s = new Sha256().update(m.subarray(0, 100));
        expect(hex(s.digest())).toBe(nodeHex(m.subarray(0, 100)));
        expect(hex(s.digest())).toBe(nodeHex(m.subarray(0, 100)));
        s.update(m.subarray(100));
        expect(hex(s.digest())).toBe(nodeHex(m));
    });
});

describe('chaining state', () => {
    it('absorbBlocks in arbitrary 64-multiple pieces with encode/decode round trips + finalize equals one-shot', () => {
        const next = prng(6);
        for (let trial = 0; trial < 30; trial++) {
            const m = randomBytes(next, below(next, 20_000));
            const expected = nodeHex(m);
            const cut = m.length - (m.length % 64) - 64 * below(next, 3); // leave 0..2 whole blocks (plus the rest) to finalize
            let state = initialState();
            let pos = 0;
            while (pos < Math.max(cut, 0)) {
                const k = Math.min(64 * below(next, 40), cut - pos); // pieces of 0..39 blocks
                state = absorbBlocks(state, m.subarray(pos, pos + k));
                pos += k;
                const encoded = encodeState(state);
                expect(encoded.length).toBe(SHA256_STATE_BYTES);
                const decoded = decodeState(encoded);
                sameState(decoded, state);
                state = decoded;
            }
            expect(state.length).toBe(pos);
            expect(hex(finalize(state, m.subarray(pos)))).toBe(expected);
        }
    });

    it('absorbBlocks and finalize do not modify their input state', () => {
        const m = randomBytes(prng(7), 256);
        const s0 = initialState();
        const s1 = absorbBlocks(s0, m.subarray(0, 128));
        sameState(s0, initialState());
        const h1 = Array.from(s1.h);
        finalize(s1, m.subarray(128));
        expect(Array.from(s1.h)).toEqual(h1);
        expect(s1.length).toBe(128);
        expect(s1.h).not.toBe(s0.h);
    });

    it('absorbing an empty piece is the identity', () => {
        const s = absorbBlocks(initialState(), randomBytes(prng(8), 64));
        sameState(absorbBlocks(s, new Uint8Array(0)), s);
    });

    it('finalize with a long tail absorbs its whole blocks first', () => {
        const m = randomBytes(prng(9), 64 * 5 + 1000);
        const s = absorbBlocks(initialState(), m.subarray(0, 320));
        expect(hex(finalize(s, m.subarray(320)))).toBe(nodeHex(m));
        expect(hex(finalize(s))).toBe(nodeHex(m.subarray(0, 320)));
    });

    it('finalize encodes large total lengths (>= 2^29 bytes, i.e. >= 2^32 bits) in the padding', () => {
        const next = prng(13);
        const h = Uint32Array.from({ length: 8 }, () => next());
        for (const length of [2 ** 29 - 64, 2 ** 29, 2 ** 32, 2 ** 32 + 64, 2 ** 40 + 3 * 64, 2 ** 52, Number.MAX_SAFE_INTEGER - 63 - 128]) {
            for (const n of [0, 3, 55, 56, 63, 64, 100]) {
                const tail = randomBytes(next, n);
                const state = { h, length };
                const expected = chainingValue(absorbBlocks(state, padded(tail, length)));
                expect(hex(finalize(state, tail)), `length ${length} + ${n}`).toBe(hex(expected));
                expect(hex(new Sha256(state).update(tail).digest())).toBe(hex(expected));
            }
        }
    });

    it('encodeState layout: H big-endian, then the byte count as a u64 big-endian', () => {
        const enc = encodeState(initialState());
        expect(hex(enc)).toBe('6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19' + '0000000000000000');
        const h = Uint32Array.from([0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x01020304, 0xdeadbeef, 0xcafebabe]);
        for (const length of [64, 2 ** 32, 2 ** 32 + 64, 2 ** 40 + 2 ** 33 + 128, Number.MAX_SAFE_INTEGER - 63]) {
            const bytes = encodeState({ h, length });
            expect(hex(bytes.subarray(0, 32))).toBe('00000000' + '00000001' + '7fffffff' + '80000000' + 'ffffffff' + '01020304' + 'deadbeef' + 'cafebabe');
            expect(hex(bytes.subarray(32))).toBe(BigInt(length).toString(16).padStart(16, '0'));
            const back = decodeState(bytes);
            expect(back.h).toBeInstanceOf(Uint32Array);
            sameState(back, { h, length });
        }
    });

    it('a decoded state continues hashing like the original (a large stated length changes the padding)', () => {
        const m = randomBytes(prng(10), 200);
        const s = absorbBlocks(initialState(), m.subarray(0, 128));
        expect(hex(finalize(decodeState(encodeState(s)), m.subarray(128)))).toBe(nodeHex(m));
        // same H with another absorbed length is another message's state: the length field matters
        const other = decodeState(encodeState({ h: s.h, length: 2 ** 40 }));
        expect(hex(finalize(other, m.subarray(128)))).not.toBe(nodeHex(m));
    });
});

describe('checkpoints', () => {
    it('Sha256.checkpoint() after each chunk equals chainingValue of the absorbBlocks state, and state() equals that state', () => {
        const next = prng(11);
        const chunk = 64 * 37;
        const m = randomBytes(next, chunk * 6 + 123);
        const hasher = new Sha256();
        let state = initialState();
        let pos = 0;
        for (; pos + chunk <= m.length; pos += chunk) {
            // feed the chunk in odd pieces: checkpoints must not depend on update boundaries
            for (let i = pos; i < pos + chunk; i += 100) hasher.update(m.subarray(i, Math.min(i + 100, pos + chunk)));
            state = absorbBlocks(state, m.subarray(pos, pos + chunk));
            expect(hex(hasher.checkpoint())).toBe(hex(chainingValue(state)));
            sameState(hasher.state(), state);
            expect(hasher.length).toBe(pos + chunk);
        }
        hasher.update(m.subarray(pos));
        expect(hex(hasher.digest())).toBe(nodeHex(m));
        expect(hex(finalize(state, m.subarray(pos)))).toBe(nodeHex(m));
    });

    it('a Sha256 resumed from a state finishes the same digest', () => {
        const m = randomBytes(prng(12), 1000);
        const st = absorbBlocks(initialState(), m.subarray(0, 640));
        const resumed = new Sha256(decodeState(encodeState(st)));
        expect(resumed.length).toBe(640);
        expect(hex(resumed.checkpoint())).toBe(hex(chainingValue(st)));
        expect(hex(resumed.update(m.subarray(640)).digest())).toBe(nodeHex(m));
    });

    it('state() returns a copy', () => {
        const s = new Sha256().update(new Uint8Array(64));
        const st = s.state();
        st.h[0] = 0;
        expect(s.state().h[0]).not.toBe(0);
    });

    it('checkpoint() of a fresh hasher is the IV', () => {
        expect(hex(new Sha256().checkpoint())).toBe(hex(chainingValue(initialState())));
    });
});

describe('errors', () => {
    it('absorbBlocks rejects a length that is not a multiple of 64', () => {
        for (const n of [1, 63, 65, 127, 1000]) {
            expect(() => absorbBlocks(initialState(), new Uint8Array(n))).toThrow(/multiple of 64/);
        }
    });

    it('checkpoint() and state() reject a hasher that is not at a block boundary', () => {
        const s = new Sha256().update(new Uint8Array(65));
        expect(() => s.checkpoint()).toThrow(/multiple of 64/);
        expect(() => s.state()).toThrow(/multiple of 64/);
        s.update(new Uint8Array(63));
        expect(() => s.checkpoint()).not.toThrow();
    });

    it('decodeState rejects bad bytes', () => {
        for (const n of [0, 32, 39, 41, 64]) expect(() => decodeState(new Uint8Array(n))).toThrow(/40 bytes/);
        const good = encodeState(absorbBlocks(initialState(), new Uint8Array(64)));
        const misaligned = good.slice();
        misaligned[39] = 65;
        expect(() => decodeState(misaligned)).toThrow(/not a multiple of 64/);
        const tooLong = good.slice();
        tooLong[32] = 0x01; // 2^56 + 64 bytes: beyond 2^53 - 1
        expect(() => decodeState(tooLong)).toThrow(/exceeds 2\^53/);
        expect(() => decodeState('x'.repeat(40) as unknown as Uint8Array)).toThrow(/Uint8Array/);
    });

    it('functions taking a state reject an invalid one', () => {
        const bad: Sha256State[] = [
            { h: new Uint32Array(7), length: 0 },
            { h: new Int32Array(8) as unknown as Uint32Array, length: 0 },
            { h: initialState().h, length: 65 },
            { h: initialState().h, length: -64 },
            { h: initialState().h, length: 64.5 },
            { h: initialState().h, length: Number.NaN }
        ];
        for (const s of bad) {
            expect(() => absorbBlocks(s, new Uint8Array(64))).toThrow(/state/);
            expect(() => finalize(s, new Uint8Array(0))).toThrow(/state/);
            expect(() => encodeState(s)).toThrow(/state/);
            expect(() => chainingValue(s)).toThrow(/state/);
            expect(() => new Sha256(s)).toThrow(/state/);
        }
    });

    it('non-Uint8Array input is rejected', () => {
        const notBytes = [1, 2, 3] as unknown as Uint8Array;
        expect(() => sha256(notBytes)).toThrow(/Uint8Array/);
        expect(() => new Sha256().update(notBytes)).toThrow(/Uint8Array/);
        expect(() => absorbBlocks(initialState(), notBytes)).toThrow(/Uint8Array/);
        expect(() => finalize(initialState(), notBytes)).toThrow(/Uint8Array/);
    });
});

describe('toHex', () => {
    it('lower-case, two digits a byte', () => {
        expect(toHex(new Uint8Array([0, 1, 0x0f, 0x10, 0xab, 0xff]))).toBe('00010f10abff');
        expect(toHex(new Uint8Array(0))).toBe('');
    });
});
