/**
 * SHA-256 (FIPS 180-4) with an explicit, serializable chaining state, and no dependencies.
 *
 * One implementation for the three places that hash: the bucket canister (Azle, i.e. QuickJS-ng
 * interpreted inside a Wasm canister, where every bytecode is paid for in instructions), the index
 * canister, and the Node/browser client.
 *
 * The chaining state between blocks is {@link Sha256State}: the eight 32-bit words H0..H7 and the number
 * of bytes absorbed so far (a multiple of 64). It serializes to 40 bytes ({@link encodeState}), so the
 * hashing of one file can be split across many messages and canisters: the index keeps the state,
 * the bucket runs {@link absorbBlocks} over each chunk (a multiple of 64 bytes except the last), and
 * {@link finalize} absorbs the last chunk, pads and returns the digest. {@link chainingValue} is the
 * per-chunk "checkpoint" a client computes with {@link Sha256.checkpoint}.
 *
 * Performance notes (the block function {@link compress} is the only hot code):
 * - QuickJS stores a number as a tagged int32 when it fits, else as a float64, and its fast paths for
 *   `+ & | ^ << >>>` are for int32 operands. So all words are kept *signed* int32: the working state is
 *   an Int32Array, sums end with `| 0`, and constants are written as signed literals (`- 1245643825`
 *   rather than `+ 0xb5c0fbcf`, which would be a float). `x >>> n` with n > 0 is always below 2^31,
 *   hence an int32 too. Public values (Sha256State.h) are Uint32Array, converted once per call.
 * - The 64 rounds are fully unrolled with the eight working variables *renamed* from round to round
 *   instead of shifted (no `h = g; g = f; ...` moves), and the round constants are inline literals
 *   (no table lookup).
 * - The message schedule lives in 16 local variables w0..w15 used as a ring (W[r] is w{r & 15}), computed
 *   just before the round that uses it: a local variable read is one bytecode, while a typed-array
 *   element costs several plus a bounds check, and nothing at all is allocated per block or per call.
 * - Working variables and schedule words are `var`, not `let`: QuickJS checks a `let` for its temporal
 *   dead zone at every read inside the loop (`get_loc_check`), `var` reads are plain (-8.6% measured).
 * - Big-endian words come from one native `slice().reverse()` of a copy of the input: reversed, each big-endian word
 *   is a little-endian word (in reverse word order), read from an Int32Array in one step instead of four
 *   byte reads, three shifts and three ORs (-4.5%). Typed arrays use the host's byte order: little-endian
 *   in Wasm and on every JS host we know of; a big-endian host is refused at load.
 * - Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)) with a ^ b kept for the next round, where it is b ^ c, and `t`
 *   assigned inside the `d` update (-0.8%). Keeping partial sums int32 with more `| 0` costs more bytecodes
 *   than QuickJS's float path saves (+2.2%), as does dropping `| 0` from `t` (+4.8%).
 * Measured in the replica (Wasm instructions, IC metering, `npm run bench`): ~8,600 instructions per byte,
 * under a third of `@noble/hashes` (~26,000) in the same canister; the previous version of this file
 * (`let`, byte reads) took ~9,900.
 */

/** Chaining state between 64-byte blocks: H0..H7 and the number of bytes absorbed so far. */
export interface Sha256State {
    /** H0..H7, length 8. */
    h: Uint32Array;
    /** Bytes absorbed so far: a multiple of 64 between calls of update. */
    length: number;
}

/** Size of an {@link encodeState} encoding: 8 × 4 bytes of H, then the byte count as a u64, big-endian. */
export const SHA256_STATE_BYTES = 40;
export const SHA256_BLOCK_BYTES = 64;
export const SHA256_DIGEST_BYTES = 32;

if (new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1) {
    // compress reads big-endian words through a little-endian Int32Array view of the reversed input.
    throw new Error('sha256: this implementation needs a little-endian host');
}

/** FIPS 180-4 §5.3.3 initial hash value. */
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/**
 * Processes the 64-byte blocks p[pos..end) into H (H0..H7 as signed int32, updated in place).
 * (end - pos) must be a multiple of 64; callers check.
 *
 * Round r (0 ≤ r < 64), in the FIPS 180-4 names, is
 *     W[r] = r < 16 ? big-endian word r of the block : σ1(W[r-2]) + W[r-7] + σ0(W[r-15]) + W[r-16]
 *     t    = h + Σ1(e) + Ch(e, f, g) + K[r] + W[r]
 *     d   += t
 *     h    = t + Σ0(a) + Maj(a, b, c)
 * after which the names rotate (round r+1's a is this round's h, its b this a, ... its h this g), so
 * round r uses the variable names shifted by r mod 8. W[r] is the local w{r mod 16}: W[r-16] is the slot
 * being overwritten. Ch(e, f, g) = g ^ (e & (f ^ g)) and Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)) (a ^ b is
 * kept in x0/x1 for the next round); rotr(x, n) = (x >>> n) | (x << (32 - n)). The block's words are
 * W[q], W[q - 1], ... of the reversed input (see the notes at the top).
 */
function compress(H: Int32Array, p: Uint8Array, pos: number, end: number): void {
    var a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7], t = 0;
    var w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0, w7 = 0;
    var x0 = 0, x1 = 0;
    var w8 = 0, w9 = 0, w10 = 0, w11 = 0, w12 = 0, w13 = 0, w14 = 0, w15 = 0;
    // Big-endian words without byte arithmetic: reversing the bytes (natively) turns each big-endian
    // word into a little-endian one, in reverse word order; Wasm and typed arrays are little-endian.
    // The copy is taken through a plain Uint8Array view of exactly [pos, end): `p` may be a Node Buffer
    // (whose slice() is a view, so reverse() would scramble the caller's bytes) or a view at any offset of
    // a larger store (whose .buffer is that whole store); slice() of a plain view is a fresh array.
    const W = new Int32Array(new Uint8Array(p.buffer, p.byteOffset + pos, end - pos).slice().reverse().buffer);
    var q = W.length - 1;
    while (q >= 0) {
        x1 = b ^ c;
        // rounds 0..7
        w0 = W[q];
        d = d + (t = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) + 1116352408 + w0 | 0) | 0; // K[0] = 0x428a2f98
        h = t + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + (b ^ (x0 = a ^ b) & x1) | 0;
        w1 = W[q - 1];
        c = c + (t = g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + (f ^ (d & (e ^ f))) + 1899447441 + w1 | 0) | 0; // K[1] = 0x71374491
        g = t + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + (a ^ (x1 = h ^ a) & x0) | 0;
        w2 = W[q - 2];
        b = b + (t = f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + (e ^ (c & (d ^ e))) - 1245643825 + w2 | 0) | 0; // K[2] = 0xb5c0fbcf
        f = t + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + (h ^ (x0 = g ^ h) & x1) | 0;
        w3 = W[q - 3];
        a = a + (t = e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + (d ^ (b & (c ^ d))) - 373957723 + w3 | 0) | 0; // K[3] = 0xe9b5dba5
        e = t + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + (g ^ (x1 = f ^ g) & x0) | 0;
        w4 = W[q - 4];
        h = h + (t = d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + (c ^ (a & (b ^ c))) + 961987163 + w4 | 0) | 0; // K[4] = 0x3956c25b
        d = t + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + (f ^ (x0 = e ^ f) & x1) | 0;
        w5 = W[q - 5];
        g = g + (t = c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (b ^ (h & (a ^ b))) + 1508970993 + w5 | 0) | 0; // K[5] = 0x59f111f1
        c = t + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + (e ^ (x1 = d ^ e) & x0) | 0;
        w6 = W[q - 6];
        f = f + (t = b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + (a ^ (g & (h ^ a))) - 1841331548 + w6 | 0) | 0; // K[6] = 0x923f82a4
        b = t + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + (d ^ (x0 = c ^ d) & x1) | 0;
        w7 = W[q - 7];
        e = e + (t = a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + (h ^ (f & (g ^ h))) - 1424204075 + w7 | 0) | 0; // K[7] = 0xab1c5ed5
        a = t + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + (c ^ (x1 = b ^ c) & x0) | 0;
        // rounds 8..15
        w8 = W[q - 8];
        d = d + (t = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) - 670586216 + w8 | 0) | 0; // K[8] = 0xd807aa98
        h = t + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + (b ^ (x0 = a ^ b) & x1) | 0;
        w9 = W[q - 9];
        c = c + (t = g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + (f ^ (d & (e ^ f))) + 310598401 + w9 | 0) | 0; // K[9] = 0x12835b01
        g = t + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + (a ^ (x1 = h ^ a) & x0) | 0;
        w10 = W[q - 10];
        b = b + (t = f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + (e ^ (c & (d ^ e))) + 607225278 + w10 | 0) | 0; // K[10] = 0x243185be
        f = t + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + (h ^ (x0 = g ^ h) & x1) | 0;
        w11 = W[q - 11];
        a = a + (t = e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + (d ^ (b & (c ^ d))) + 1426881987 + w11 | 0) | 0; // K[11] = 0x550c7dc3
        e = t + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + (g ^ (x1 = f ^ g) & x0) | 0;
        w12 = W[q - 12];
        h = h + (t = d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + (c ^ (a & (b ^ c))) + 1925078388 + w12 | 0) | 0; // K[12] = 0x72be5d74
        d = t + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + (f ^ (x0 = e ^ f) & x1) | 0;
        w13 = W[q - 13];
        g = g + (t = c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (b ^ (h & (a ^ b))) - 2132889090 + w13 | 0) | 0; // K[13] = 0x80deb1fe
        c = t + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + (e ^ (x1 = d ^ e) & x0) | 0;
        w14 = W[q - 14];
        f = f + (t = b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + (a ^ (g & (h ^ a))) - 1680079193 + w14 | 0) | 0; // K[14] = 0x9bdc06a7
        b = t + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + (d ^ (x0 = c ^ d) & x1) | 0;
        w15 = W[q - 15];
        e = e + (t = a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + (h ^ (f & (g ^ h))) - 1046744716 + w15 | 0) | 0; // K[15] = 0xc19bf174
        a = t + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + (c ^ (x1 = b ^ c) & x0) | 0;
        // rounds 16..23
        w0 = (((w14 >>> 17) | (w14 << 15)) ^ ((w14 >>> 19) | (w14 << 13)) ^ (w14 >>> 10)) + w9 + (((w1 >>> 7) | (w1 << 25)) ^ ((w1 >>> 18) | (w1 << 14)) ^ (w1 >>> 3)) + w0 | 0;
        d = d + (t = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) - 459576895 + w0 | 0) | 0; // K[16] = 0xe49b69c1
        h = t + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + (b ^ (x0 = a ^ b) & x1) | 0;
        w1 = (((w15 >>> 17) | (w15 << 15)) ^ ((w15 >>> 19) | (w15 << 13)) ^ (w15 >>> 10)) + w10 + (((w2 >>> 7) | (w2 << 25)) ^ ((w2 >>> 18) | (w2 << 14)) ^ (w2 >>> 3)) + w1 | 0;
        c = c + (t = g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + (f ^ (d & (e ^ f))) - 272742522 + w1 | 0) | 0; // K[17] = 0xefbe4786
        g = t + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + (a ^ (x1 = h ^ a) & x0) | 0;
        w2 = (((w0 >>> 17) | (w0 << 15)) ^ ((w0 >>> 19) | (w0 << 13)) ^ (w0 >>> 10)) + w11 + (((w3 >>> 7) | (w3 << 25)) ^ ((w3 >>> 18) | (w3 << 14)) ^ (w3 >>> 3)) + w2 | 0;
        b = b + (t = f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + (e ^ (c & (d ^ e))) + 264347078 + w2 | 0) | 0; // K[18] = 0x0fc19dc6
        f = t + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + (h ^ (x0 = g ^ h) & x1) | 0;
        w3 = (((w1 >>> 17) | (w1 << 15)) ^ ((w1 >>> 19) | (w1 << 13)) ^ (w1 >>> 10)) + w12 + (((w4 >>> 7) | (w4 << 25)) ^ ((w4 >>> 18) | (w4 << 14)) ^ (w4 >>> 3)) + w3 | 0;
        a = a + (t = e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + (d ^ (b & (c ^ d))) + 604807628 + w3 | 0) | 0; // K[19] = 0x240ca1cc
        e = t + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + (g ^ (x1 = f ^ g) & x0) | 0;
        w4 = (((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10)) + w13 + (((w5 >>> 7) | (w5 << 25)) ^ ((w5 >>> 18) | (w5 << 14)) ^ (w5 >>> 3)) + w4 | 0;
        h = h + (t = d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + (c ^ (a & (b ^ c))) + 770255983 + w4 | 0) | 0; // K[20] = 0x2de92c6f
        d = t + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + (f ^ (x0 = e ^ f) & x1) | 0;
        w5 = (((w3 >>> 17) | (w3 << 15)) ^ ((w3 >>> 19) | (w3 << 13)) ^ (w3 >>> 10)) + w14 + (((w6 >>> 7) | (w6 << 25)) ^ ((w6 >>> 18) | (w6 << 14)) ^ (w6 >>> 3)) + w5 | 0;
        g = g + (t = c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (b ^ (h & (a ^ b))) + 1249150122 + w5 | 0) | 0; // K[21] = 0x4a7484aa
        c = t + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + (e ^ (x1 = d ^ e) & x0) | 0;
        w6 = (((w4 >>> 17) | (w4 << 15)) ^ ((w4 >>> 19) | (w4 << 13)) ^ (w4 >>> 10)) + w15 + (((w7 >>> 7) | (w7 << 25)) ^ ((w7 >>> 18) | (w7 << 14)) ^ (w7 >>> 3)) + w6 | 0;
        f = f + (t = b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + (a ^ (g & (h ^ a))) + 1555081692 + w6 | 0) | 0; // K[22] = 0x5cb0a9dc
        b = t + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + (d ^ (x0 = c ^ d) & x1) | 0;
        w7 = (((w5 >>> 17) | (w5 << 15)) ^ ((w5 >>> 19) | (w5 << 13)) ^ (w5 >>> 10)) + w0 + (((w8 >>> 7) | (w8 << 25)) ^ ((w8 >>> 18) | (w8 << 14)) ^ (w8 >>> 3)) + w7 | 0;
        e = e + (t = a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + (h ^ (f & (g ^ h))) + 1996064986 + w7 | 0) | 0; // K[23] = 0x76f988da
        a = t + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + (c ^ (x1 = b ^ c) & x0) | 0;
        // rounds 24..31
        w8 = (((w6 >>> 17) | (w6 << 15)) ^ ((w6 >>> 19) | (w6 << 13)) ^ (w6 >>> 10)) + w1 + (((w9 >>> 7) | (w9 << 25)) ^ ((w9 >>> 18) | (w9 << 14)) ^ (w9 >>> 3)) + w8 | 0;
        d = d + (t = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) - 1740746414 + w8 | 0) | 0; // K[24] = 0x983e5152
        h = t + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + (b ^ (x0 = a ^ b) & x1) | 0;
        w9 = (((w7 >>> 17) | (w7 << 15)) ^ ((w7 >>> 19) | (w7 << 13)) ^ (w7 >>> 10)) + w2 + (((w10 >>> 7) | (w10 << 25)) ^ ((w10 >>> 18) | (w10 << 14)) ^ (w10 >>> 3)) + w9 | 0;
        c = c + (t = g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + (f ^ (d & (e ^ f))) - 1473132947 + w9 | 0) | 0; // K[25] = 0xa831c66d
        g = t + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + (a ^ (x1 = h ^ a) & x0) | 0;
        w10 = (((w8 >>> 17) | (w8 << 15)) ^ ((w8 >>> 19) | (w8 << 13)) ^ (w8 >>> 10)) + w3 + (((w11 >>> 7) | (w11 << 25)) ^ ((w11 >>> 18) | (w11 << 14)) ^ (w11 >>> 3)) + w10 | 0;
        b = b + (t = f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + (e ^ (c & (d ^ e))) - 1341970488 + w10 | 0) | 0; // K[26] = 0xb00327c8
        f = t + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + (h ^ (x0 = g ^ h) & x1) | 0;
        w11 = (((w9 >>> 17) | (w9 << 15)) ^ ((w9 >>> 19) | (w9 << 13)) ^ (w9 >>> 10)) + w4 + (((w12 >>> 7) | (w12 << 25)) ^ ((w12 >>> 18) | (w12 << 14)) ^ (w12 >>> 3)) + w11 | 0;
        a = a + (t = e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + (d ^ (b & (c ^ d))) - 1084653625 + w11 | 0) | 0; // K[27] = 0xbf597fc7
        e = t + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + (g ^ (x1 = f ^ g) & x0) | 0;
        w12 = (((w10 >>> 17) | (w10 << 15)) ^ ((w10 >>> 19) | (w10 << 13)) ^ (w10 >>> 10)) + w5 + (((w13 >>> 7) | (w13 << 25)) ^ ((w13 >>> 18) | (w13 << 14)) ^ (w13 >>> 3)) + w12 | 0;
        h = h + (t = d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + (c ^ (a & (b ^ c))) - 958395405 + w12 | 0) | 0; // K[28] = 0xc6e00bf3
        d = t + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + (f ^ (x0 = e ^ f) & x1) | 0;
        w13 = (((w11 >>> 17) | (w11 << 15)) ^ ((w11 >>> 19) | (w11 << 13)) ^ (w11 >>> 10)) + w6 + (((w14 >>> 7) | (w14 << 25)) ^ ((w14 >>> 18) | (w14 << 14)) ^ (w14 >>> 3)) + w13 | 0;
        g = g + (t = c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (b ^ (h & (a ^ b))) - 710438585 + w13 | 0) | 0; // K[29] = 0xd5a79147
        c = t + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + (e ^ (x1 = d ^ e) & x0) | 0;
        w14 = (((w12 >>> 17) | (w12 << 15)) ^ ((w12 >>> 19) | (w12 << 13)) ^ (w12 >>> 10)) + w7 + (((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)) + w14 | 0;
        f = f + (t = b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + (a ^ (g & (h ^ a))) + 113926993 + w14 | 0) | 0; // K[30] = 0x06ca6351
        b = t + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + (d ^ (x0 = c ^ d) & x1) | 0;
        w15 = (((w13 >>> 17) | (w13 << 15)) ^ ((w13 >>> 19) | (w13 << 13)) ^ (w13 >>> 10)) + w8 + (((w0 >>> 7) | (w0 << 25)) ^ ((w0 >>> 18) | (w0 << 14)) ^ (w0 >>> 3)) + w15 | 0;
        e = e + (t = a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + (h ^ (f & (g ^ h))) + 338241895 + w15 | 0) | 0; // K[31] = 0x14292967
        a = t + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + (c ^ (x1 = b ^ c) & x0) | 0;
        // rounds 32..39
        w0 = (((w14 >>> 17) | (w14 << 15)) ^ ((w14 >>> 19) | (w14 << 13)) ^ (w14 >>> 10)) + w9 + (((w1 >>> 7) | (w1 << 25)) ^ ((w1 >>> 18) | (w1 << 14)) ^ (w1 >>> 3)) + w0 | 0;
        d = d + (t = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) + 666307205 + w0 | 0) | 0; // K[32] = 0x27b70a85
        h = t + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + (b ^ (x0 = a ^ b) & x1) | 0;
        w1 = (((w15 >>> 17) | (w15 << 15)) ^ ((w15 >>> 19) | (w15 << 13)) ^ (w15 >>> 10)) + w10 + (((w2 >>> 7) | (w2 << 25)) ^ ((w2 >>> 18) | (w2 << 14)) ^ (w2 >>> 3)) + w1 | 0;
        c = c + (t = g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + (f ^ (d & (e ^ f))) + 773529912 + w1 | 0) | 0; // K[33] = 0x2e1b2138
        g = t + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + (a ^ (x1 = h ^ a) & x0) | 0;
        w2 = (((w0 >>> 17) | (w0 << 15)) ^ ((w0 >>> 19) | (w0 << 13)) ^ (w0 >>> 10)) + w11 + (((w3 >>> 7) | (w3 << 25)) ^ ((w3 >>> 18) | (w3 << 14)) ^ (w3 >>> 3)) + w2 | 0;
        b = b + (t = f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + (e ^ (c & (d ^ e))) + 1294757372 + w2 | 0) | 0; // K[34] = 0x4d2c6dfc
        f = t + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + (h ^ (x0 = g ^ h) & x1) | 0;
        w3 = (((w1 >>> 17) | (w1 << 15)) ^ ((w1 >>> 19) | (w1 << 13)) ^ (w1 >>> 10)) + w12 + (((w4 >>> 7) | (w4 << 25)) ^ ((w4 >>> 18) | (w4 << 14)) ^ (w4 >>> 3)) + w3 | 0;
        a = a + (t = e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + (d ^ (b & (c ^ d))) + 1396182291 + w3 | 0) | 0; // K[35] = 0x53380d13
        e = t + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + (g ^ (x1 = f ^ g) & x0) | 0;
        w4 = (((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10)) + w13 + (((w5 >>> 7) | (w5 << 25)) ^ ((w5 >>> 18) | (w5 << 14)) ^ (w5 >>> 3)) + w4 | 0;
        h = h + (t = d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + (c ^ (a & (b ^ c))) + 1695183700 + w4 | 0) | 0; // K[36] = 0x650a7354
        d = t + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + (f ^ (x0 = e ^ f) & x1) | 0;
        w5 = (((w3 >>> 17) | (w3 << 15)) ^ ((w3 >>> 19) | (w3 << 13)) ^ (w3 >>> 10)) + w14 + (((w6 >>> 7) | (w6 << 25)) ^ ((w6 >>> 18) | (w6 << 14)) ^ (w6 >>> 3)) + w5 | 0;
        g = g + (t = c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (b ^ (h & (a ^ b))) + 1986661051 + w5 | 0) | 0; // K[37] = 0x766a0abb
        c = t + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + (e ^ (x1 = d ^ e) & x0) | 0;
        w6 = (((w4 >>> 17) | (w4 << 15)) ^ ((w4 >>> 19) | (w4 << 13)) ^ (w4 >>> 10)) + w15 + (((w7 >>> 7) | (w7 << 25)) ^ ((w7 >>> 18) | (w7 << 14)) ^ (w7 >>> 3)) + w6 | 0;
        f = f + (t = b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + (a ^ (g & (h ^ a))) - 2117940946 + w6 | 0) | 0; // K[38] = 0x81c2c92e
        b = t + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + (d ^ (x0 = c ^ d) & x1) | 0;
        w7 = (((w5 >>> 17) | (w5 << 15)) ^ ((w5 >>> 19) | (w5 << 13)) ^ (w5 >>> 10)) + w0 + (((w8 >>> 7) | (w8 << 25)) ^ ((w8 >>> 18) | (w8 << 14)) ^ (w8 >>> 3)) + w7 | 0;
        e = e + (t = a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + (h ^ (f & (g ^ h))) - 1838011259 + w7 | 0) | 0; // K[39] = 0x92722c85
        a = t + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + (c ^ (x1 = b ^ c) & x0) | 0;
        // rounds 40..47
        w8 = (((w6 >>> 17) | (w6 << 15)) ^ ((w6 >>> 19) | (w6 << 13)) ^ (w6 >>> 10)) + w1 + (((w9 >>> 7) | (w9 << 25)) ^ ((w9 >>> 18) | (w9 << 14)) ^ (w9 >>> 3)) + w8 | 0;
        d = d + (t = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) - 1564481375 + w8 | 0) | 0; // K[40] = 0xa2bfe8a1
        h = t + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + (b ^ (x0 = a ^ b) & x1) | 0;
        w9 = (((w7 >>> 17) | (w7 << 15)) ^ ((w7 >>> 19) | (w7 << 13)) ^ (w7 >>> 10)) + w2 + (((w10 >>> 7) | (w10 << 25)) ^ ((w10 >>> 18) | (w10 << 14)) ^ (w10 >>> 3)) + w9 | 0;
        c = c + (t = g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + (f ^ (d & (e ^ f))) - 1474664885 + w9 | 0) | 0; // K[41] = 0xa81a664b
        g = t + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + (a ^ (x1 = h ^ a) & x0) | 0;
        w10 = (((w8 >>> 17) | (w8 << 15)) ^ ((w8 >>> 19) | (w8 << 13)) ^ (w8 >>> 10)) + w3 + (((w11 >>> 7) | (w11 << 25)) ^ ((w11 >>> 18) | (w11 << 14)) ^ (w11 >>> 3)) + w10 | 0;
        b = b + (t = f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + (e ^ (c & (d ^ e))) - 1035236496 + w10 | 0) | 0; // K[42] = 0xc24b8b70
        f = t + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + (h ^ (x0 = g ^ h) & x1) | 0;
        w11 = (((w9 >>> 17) | (w9 << 15)) ^ ((w9 >>> 19) | (w9 << 13)) ^ (w9 >>> 10)) + w4 + (((w12 >>> 7) | (w12 << 25)) ^ ((w12 >>> 18) | (w12 << 14)) ^ (w12 >>> 3)) + w11 | 0;
        a = a + (t = e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + (d ^ (b & (c ^ d))) - 949202525 + w11 | 0) | 0; // K[43] = 0xc76c51a3
        e = t + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + (g ^ (x1 = f ^ g) & x0) | 0;
        w12 = (((w10 >>> 17) | (w10 << 15)) ^ ((w10 >>> 19) | (w10 << 13)) ^ (w10 >>> 10)) + w5 + (((w13 >>> 7) | (w13 << 25)) ^ ((w13 >>> 18) | (w13 << 14)) ^ (w13 >>> 3)) + w12 | 0;
        h = h + (t = d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + (c ^ (a & (b ^ c))) - 778901479 + w12 | 0) | 0; // K[44] = 0xd192e819
        d = t + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + (f ^ (x0 = e ^ f) & x1) | 0;
        w13 = (((w11 >>> 17) | (w11 << 15)) ^ ((w11 >>> 19) | (w11 << 13)) ^ (w11 >>> 10)) + w6 + (((w14 >>> 7) | (w14 << 25)) ^ ((w14 >>> 18) | (w14 << 14)) ^ (w14 >>> 3)) + w13 | 0;
        g = g + (t = c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (b ^ (h & (a ^ b))) - 694614492 + w13 | 0) | 0; // K[45] = 0xd6990624
        c = t + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + (e ^ (x1 = d ^ e) & x0) | 0;
        w14 = (((w12 >>> 17) | (w12 << 15)) ^ ((w12 >>> 19) | (w12 << 13)) ^ (w12 >>> 10)) + w7 + (((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)) + w14 | 0;
        f = f + (t = b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + (a ^ (g & (h ^ a))) - 200395387 + w14 | 0) | 0; // K[46] = 0xf40e3585
        b = t + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + (d ^ (x0 = c ^ d) & x1) | 0;
        w15 = (((w13 >>> 17) | (w13 << 15)) ^ ((w13 >>> 19) | (w13 << 13)) ^ (w13 >>> 10)) + w8 + (((w0 >>> 7) | (w0 << 25)) ^ ((w0 >>> 18) | (w0 << 14)) ^ (w0 >>> 3)) + w15 | 0;
        e = e + (t = a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + (h ^ (f & (g ^ h))) + 275423344 + w15 | 0) | 0; // K[47] = 0x106aa070
        a = t + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + (c ^ (x1 = b ^ c) & x0) | 0;
        // rounds 48..55
        w0 = (((w14 >>> 17) | (w14 << 15)) ^ ((w14 >>> 19) | (w14 << 13)) ^ (w14 >>> 10)) + w9 + (((w1 >>> 7) | (w1 << 25)) ^ ((w1 >>> 18) | (w1 << 14)) ^ (w1 >>> 3)) + w0 | 0;
        d = d + (t = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) + 430227734 + w0 | 0) | 0; // K[48] = 0x19a4c116
        h = t + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + (b ^ (x0 = a ^ b) & x1) | 0;
        w1 = (((w15 >>> 17) | (w15 << 15)) ^ ((w15 >>> 19) | (w15 << 13)) ^ (w15 >>> 10)) + w10 + (((w2 >>> 7) | (w2 << 25)) ^ ((w2 >>> 18) | (w2 << 14)) ^ (w2 >>> 3)) + w1 | 0;
        c = c + (t = g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + (f ^ (d & (e ^ f))) + 506948616 + w1 | 0) | 0; // K[49] = 0x1e376c08
        g = t + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + (a ^ (x1 = h ^ a) & x0) | 0;
        w2 = (((w0 >>> 17) | (w0 << 15)) ^ ((w0 >>> 19) | (w0 << 13)) ^ (w0 >>> 10)) + w11 + (((w3 >>> 7) | (w3 << 25)) ^ ((w3 >>> 18) | (w3 << 14)) ^ (w3 >>> 3)) + w2 | 0;
        b = b + (t = f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + (e ^ (c & (d ^ e))) + 659060556 + w2 | 0) | 0; // K[50] = 0x2748774c
        f = t + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + (h ^ (x0 = g ^ h) & x1) | 0;
        w3 = (((w1 >>> 17) | (w1 << 15)) ^ ((w1 >>> 19) | (w1 << 13)) ^ (w1 >>> 10)) + w12 + (((w4 >>> 7) | (w4 << 25)) ^ ((w4 >>> 18) | (w4 << 14)) ^ (w4 >>> 3)) + w3 | 0;
        a = a + (t = e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + (d ^ (b & (c ^ d))) + 883997877 + w3 | 0) | 0; // K[51] = 0x34b0bcb5
        e = t + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + (g ^ (x1 = f ^ g) & x0) | 0;
        w4 = (((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10)) + w13 + (((w5 >>> 7) | (w5 << 25)) ^ ((w5 >>> 18) | (w5 << 14)) ^ (w5 >>> 3)) + w4 | 0;
        h = h + (t = d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + (c ^ (a & (b ^ c))) + 958139571 + w4 | 0) | 0; // K[52] = 0x391c0cb3
        d = t + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + (f ^ (x0 = e ^ f) & x1) | 0;
        w5 = (((w3 >>> 17) | (w3 << 15)) ^ ((w3 >>> 19) | (w3 << 13)) ^ (w3 >>> 10)) + w14 + (((w6 >>> 7) | (w6 << 25)) ^ ((w6 >>> 18) | (w6 << 14)) ^ (w6 >>> 3)) + w5 | 0;
        g = g + (t = c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (b ^ (h & (a ^ b))) + 1322822218 + w5 | 0) | 0; // K[53] = 0x4ed8aa4a
        c = t + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + (e ^ (x1 = d ^ e) & x0) | 0;
        w6 = (((w4 >>> 17) | (w4 << 15)) ^ ((w4 >>> 19) | (w4 << 13)) ^ (w4 >>> 10)) + w15 + (((w7 >>> 7) | (w7 << 25)) ^ ((w7 >>> 18) | (w7 << 14)) ^ (w7 >>> 3)) + w6 | 0;
        f = f + (t = b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + (a ^ (g & (h ^ a))) + 1537002063 + w6 | 0) | 0; // K[54] = 0x5b9cca4f
        b = t + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + (d ^ (x0 = c ^ d) & x1) | 0;
        w7 = (((w5 >>> 17) | (w5 << 15)) ^ ((w5 >>> 19) | (w5 << 13)) ^ (w5 >>> 10)) + w0 + (((w8 >>> 7) | (w8 << 25)) ^ ((w8 >>> 18) | (w8 << 14)) ^ (w8 >>> 3)) + w7 | 0;
        e = e + (t = a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + (h ^ (f & (g ^ h))) + 1747873779 + w7 | 0) | 0; // K[55] = 0x682e6ff3
        a = t + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + (c ^ (x1 = b ^ c) & x0) | 0;
        // rounds 56..63
        w8 = (((w6 >>> 17) | (w6 << 15)) ^ ((w6 >>> 19) | (w6 << 13)) ^ (w6 >>> 10)) + w1 + (((w9 >>> 7) | (w9 << 25)) ^ ((w9 >>> 18) | (w9 << 14)) ^ (w9 >>> 3)) + w8 | 0;
        d = d + (t = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) + 1955562222 + w8 | 0) | 0; // K[56] = 0x748f82ee
        h = t + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + (b ^ (x0 = a ^ b) & x1) | 0;
        w9 = (((w7 >>> 17) | (w7 << 15)) ^ ((w7 >>> 19) | (w7 << 13)) ^ (w7 >>> 10)) + w2 + (((w10 >>> 7) | (w10 << 25)) ^ ((w10 >>> 18) | (w10 << 14)) ^ (w10 >>> 3)) + w9 | 0;
        c = c + (t = g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + (f ^ (d & (e ^ f))) + 2024104815 + w9 | 0) | 0; // K[57] = 0x78a5636f
        g = t + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + (a ^ (x1 = h ^ a) & x0) | 0;
        w10 = (((w8 >>> 17) | (w8 << 15)) ^ ((w8 >>> 19) | (w8 << 13)) ^ (w8 >>> 10)) + w3 + (((w11 >>> 7) | (w11 << 25)) ^ ((w11 >>> 18) | (w11 << 14)) ^ (w11 >>> 3)) + w10 | 0;
        b = b + (t = f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + (e ^ (c & (d ^ e))) - 2067236844 + w10 | 0) | 0; // K[58] = 0x84c87814
        f = t + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + (h ^ (x0 = g ^ h) & x1) | 0;
        w11 = (((w9 >>> 17) | (w9 << 15)) ^ ((w9 >>> 19) | (w9 << 13)) ^ (w9 >>> 10)) + w4 + (((w12 >>> 7) | (w12 << 25)) ^ ((w12 >>> 18) | (w12 << 14)) ^ (w12 >>> 3)) + w11 | 0;
        a = a + (t = e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + (d ^ (b & (c ^ d))) - 1933114872 + w11 | 0) | 0; // K[59] = 0x8cc70208
        e = t + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + (g ^ (x1 = f ^ g) & x0) | 0;
        w12 = (((w10 >>> 17) | (w10 << 15)) ^ ((w10 >>> 19) | (w10 << 13)) ^ (w10 >>> 10)) + w5 + (((w13 >>> 7) | (w13 << 25)) ^ ((w13 >>> 18) | (w13 << 14)) ^ (w13 >>> 3)) + w12 | 0;
        h = h + (t = d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + (c ^ (a & (b ^ c))) - 1866530822 + w12 | 0) | 0; // K[60] = 0x90befffa
        d = t + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + (f ^ (x0 = e ^ f) & x1) | 0;
        w13 = (((w11 >>> 17) | (w11 << 15)) ^ ((w11 >>> 19) | (w11 << 13)) ^ (w11 >>> 10)) + w6 + (((w14 >>> 7) | (w14 << 25)) ^ ((w14 >>> 18) | (w14 << 14)) ^ (w14 >>> 3)) + w13 | 0;
        g = g + (t = c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (b ^ (h & (a ^ b))) - 1538233109 + w13 | 0) | 0; // K[61] = 0xa4506ceb
        c = t + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + (e ^ (x1 = d ^ e) & x0) | 0;
        w14 = (((w12 >>> 17) | (w12 << 15)) ^ ((w12 >>> 19) | (w12 << 13)) ^ (w12 >>> 10)) + w7 + (((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)) + w14 | 0;
        f = f + (t = b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + (a ^ (g & (h ^ a))) - 1090935817 + w14 | 0) | 0; // K[62] = 0xbef9a3f7
        b = t + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + (d ^ (x0 = c ^ d) & x1) | 0;
        w15 = (((w13 >>> 17) | (w13 << 15)) ^ ((w13 >>> 19) | (w13 << 13)) ^ (w13 >>> 10)) + w8 + (((w0 >>> 7) | (w0 << 25)) ^ ((w0 >>> 18) | (w0 << 14)) ^ (w0 >>> 3)) + w15 | 0;
        e = e + (t = a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + (h ^ (f & (g ^ h))) - 965641998 + w15 | 0) | 0; // K[63] = 0xc67178f2
        a = t + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + (c ^ (x1 = b ^ c) & x0) | 0;
        a = H[0] = H[0] + a | 0; b = H[1] = H[1] + b | 0; c = H[2] = H[2] + c | 0; d = H[3] = H[3] + d | 0;
        e = H[4] = H[4] + e | 0; f = H[5] = H[5] + f | 0; g = H[6] = H[6] + g | 0; h = H[7] = H[7] + h | 0;
        q -= 16;
    }
}

// ---- conversions and checks (not hot: once per call) ----

function describe(x: unknown): string {
    return x === null ? 'null' : typeof x === 'object' ? (x as object).constructor?.name ?? 'object' : typeof x;
}

function checkBytes(bytes: unknown, what: string): asserts bytes is Uint8Array {
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`sha256: ${what} must be a Uint8Array, got ${describe(bytes)}`);
}

function checkState(state: Sha256State, what: string): void {
    if (state === null || typeof state !== 'object') throw new TypeError(`sha256: ${what}: state must be a Sha256State, got ${describe(state)}`);
    const { h, length } = state;
    if (!(h instanceof Uint32Array) || h.length !== 8) {
        throw new TypeError(`sha256: ${what}: state.h must be a Uint32Array of 8 words, got ${describe(h)}${h && typeof (h as { length?: unknown }).length === 'number' ? ` of length ${(h as { length: number }).length}` : ''}`);
    }
    if (!Number.isSafeInteger(length) || length < 0 || length % 64 !== 0) {
        throw new RangeError(`sha256: ${what}: state.length must be a non-negative multiple of 64 (bytes absorbed), got ${length}`);
    }
}

/** The working copy of H as signed words (see the notes at the top). */
function work(h: Uint32Array): Int32Array {
    return new Int32Array(h); // element-wise ToInt32: 0xffffffff → -1
}

/** H as 32 big-endian bytes. */
function wordsBE(H: ArrayLike<number>): Uint8Array {
    const out = new Uint8Array(32);
    for (let i = 0, j = 0; i < 8; i++, j += 4) {
        const x = H[i]; // a Uint8Array store keeps the low 8 bits, so no `& 255` needed
        out[j] = x >>> 24; out[j + 1] = x >>> 16; out[j + 2] = x >>> 8; out[j + 3] = x;
    }
    return out;
}

/** Absorbs `tail` (any length) into H, which already holds `absorbed` bytes (a multiple of 64); pads; returns the digest. */
function finish(H: Int32Array, absorbed: number, tail: Uint8Array): Uint8Array {
    const n = tail.length;
    const full = n - (n % 64);
    if (full > 0) compress(H, tail, 0, full);
    const rem = n - full;
    // 0x80, zeros, then the message length in bits as a u64 big-endian, filling one or two blocks.
    const last = new Uint8Array(rem < 56 ? 64 : 128);
    if (rem > 0) last.set(tail.subarray(full), 0);
    last[rem] = 0x80;
    const total = absorbed + n; // bytes, a safe integer; bits = total * 8 may not be, so split first
    const hi = Math.floor(total / 0x20000000); // bits >>> 32 = total >>> 29
    const lo = (total % 0x20000000) * 8; // bits & 0xffffffff
    const L = last.length;
    last[L - 8] = hi >>> 24; last[L - 7] = hi >>> 16; last[L - 6] = hi >>> 8; last[L - 5] = hi;
    last[L - 4] = lo >>> 24; last[L - 3] = lo >>> 16; last[L - 2] = lo >>> 8; last[L - 1] = lo;
    compress(H, last, 0, L);
    return wordsBE(H);
}

// ---- the chaining-state API ----

/** The state before any byte: the FIPS 180-4 initial hash value, length 0. */
export function initialState(): Sha256State {
    return { h: Uint32Array.from(IV), length: 0 };
}

/**
 * Absorbs whole 64-byte blocks. `bytes.length` must be a multiple of 64. Returns the new state; the
 * input state is not modified.
 */
export function absorbBlocks(state: Sha256State, bytes: Uint8Array): Sha256State {
    checkState(state, 'absorbBlocks');
    checkBytes(bytes, 'absorbBlocks: bytes');
    if (bytes.length % 64 !== 0) {
        throw new RangeError(`sha256: absorbBlocks: bytes.length must be a multiple of 64, got ${bytes.length} (${bytes.length % 64} bytes past the last whole block)`);
    }
    const length = state.length + bytes.length;
    if (!Number.isSafeInteger(length)) throw new RangeError('sha256: absorbBlocks: total length exceeds 2^53 - 1 bytes');
    const H = work(state.h);
    compress(H, bytes, 0, bytes.length);
    return { h: new Uint32Array(H), length };
}

/**
 * Absorbs the remaining `tail` (any length: whole blocks first, then the partial one), pads, and returns
 * the 32-byte digest of everything absorbed. The state is not modified.
 */
export function finalize(state: Sha256State, tail: Uint8Array = new Uint8Array(0)): Uint8Array {
    checkState(state, 'finalize');
    checkBytes(tail, 'finalize: tail');
    if (!Number.isSafeInteger(state.length + tail.length)) throw new RangeError('sha256: finalize: total length exceeds 2^53 - 1 bytes');
    return finish(work(state.h), state.length, tail);
}

/** H0..H7 as 32 big-endian bytes: the chaining value ("checkpoint") after `state.length` bytes. */
export function chainingValue(state: Sha256State): Uint8Array {
    checkState(state, 'chainingValue');
    return wordsBE(state.h);
}

/** 40 bytes: H0..H7 big-endian, then `length` (bytes absorbed) as a u64 big-endian. */
export function encodeState(state: Sha256State): Uint8Array {
    checkState(state, 'encodeState');
    const out = new Uint8Array(SHA256_STATE_BYTES);
    out.set(wordsBE(state.h), 0);
    const hi = Math.floor(state.length / 0x100000000), lo = state.length % 0x100000000;
    out[32] = hi >>> 24; out[33] = hi >>> 16; out[34] = hi >>> 8; out[35] = hi;
    out[36] = lo >>> 24; out[37] = lo >>> 16; out[38] = lo >>> 8; out[39] = lo;
    return out;
}

/** Inverse of {@link encodeState}; throws if `bytes` is not 40 bytes or its length field is invalid. */
export function decodeState(bytes: Uint8Array): Sha256State {
    checkBytes(bytes, 'decodeState: bytes');
    if (bytes.length !== SHA256_STATE_BYTES) {
        throw new RangeError(`sha256: decodeState: an encoded state is ${SHA256_STATE_BYTES} bytes, got ${bytes.length}`);
    }
    const h = new Uint32Array(8);
    for (let i = 0, j = 0; i < 8; i++, j += 4) h[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
    const hi = ((bytes[32] << 24) | (bytes[33] << 16) | (bytes[34] << 8) | bytes[35]) >>> 0;
    const lo = ((bytes[36] << 24) | (bytes[37] << 16) | (bytes[38] << 8) | bytes[39]) >>> 0;
    if (hi >= 0x200000) throw new RangeError(`sha256: decodeState: length field ${BigInt(hi) * 0x100000000n + BigInt(lo)} exceeds 2^53 - 1 bytes`);
    const length = hi * 0x100000000 + lo;
    if (length % 64 !== 0) throw new RangeError(`sha256: decodeState: length field ${length} is not a multiple of 64`);
    return { h, length };
}

// ---- streaming and one-shot ----

/**
 * Incremental hasher: `update` with any sizes (a partial block is buffered), `digest` at any time.
 * `checkpoint` and `state` are available whenever the bytes absorbed are a multiple of 64.
 */
export class Sha256 {
    private readonly H: Int32Array;
    private readonly buf = new Uint8Array(64);
    private buffered = 0;
    private total: number;

    /** Starts from `state` (e.g. a decoded checkpoint state) or from the initial state. */
    constructor(state?: Sha256State) {
        const s = state ?? initialState();
        checkState(s, 'Sha256');
        this.H = work(s.h);
        this.total = s.length;
    }

    /** Bytes absorbed so far, buffered ones included. */
    get length(): number {
        return this.total;
    }

    update(bytes: Uint8Array): this {
        checkBytes(bytes, 'update: bytes');
        const n = bytes.length;
        if (!Number.isSafeInteger(this.total + n)) throw new RangeError('sha256: update: total length exceeds 2^53 - 1 bytes');
        this.total += n;
        let pos = 0;
        if (this.buffered > 0) {
            pos = Math.min(64 - this.buffered, n);
            this.buf.set(bytes.subarray(0, pos), this.buffered);
            this.buffered += pos;
            if (this.buffered < 64) return this;
            compress(this.H, this.buf, 0, 64);
            this.buffered = 0;
        }
        const end = n - ((n - pos) % 64);
        if (end > pos) compress(this.H, bytes, pos, end); // straight from the input, no copy
        if (end < n) {
            this.buf.set(bytes.subarray(end), 0);
            this.buffered = n - end;
        }
        return this;
    }

    /** The digest of everything absorbed so far. Does not change the hasher: `update` may go on. */
    digest(): Uint8Array {
        return finish(this.H.slice(), this.total - this.buffered, this.buf.subarray(0, this.buffered));
    }

    /** The chaining value (32 bytes, H0..H7 big-endian) after the bytes absorbed so far. */
    checkpoint(): Uint8Array {
        this.requireAligned('checkpoint');
        return wordsBE(this.H);
    }

    /** The chaining state after the bytes absorbed so far (a copy). */
    state(): Sha256State {
        this.requireAligned('state');
        return { h: new Uint32Array(this.H), length: this.total };
    }

    private requireAligned(what: string): void {
        if (this.buffered !== 0) {
            throw new Error(`sha256: ${what}() needs a multiple of 64 bytes absorbed, but ${this.total} bytes were (${this.buffered} past the last whole block)`);
        }
    }
}

/** SHA-256 of `bytes`. */
export function sha256(bytes: Uint8Array): Uint8Array {
    checkBytes(bytes, 'bytes');
    return finish(Int32Array.from(IV), 0, bytes);
}

let hexTable: string[] | null = null;

/** Lower-case hex. */
export function toHex(bytes: Uint8Array): string {
    if (hexTable === null) hexTable = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
    const table = hexTable;
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += table[bytes[i]];
    return s;
}
