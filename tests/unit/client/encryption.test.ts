/**
 * The encrypted chunk format (client/encryption.ts): round trips at chunk boundaries, and every way of
 * tampering with stored ciphertext — altering, reordering, truncating, splicing another file's chunk —
 * is detected. Key wrapping is checked against vetKeys made offline (a BLS key pair of our own).
 */
import { bls12_381 } from '@noble/curves/bls12-381';
import { augmentedHashToG1, DerivedPublicKey, VetKey } from '@dfinity/vetkeys';
import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import {
    decryptChunk,
    encryptedChunkCount,
    encryptedSize,
    encryptingSource,
    importDataKey,
    newFileSecrets,
    plaintextChunkSize,
    unwrapDataKey,
    wrapDataKey
} from '../../../client/encryption';
import { DecryptionError } from '../../../client/errors';
import { bytesSource } from '../../../client/source';
import { ENCRYPTION_TAG_BYTES } from '../../../shared/types';

const CHUNK = 256;

async function encryptAll(plaintext: Uint8Array, chunkSize = CHUNK) {
    const { dataKey, noncePrefix } = newFileSecrets();
    const key = await importDataKey(dataKey);
    const source = encryptingSource(bytesSource(plaintext), key, noncePrefix, chunkSize);
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < source.size; at += chunkSize) chunks.push(await source.read(at, chunkSize));
    return { key, noncePrefix, chunks, size: source.size };
}

async function decryptAll(key: CryptoKey, prefix: Uint8Array, chunks: Uint8Array[]): Promise<Uint8Array> {
    const parts = await Promise.all(chunks.map((c, i) => decryptChunk(key, prefix, i, chunks.length, c)));
    return Uint8Array.from(parts.flatMap((p) => Array.from(p)));
}

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);

describe('chunk format', () => {
    it('round-trips sizes around chunk boundaries; each ciphertext chunk is one Silo chunk', async () => {
        const plain = plaintextChunkSize(CHUNK);
        for (const n of [0, 1, plain - 1, plain, plain + 1, 3 * plain, 3 * plain + 5]) {
            const data = pattern(n);
            const { key, noncePrefix, chunks, size } = await encryptAll(data);
            expect(size).toBe(encryptedSize(n, CHUNK));
            expect(chunks.length).toBe(encryptedChunkCount(n, CHUNK));
            chunks.slice(0, -1).forEach((c) => expect(c.length).toBe(CHUNK));
            expect(await decryptAll(key, noncePrefix, chunks)).toEqual(data);
        }
    });

    it('stores no plaintext: no 16-byte run of the input appears in the ciphertext', async () => {
        const data = new Uint8Array(1000).fill(0x41);
        const { chunks } = await encryptAll(data);
        const hex = chunks.map((c) => Buffer.from(c).toString('hex')).join('');
        expect(hex).not.toContain('41'.repeat(16));
    });

    it('detects an altered byte, in the body or the tag', async () => {
        const { key, noncePrefix, chunks } = await encryptAll(pattern(600));
        for (const at of [0, 100, chunks[1].length - 1]) {
            const tampered = chunks.map((c) => new Uint8Array(c));
            tampered[1][at] ^= 1;
            await expect(decryptAll(key, noncePrefix, tampered)).rejects.toBeInstanceOf(DecryptionError);
        }
    });

    it('detects reordered chunks', async () => {
        const { key, noncePrefix, chunks } = await encryptAll(pattern(3 * plaintextChunkSize(CHUNK)));
        await expect(decryptAll(key, noncePrefix, [chunks[1], chunks[0], chunks[2]])).rejects.toBeInstanceOf(DecryptionError);
    });

    it('detects truncation at a chunk boundary (the last-chunk flag) and inside a chunk', async () => {
        const { key, noncePrefix, chunks } = await encryptAll(pattern(3 * plaintextChunkSize(CHUNK)));
        await expect(decryptAll(key, noncePrefix, chunks.slice(0, 2))).rejects.toThrow(/failed authentication/);
        await expect(decryptAll(key, noncePrefix, [chunks[0], chunks[1], chunks[2].subarray(0, 100)])).rejects.toBeInstanceOf(DecryptionError);
        // An empty file is one tag: dropping it is no empty file either.
        const empty = await encryptAll(new Uint8Array());
        expect(empty.chunks[0].length).toBe(ENCRYPTION_TAG_BYTES);
        expect(await decryptAll(empty.key, empty.noncePrefix, empty.chunks)).toEqual(new Uint8Array());
        await expect(decryptChunk(empty.key, empty.noncePrefix, 0, 1, new Uint8Array())).rejects.toBeInstanceOf(DecryptionError);
    });

    it('detects a chunk spliced in from another file, and a wrong key or nonce prefix', async () => {
        const a = await encryptAll(pattern(600));
        const b = await encryptAll(pattern(600));
        await expect(decryptAll(a.key, a.noncePrefix, [a.chunks[0], b.chunks[1], a.chunks[2]])).rejects.toBeInstanceOf(DecryptionError);
        await expect(decryptAll(b.key, a.noncePrefix, a.chunks)).rejects.toBeInstanceOf(DecryptionError);
        await expect(decryptAll(a.key, b.noncePrefix, a.chunks)).rejects.toBeInstanceOf(DecryptionError);
    });

    it('re-reading a chunk gives the same ciphertext (a chunk can be sent again); reads must be chunk-aligned', async () => {
        const { dataKey, noncePrefix } = newFileSecrets();
        const source = encryptingSource(bytesSource(pattern(1000)), await importDataKey(dataKey), noncePrefix, CHUNK);
        expect(await source.read(CHUNK, CHUNK)).toEqual(await source.read(CHUNK, CHUNK));
        await expect(source.read(10, CHUNK)).rejects.toThrow(RangeError);
        expect(() => plaintextChunkSize(16)).toThrow(RangeError);
    });
});

describe('key wrapping (vetKeys IBE)', () => {
    // A derived key pair of our own: vetKey(identity) = x · H(dpk, identity), which is what vetKD yields.
    const x = 0x1234567890abcdefn;
    const dpk = new DerivedPublicKey(bls12_381.G2.ProjectivePoint.BASE.multiply(x));
    const vetKeyOf = (p: Principal) => new VetKey(augmentedHashToG1(dpk, p.toUint8Array()).multiply(x));
    const alice = Principal.fromUint8Array(new Uint8Array(29).fill(1));
    const bob = Principal.fromUint8Array(new Uint8Array(29).fill(2));

    it('a key wrapped to a principal opens with that principal\'s vetKey only', () => {
        const { dataKey } = newFileSecrets();
        const wrapped = wrapDataKey(dpk, bob, dataKey);
        expect(wrapped.length).toBeLessThanOrEqual(512);
        expect(unwrapDataKey(vetKeyOf(bob), wrapped)).toEqual(dataKey);
        expect(() => unwrapDataKey(vetKeyOf(alice), wrapped)).toThrow(DecryptionError);
        const damaged = new Uint8Array(wrapped);
        damaged[damaged.length - 1] ^= 1;
        expect(() => unwrapDataKey(vetKeyOf(bob), damaged)).toThrow(DecryptionError);
    });
});
