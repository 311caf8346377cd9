/**
 * Silo verifier canister, in AssemblyScript (compiled to native Wasm by `scripts/build_verifier.ts`): a
 * stateless SHA-256 service speaking the IC System API directly. A bucket reads chunk bytes back from its
 * own stable memory and sends them here with a SHA-256 chaining state; the verifier answers the new state
 * (`absorb`) or the final digest (`digest`). Hashing here costs ~60 Wasm instructions per byte, against
 * ~8,600 for the same SHA-256 interpreted by QuickJS inside an Azle canister.
 *
 * Candid interface (see shared/verifier.ts, which the TypeScript side uses):
 *     type VerifyError = variant { InvalidArgument : text };
 *     absorb : (state : blob, data : blob) -> (variant { Ok : blob; Err : VerifyError });
 *     digest : (state : blob, data : blob) -> (variant { Ok : blob; Err : VerifyError });
 *     absorb_chunk : (state : blob, data : blob) -> (variant { Ok : blob; Err : VerifyError });
 *     digest_chunk : (state : blob, data : blob) -> (variant { Ok : blob; Err : VerifyError });
 * The `_chunk` variants answer the same, followed by the SHA-256 of `data` alone (32 bytes): a bucket
 * certifies each chunk's HTTP response with the digest of the bytes it read back, from the same read.
 * `state` is 40 bytes: H0..H7 big-endian, then the bytes absorbed so far as a u64 big-endian (a multiple
 * of 64). `absorb` takes whole blocks and returns the next state; `digest` takes any length, pads and
 * returns the 32-byte SHA-256. Malformed Candid, a bad state or a misaligned length is answered with
 * `Err`, never a trap: the caller gets a typed error and the verifier keeps no state to corrupt.
 *
 * Ingress is refused (`canister_inspect_message` accepts nothing): only canisters call the verifier, and a
 * canister pays 1,000 cycles per byte sent, over ten times what hashing that byte costs here.
 *
 * Exports are named `canister_update_<name>` here; the build renames them to `canister_update <name>`.
 */

// ------------------------------------------------------------------ System API

@external("ic0", "msg_arg_data_size")
declare function msg_arg_data_size(): i32;
@external("ic0", "msg_arg_data_copy")
declare function msg_arg_data_copy(dst: usize, offset: i32, size: i32): void;
@external("ic0", "msg_reply_data_append")
declare function msg_reply_data_append(src: usize, size: i32): void;
@external("ic0", "msg_reply")
declare function msg_reply(): void;
@external("ic0", "trap")
declare function ic0_trap(src: usize, size: i32): void;

/** AssemblyScript's abort hook (`--use abort=`): a broken invariant traps with a fixed message. */
function abort(message: usize, file: usize, line: u32, column: u32): void {
    trap("verifier: internal error");
}

/** Traps with an ASCII message, written without allocating (nothing here uses the allocator). */
function trap(text: string): void {
    const p = (__heap_base + 15) & ~15;
    ic0_trap(p, writeAscii(p, text));
    unreachable();
}

/** Writes an ASCII string as bytes at `out`; returns its length. */
function writeAscii(out: usize, text: string): i32 {
    for (let i = 0; i < text.length; i++) store<u8>(out + <usize>i, <u8>text.charCodeAt(i));
    return text.length;
}

// ------------------------------------------------------------------ memory

/** Message bytes are copied to the start of a scratch area above the static data; it grows as needed. */
function scratch(bytes: i32): usize {
    const base = (__heap_base + 15) & ~15;
    const end = base + <usize>bytes + 256;
    const have = <usize>memory.size() << 16;
    if (end > have) {
        if (memory.grow(<i32>((end - have + 0xffff) >> 16)) < 0) trap("verifier: out of memory");
    }
    return base;
}

// ------------------------------------------------------------------ SHA-256

const K: StaticArray<u32> = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
];

// Static buffers (`memory.data`): nothing here allocates, so the scratch area above them is free to use.
/** The message schedule of the block being compressed (64 words). */
const W: usize = memory.data(256, 16);
/** The chaining value H0..H7. */
const H: usize = memory.data(32, 16);

const IV: StaticArray<u32> = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** Compresses `blocks` 64-byte blocks at `p` into H. */
function compress(p: usize, blocks: i32): void {
    const k = changetype<usize>(K);
    const w = W;
    let h0 = load<u32>(H), h1 = load<u32>(H, 4), h2 = load<u32>(H, 8), h3 = load<u32>(H, 12);
    let h4 = load<u32>(H, 16), h5 = load<u32>(H, 20), h6 = load<u32>(H, 24), h7 = load<u32>(H, 28);
    for (let block = 0; block < blocks; block++, p += 64) {
        for (let i: usize = 0; i < 64; i += 4) store<u32>(w + i, bswap<u32>(load<u32>(p + i)));
        for (let i: usize = 64; i < 256; i += 4) {
            const x = load<u32>(w + i - 8);
            const y = load<u32>(w + i - 60);
            const s1 = rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10);
            const s0 = rotr<u32>(y, 7) ^ rotr<u32>(y, 18) ^ (y >>> 3);
            store<u32>(w + i, s1 + load<u32>(w + i - 28) + s0 + load<u32>(w + i - 64));
        }
        let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
        // Eight rounds per iteration with the registers renamed instead of shifted.
        for (let i: usize = 0; i < 256; i += 32) {
            let t = h + (rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25)) + (g ^ (e & (f ^ g))) + load<u32>(k + i) + load<u32>(w + i);
            d += t; h = t + (rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)) + ((a & b) | (c & (a | b)));
            t = g + (rotr<u32>(d, 6) ^ rotr<u32>(d, 11) ^ rotr<u32>(d, 25)) + (f ^ (d & (e ^ f))) + load<u32>(k + i, 4) + load<u32>(w + i, 4);
            c += t; g = t + (rotr<u32>(h, 2) ^ rotr<u32>(h, 13) ^ rotr<u32>(h, 22)) + ((h & a) | (b & (h | a)));
            t = f + (rotr<u32>(c, 6) ^ rotr<u32>(c, 11) ^ rotr<u32>(c, 25)) + (e ^ (c & (d ^ e))) + load<u32>(k + i, 8) + load<u32>(w + i, 8);
            b += t; f = t + (rotr<u32>(g, 2) ^ rotr<u32>(g, 13) ^ rotr<u32>(g, 22)) + ((g & h) | (a & (g | h)));
            t = e + (rotr<u32>(b, 6) ^ rotr<u32>(b, 11) ^ rotr<u32>(b, 25)) + (d ^ (b & (c ^ d))) + load<u32>(k + i, 12) + load<u32>(w + i, 12);
            a += t; e = t + (rotr<u32>(f, 2) ^ rotr<u32>(f, 13) ^ rotr<u32>(f, 22)) + ((f & g) | (h & (f | g)));
            t = d + (rotr<u32>(a, 6) ^ rotr<u32>(a, 11) ^ rotr<u32>(a, 25)) + (c ^ (a & (b ^ c))) + load<u32>(k + i, 16) + load<u32>(w + i, 16);
            h += t; d = t + (rotr<u32>(e, 2) ^ rotr<u32>(e, 13) ^ rotr<u32>(e, 22)) + ((e & f) | (g & (e | f)));
            t = c + (rotr<u32>(h, 6) ^ rotr<u32>(h, 11) ^ rotr<u32>(h, 25)) + (b ^ (h & (a ^ b))) + load<u32>(k + i, 20) + load<u32>(w + i, 20);
            g += t; c = t + (rotr<u32>(d, 2) ^ rotr<u32>(d, 13) ^ rotr<u32>(d, 22)) + ((d & e) | (f & (d | e)));
            t = b + (rotr<u32>(g, 6) ^ rotr<u32>(g, 11) ^ rotr<u32>(g, 25)) + (a ^ (g & (h ^ a))) + load<u32>(k + i, 24) + load<u32>(w + i, 24);
            f += t; b = t + (rotr<u32>(c, 2) ^ rotr<u32>(c, 13) ^ rotr<u32>(c, 22)) + ((c & d) | (e & (c | d)));
            t = a + (rotr<u32>(f, 6) ^ rotr<u32>(f, 11) ^ rotr<u32>(f, 25)) + (h ^ (f & (g ^ h))) + load<u32>(k + i, 28) + load<u32>(w + i, 28);
            e += t; a = t + (rotr<u32>(b, 2) ^ rotr<u32>(b, 13) ^ rotr<u32>(b, 22)) + ((b & c) | (d & (b | c)));
        }
        h0 += a; h1 += b; h2 += c; h3 += d; h4 += e; h5 += f; h6 += g; h7 += h;
    }
    store<u32>(H, h0); store<u32>(H, h1, 4); store<u32>(H, h2, 8); store<u32>(H, h3, 12);
    store<u32>(H, h4, 16); store<u32>(H, h5, 20); store<u32>(H, h6, 24); store<u32>(H, h7, 28);
}

// ------------------------------------------------------------------ Candid

/** Reply header: type table [vec nat8; variant { InvalidArgument : text }; variant { Ok : 0; Err : 1 }], one argument of type 2. */
const REPLY_HEADER: StaticArray<u8> = [
    0x44, 0x49, 0x44, 0x4c, 0x03, 0x6d, 0x7b, 0x6b, 0x01, 0xf4, 0xb8, 0x95, 0xa4, 0x0b, 0x71,
    0x6b, 0x02, 0xbc, 0x8a, 0x01, 0x00, 0xc5, 0xfe, 0xd2, 0x01, 0x01, 0x01, 0x02
];

/** Where the decoder stands, and the first error it met (null while the input is well formed). */
let at: usize = 0;
let end: usize = 0;
let error: string | null = null;

function fail(message: string): void {
    if (error === null) error = message;
    at = end;
}

function byte(): u32 {
    if (at >= end) {
        fail("Candid argument ends early");
        return 0;
    }
    const b = <u32>load<u8>(at);
    at++;
    return b;
}

/** An unsigned LEB128 that must fit in 32 bits. */
function leb(): u32 {
    let value: u64 = 0;
    for (let shift: u32 = 0; shift < 35; shift += 7) {
        const b = byte();
        if (error !== null) return 0;
        value |= (<u64>(b & 0x7f)) << shift;
        if ((b & 0x80) == 0) {
            if (value > 0xffffffff) break;
            return <u32>value;
        }
    }
    fail("Candid LEB128 number out of range");
    return 0;
}

/** A signed LEB128 type reference, kept small: primitive opcodes are -1..-24, table entries 0..255. */
function sleb(): i32 {
    let value: i64 = 0;
    let shift: u32 = 0;
    let b: u32 = 0;
    do {
        b = byte();
        if (error !== null) return 0;
        value |= (<i64>(b & 0x7f)) << shift;
        shift += 7;
    } while ((b & 0x80) != 0 && shift < 35);
    if ((b & 0x80) != 0) {
        fail("Candid type reference out of range");
        return 0;
    }
    if (shift < 64 && (b & 0x40) != 0) value |= (<i64>-1) << shift;
    if (value < -128 || value > 255) {
        fail("Candid type reference out of range");
        return 0;
    }
    return <i32>value;
}

/** Table entries that are `vec nat8` (a bit per entry; only such entries are accepted). */
const MAX_TYPES = 16;
const BLOB_TYPE: usize = memory.data(MAX_TYPES);

/** Decodes `(blob, blob)`; returns the pointers and lengths through the globals below, or sets `error`. */
let statePtr: usize = 0;
let stateLen: i32 = 0;
let dataPtr: usize = 0;
let dataLen: i32 = 0;

function decodeArgs(p: usize, size: i32): void {
    at = p;
    end = p + <usize>size;
    error = null;
    if (size < 4 || load<u32>(p) != 0x4c444944) {
        fail("not a Candid message (no DIDL magic)");
        return;
    }
    at += 4;
    const types = leb();
    if (error !== null) return;
    if (types > <u32>MAX_TYPES) {
        fail("Candid type table too large: expected (blob, blob)");
        return;
    }
    for (let i: u32 = 0; i < types; i++) {
        const op = sleb();
        if (error !== null) return;
        if (op != -19) {
            fail("unsupported Candid type table entry: expected (blob, blob)");
            return;
        }
        const element = sleb();
        if (error !== null) return;
        store<u8>(BLOB_TYPE + <usize>i, element == -5 ? 1 : 0);
    }
    const args = leb();
    if (error !== null) return;
    if (args != 2) {
        fail("expected two arguments (state : blob, data : blob)");
        return;
    }
    for (let i = 0; i < 2; i++) {
        const t = sleb();
        if (error !== null) return;
        if (t < 0 || <u32>t >= types || load<u8>(BLOB_TYPE + <usize>t) == 0) {
            fail("argument types must be (blob, blob)");
            return;
        }
    }
    for (let i = 0; i < 2; i++) {
        const length = leb();
        if (error !== null) return;
        if (<u64>length > <u64>(end - at)) {
            fail("blob length runs past the end of the argument");
            return;
        }
        if (i == 0) {
            statePtr = at;
            stateLen = <i32>length;
        } else {
            dataPtr = at;
            dataLen = <i32>length;
        }
        at += <usize>length;
    }
    if (at != end) fail("trailing bytes after the Candid arguments");
}

/** A state's byte count stays below this: 2^61 bytes is SHA-256's limit (the bit length must fit 64 bits), less slack. */
const MAX_LENGTH: i64 = (<i64>1 << 61) - (<i64>1 << 32);

/** The byte count encoded in the state, or -1 (and `error` set) when the state is malformed. */
function loadState(): i64 {
    if (stateLen != 40) {
        fail("state must be 40 bytes");
        return -1;
    }
    for (let i = 0; i < 8; i++) store<u32>(H + <usize>(i << 2), bswap<u32>(load<u32>(statePtr + <usize>(i << 2))));
    const length = <i64>bswap<u64>(load<u64>(statePtr + 32));
    // A state must sit on a block boundary, below SHA-256's limit.
    if (length < 0 || length >= MAX_LENGTH || (length & 63) != 0) {
        fail("state length field must be a multiple of 64 below 2^61");
        return -1;
    }
    return length;
}

function appendLeb(out: usize, value: u32): usize {
    do {
        let b = value & 0x7f;
        value >>>= 7;
        if (value != 0) b |= 0x80;
        store<u8>(out, <u8>b);
        out++;
    } while (value != 0);
    return out;
}

/** Replies `Ok` with `length` bytes of `src`, or `Err (InvalidArgument error)` when `error` is set. */
function reply(out: usize, src: usize, length: i32): void {
    const header = changetype<usize>(REPLY_HEADER);
    memory.copy(out, header, REPLY_HEADER.length);
    let p = out + <usize>REPLY_HEADER.length;
    if (error === null) {
        store<u8>(p, 0);
        p = appendLeb(p + 1, <u32>length);
        memory.copy(p, src, length);
        p += <usize>length;
    } else {
        const text = error!;
        store<u8>(p, 1);
        store<u8>(p + 1, 0);
        p = appendLeb(p + 2, <u32>text.length);
        p += <usize>writeAscii(p, text);
    }
    msg_reply_data_append(out, <i32>(p - out));
    msg_reply();
}

function storeHash(out: usize): void {
    for (let i = 0; i < 8; i++) store<u32>(out + <usize>(i << 2), bswap<u32>(load<u32>(H + <usize>(i << 2))));
}

/** Reads the argument, checks it and leaves the block-aligned byte count in `length`; -1 on error. */
function begin(): i64 {
    const size = msg_arg_data_size();
    const p = scratch(size);
    msg_arg_data_copy(p, 0, size);
    decodeArgs(p, size);
    if (error !== null) return -1;
    return loadState();
}

/** The reply goes after the argument in the scratch area: the argument is at most the message limit. */
function replyArea(): usize {
    return scratch(msg_arg_data_size() + 128) + <usize>msg_arg_data_size();
}

// ------------------------------------------------------------------ methods

/** `begin`, then the checks of every method: whole 64-byte blocks when `absorbing`, and the total below 2^61 bytes. */
function beginChecked(absorbing: bool): i64 {
    const length = begin();
    if (absorbing && length >= 0 && (dataLen & 63) != 0) fail("absorb takes whole 64-byte blocks; send a partial tail to digest");
    if (length >= 0 && length + <i64>dataLen >= MAX_LENGTH) fail("state length would pass 2^61 bytes");
    return length;
}

/** Compresses the data (whole blocks) into H and stores the new state at `out + 64`: H, then the big-endian length. */
function absorbInto(out: usize, length: i64): void {
    compress(dataPtr, dataLen >> 6);
    storeHash(out + 64);
    store<u64>(out + 96, bswap<u64>(<u64>(length + <i64>dataLen)));
}

export function canister_update_absorb(): void {
    const length = beginChecked(true);
    const out = replyArea();
    if (error === null) absorbInto(out, length);
    reply(out, out + 64, 40);
}

/**
 * Pads the last `tail` bytes (< 64) at `p` of a message of `total` bytes and compresses them into H, in
 * one or two final blocks built in the 128 bytes at `pad`.
 */
function finish(p: usize, tail: i32, total: i64, pad: usize): void {
    memory.fill(pad, 0, 128);
    memory.copy(pad, p, tail);
    store<u8>(pad + <usize>tail, 0x80);
    const blocks = tail < 56 ? 1 : 2;
    store<u64>(pad + <usize>(blocks * 64 - 8), bswap<u64>(<u64>total << 3));
    compress(pad, blocks);
}

/** The SHA-256 of the data argument alone, stored at `dst`; overwrites H. */
function dataDigest(dst: usize, pad: usize): void {
    for (let i = 0; i < 8; i++) store<u32>(H + <usize>(i << 2), IV[i]);
    const whole = dataLen & ~63;
    compress(dataPtr, whole >> 6);
    finish(dataPtr + <usize>whole, dataLen - whole, <i64>dataLen, pad);
    storeHash(dst);
}

function digestInto(out: usize, length: i64): void {
    const whole = dataLen & ~63;
    compress(dataPtr, whole >> 6);
    finish(dataPtr + <usize>whole, dataLen - whole, length + <i64>dataLen, out + 128);
    storeHash(out + 64);
}

export function canister_update_digest(): void {
    const length = beginChecked(false);
    const out = replyArea();
    if (error === null) digestInto(out, length);
    reply(out, out + 64, 32);
}

/** `digest`, then the data's own SHA-256: 64 bytes. */
export function canister_update_digest_chunk(): void {
    const length = beginChecked(false);
    const out = replyArea();
    if (error === null) {
        digestInto(out, length);
        dataDigest(out + 96, out + 256);
    }
    reply(out, out + 64, 64);
}

/** `absorb`, then the data's own SHA-256: 72 bytes. */
export function canister_update_absorb_chunk(): void {
    const length = beginChecked(true);
    const out = replyArea();
    if (error === null) {
        absorbInto(out, length);
        dataDigest(out + 104, out + 256);
    }
    reply(out, out + 64, 72);
}

/** Ingress is never accepted: only canisters call the verifier. */
export function canister_inspect_message(): void {}
