import { Sha256, sha256 } from '../../shared/sha256';

/** Deterministic test bytes from a seed (xorshift32): the same content on every run and machine. */
export function bytes(length: number, seed = 1): Uint8Array {
    const out = new Uint8Array(length);
    let x = seed | 0 || 1;
    for (let i = 0; i < length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        out[i] = x & 0xff;
    }
    return out;
}

/** Chunks of `data`, the SHA-256 checkpoints after each full chunk, and the digest of the whole. */
export function split(data: Uint8Array, chunkSize: number): { chunks: Uint8Array[]; checkpoints: Uint8Array[]; digest: Uint8Array } {
    const chunks: Uint8Array[] = [];
    const checkpoints: Uint8Array[] = [];
    const hasher = new Sha256();
    for (let offset = 0; offset < data.length; offset += chunkSize) {
        const chunk = data.subarray(offset, offset + chunkSize);
        chunks.push(chunk);
        hasher.update(chunk);
        if (chunk.length === chunkSize) checkpoints.push(hasher.checkpoint());
    }
    return { chunks, checkpoints, digest: sha256(data) };
}
