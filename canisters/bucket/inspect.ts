/**
 * The bucket's canister_inspect_message: ingress update calls that can only fail are dropped before the
 * bucket pays for them (a put_chunk carries up to 1.9 MB). Runs for ingress only (never for the index's
 * inter-canister calls or for queries) and reads one session record at most.
 */
import type { Principal } from '@dfinity/principal';

import { MAX_CHUNK_SIZE } from '../../shared/constants';
import type { BucketState } from './state';

/** A put_chunk argument beyond this many bytes cannot be a valid chunk with its Candid envelope. */
export const MAX_PUT_CHUNK_ARG_BYTES = MAX_CHUNK_SIZE + 1024;

/**
 * Why an ingress update call should be dropped, or null to accept it. `decodePut` decodes a put_chunk
 * argument (session id and chunk index are all it needs).
 */
export function inspectBucketMessage(state: BucketState, caller: Principal, method: string, argBytes: number, decodePut: () => [bigint, number]): string | null {
    // Only the index calls c2c methods, and never by ingress.
    if (method.startsWith('c2c_')) return `${method} is for the index canister only`;
    if (method !== 'put_chunk') return null;
    if (caller.isAnonymous()) return 'anonymous callers cannot upload';
    if (argBytes > MAX_PUT_CHUNK_ARG_BYTES) return `argument of ${argBytes} bytes is larger than any chunk`;
    const [sessionId] = decodePut();
    const session = state.sessions.get(sessionId);
    if (session === undefined) return `no session ${sessionId}`;
    if (session.owner.toText() !== caller.toText()) return `session ${sessionId} belongs to another caller`;
    if (!('open' in session.state)) return `session ${sessionId} takes no more chunks`;
    return null;
}
