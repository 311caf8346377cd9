/** Limits of the IC that change behaviour, in one place. */
export const MAX_INGRESS_BYTES = 2 * 1024 * 1024;
/** Inter-canister requests and replies. */
export const MAX_PAYLOAD_BYTES = 2 * 1024 * 1024;
export const MAX_QUERY_REPLY_BYTES = 3 * 1024 * 1024;
/** Canister logs kept per canister (the IC keeps the most recent 4 KiB). */
export const MAX_LOG_BYTES = 4 * 1024;
/** Chunks in a canister's chunk store: 1 MiB each, at most 100 MB in all. */
export const MAX_CHUNK_BYTES = 1024 * 1024;
export const MAX_STORED_CHUNKS = 100;
/** Longest time a best-effort call may wait for its response. */
export const MAX_BEST_EFFORT_TIMEOUT_SECONDS = 300;
/** Calls one canister may have awaiting a response from one destination (the IC's queue capacity). */
export const MAX_OUTSTANDING_CALLS_PER_DESTINATION = 500;
