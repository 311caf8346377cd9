/**
 * The index's stable memory ids. Append only: a new structure takes the next id; an id is never reused,
 * even after its structure is retired (254 and 255 belong to Azle and ic-stable-structures).
 */
export const IndexMemory = {
    meta: 0,
    sessions: 1,
    checkpoints: 2,
    assets: 3,
    ownerPages: 4,
    owners: 5,
    buckets: 6,
    tasks: 7,
    bucketWasm: 8,
    upgrades: 9,
    expired: 10,
    /** Layout v2: (expires_at, session id) of every session, earliest first. */
    expiries: 11,
    /** Layout v2: (next_attempt_at, task id) of every task, earliest first. */
    taskQueue: 12,
    /** Bucket → the key of its private URL tokens (canisters/index/urls.ts). */
    urlSecrets: 13,
    /** The registered verifier canister (verification.ts). */
    verifier: 14,
    /** Bucket → the cycles deposited into it in the current budget window (cycles.ts). */
    topUpBudgets: 15,
    /** Encrypted assets (and upload sessions: same id) → format and readers (keys.ts). */
    encryption: 17,
    /** (asset id, principal) → the asset's data key wrapped to that principal, and its shared-with page. */
    grants: 18,
    /** (reader, page) → ids of the assets shared with the reader (0: unshared since). */
    sharedPages: 19,
    /** Principal → its shared-with page count and vetKey derivations; the management canister's entry: the key. */
    keyUsers: 20
} as const;
