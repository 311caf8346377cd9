/**
 * The bucket's stable memory ids. Append only: a new structure takes the next id; an id is never reused,
 * even after its structure is retired (254 and 255 belong to Azle and ic-stable-structures).
 */
export const BucketMemory = {
    meta: 0,
    sessions: 1,
    chunks: 2
} as const;
