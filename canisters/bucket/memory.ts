/**
 * The bucket's stable memory ids. Append only: a new structure takes the next id; an id is never reused,
 * even after its structure is retired (254 and 255 belong to Azle and ic-stable-structures).
 */
export const BucketMemory = {
    meta: 0,
    sessions: 1,
    /** Layout v1 kept each chunk as one value; read and deleted, never written since v2. */
    chunks: 2,
    pieces: 3,
    /** Layout v3: chunk presence bitmaps, in pages. */
    presence: 4,
    /** Layout v4: asset id → what HTTP responses need (name, content type, SHA-256). */
    assetMeta: 5,
    /** Per-chunk verification (verify.ts): each session's plan, and its checkpoints. */
    plans: 6,
    checkpoints: 7,
    /** Response certification (certify.ts): the nodes of its Merkle maps (shared/certification/tree.ts). */
    certNodes: 8,
    /** (asset id, chunk index) → the chunk's SHA-256, from its read-back during verification. */
    chunkDigests: 9,
    /** Asset id → the next chunk to certify, while its certification is in progress. */
    certJobs: 10
} as const;
