/**
 * Errors the client throws: one named subclass per `SiloError` variant of the canisters, plus the
 * client's own (transport failures, aborts, integrity failures). Every message says what to do next.
 */
import type { Principal } from '@dfinity/principal';

import { toHex } from '../shared/sha256';
import type { SiloError as SiloErrorVariant } from '../shared/types';

/** Base class of every error the Silo client throws. */
export class SiloError extends Error {
    override name = 'SiloError';
}

/** The caller may not do this (not the owner, not a controller, or anonymous). */
export class UnauthorizedError extends SiloError {
    override name = 'UnauthorizedError';
}
/** An argument was rejected; the message names it. */
export class InvalidArgumentError extends SiloError {
    override name = 'InvalidArgumentError';
}
/** The owner's quota (committed plus reserved bytes) would be exceeded. */
export class QuotaExceededError extends SiloError {
    override name = 'QuotaExceededError';
    constructor(
        readonly limit: bigint,
        readonly used: bigint,
        readonly requested: bigint
    ) {
        super(`Quota exceeded: ${used} of ${limit} bytes in use, ${requested} more requested. Delete assets or ask the operator for a larger quota.`);
    }
}
/** No bucket has room and the index could not create one. */
export class NoCapacityError extends SiloError {
    override name = 'NoCapacityError';
}
export class SessionNotFoundError extends SiloError {
    override name = 'SessionNotFoundError';
    constructor(readonly sessionId: bigint) {
        super(`Upload session ${sessionId} does not exist (it finished, was aborted or expired). Start a new upload.`);
    }
}
export class SessionExpiredError extends SiloError {
    override name = 'SessionExpiredError';
    constructor(readonly sessionId: bigint) {
        super(`Upload session ${sessionId} expired for lack of progress and was cleaned up. Start a new upload.`);
    }
}
export class SessionClosedError extends SiloError {
    override name = 'SessionClosedError';
    constructor(
        readonly sessionId: bigint,
        readonly state: string
    ) {
        super(`Upload session ${sessionId} does not accept this now (${state}).`);
    }
}
export class ChunkOutOfRangeError extends SiloError {
    override name = 'ChunkOutOfRangeError';
}
export class WrongChunkLengthError extends SiloError {
    override name = 'WrongChunkLengthError';
}
/** finish_upload found chunks missing; `missing` lists (up to 1,000 of) them. */
export class MissingChunksError extends SiloError {
    override name = 'MissingChunksError';
    constructor(
        readonly missing: number[],
        readonly count: number
    ) {
        super(`${count} chunks are missing (first: ${missing.slice(0, 10).join(', ')}). Send them and finish again.`);
    }
}
/** The bucket holds a chunk whose content does not match the client's checkpoint. */
export class ChecksumMismatchError extends SiloError {
    override name = 'ChecksumMismatchError';
    constructor(readonly chunkIndex: number) {
        super(`Chunk ${chunkIndex} does not match its checkpoint: send that chunk again, then finish again.`);
    }
}
/** The stored bytes do not hash to the declared SHA-256. */
export class HashMismatchError extends SiloError {
    override name = 'HashMismatchError';
    constructor(
        readonly expected: Uint8Array,
        readonly actual: Uint8Array
    ) {
        super(`Content hash mismatch: expected ${toHex(expected)}, got ${toHex(actual)}. The source changed during upload or was corrupted; upload again.`);
    }
}
/** A bucket could not be reached (stopped, trapping, out of cycles); retry later. */
export class BucketUnavailableError extends SiloError {
    override name = 'BucketUnavailableError';
    constructor(
        readonly bucket: Principal,
        readonly reason: string
    ) {
        super(`Bucket ${bucket.toText()} is unavailable (${reason}). Nothing was lost; retry later.`);
    }
}
/** Another operation holds the session or the index; retry shortly. */
export class BusyError extends SiloError {
    override name = 'BusyError';
}
export class AssetNotFoundError extends SiloError {
    override name = 'AssetNotFoundError';
    constructor(readonly assetId: bigint) {
        super(`Asset ${assetId} does not exist: list the assets there are with listAssets()`);
    }
}

/** The upload's bucket has too few cycles to store and verify it, and the index could not top it up. */
export class InsufficientCyclesError extends SiloError {
    override name = 'InsufficientCyclesError';
    constructor(
        readonly canister: Principal,
        readonly available: bigint,
        readonly needed: bigint
    ) {
        super(
            `Bucket ${canister.toText()} has ${available} cycles to spend but this upload needs ${needed}, and the index could not top it up. Nothing was stored; the operator must add cycles to the index (\`silo stats\` shows its balance), then retry.`
        );
    }
}

/** A cap on what one owner or one upload may use (`what` names it; see the README's limits). */
export class LimitExceededError extends SiloError {
    override name = 'LimitExceededError';
    constructor(
        readonly what: string,
        readonly limit: bigint,
        readonly requested: bigint
    ) {
        super(`Limit exceeded: ${what} is limited to ${limit}, ${requested} requested. Finish, abort or delete what you have, or ask the operator to raise the limit.`);
    }
}
/** Refused for now; the same call may succeed at `retryAt` (nanoseconds since the epoch). */
export class RateLimitedError extends SiloError {
    override name = 'RateLimitedError';
    constructor(
        readonly what: string,
        readonly retryAt: bigint
    ) {
        super(`Rate limited: ${what}; retry after ${new Date(Number(retryAt / 1_000_000n)).toISOString()}.`);
    }
}
/** The session failed verification too often and was aborted: its chunks are being deleted. */
export class FinishAttemptsExhaustedError extends SiloError {
    override name = 'FinishAttemptsExhaustedError';
    constructor(
        readonly sessionId: bigint,
        readonly attempts: number
    ) {
        super(`Upload session ${sessionId} failed verification ${attempts} times and was aborted. Check the source and upload again.`);
    }
}

/** A call did not reach the canister or was rejected by the system (not a Silo error variant). */
export class TransportError extends SiloError {
    override name = 'TransportError';
    constructor(
        message: string,
        readonly rejectCode?: number,
        cause?: unknown
    ) {
        super(message, { cause });
    }
}
/**
 * Nothing answered at the network's URL (connection refused, unknown host, reset), after the agent's own
 * retries: the server is gone or the address is wrong. A page or a tool that wants to say so at once
 * passes a {@link RetryPolicy} that does not retry it (the default retries it as transient).
 */
export class NetworkUnreachableError extends TransportError {
    override name = 'NetworkUnreachableError';
}

/**
 * The operation was cancelled through its AbortSignal: the one error every abort of an upload or a
 * download ends in, whether the signal fired before it started or while it ran.
 */
export class AbortedError extends SiloError {
    override name = 'AbortedError';
    /** What was aborted. */
    readonly operation: 'upload' | 'download';
    /** The upload's session, if one was opened. */
    readonly sessionId?: bigint;
    /** Where the upload was: `hashing`, `sending` or `verifying`. */
    readonly phase?: string;
    /** The session was kept (`keepSessionOnAbort`): `resume` continues it. */
    readonly kept: boolean;
    /**
     * The index was verifying the upload when it was aborted: that cannot be stopped, so the upload may
     * still be committed (as asset `sessionId`); `committedAsset(sessionId)` tells.
     */
    readonly committing: boolean;

    constructor(details: { operation?: 'upload' | 'download'; sessionId?: bigint; phase?: string; kept?: boolean; committing?: boolean } = {}) {
        const operation = details.operation ?? 'upload';
        const { sessionId, committing = false, kept = false } = details;
        let message = `The ${operation} was aborted${details.phase === undefined ? '' : ` while ${details.phase}`}.`;
        if (sessionId !== undefined && committing) {
            message += ` The index was already verifying session ${sessionId}, which cannot be stopped: it may still be committed as asset ${sessionId} (committedAsset(${sessionId}n) tells).`;
        } else if (sessionId !== undefined && kept) {
            message += ` Session ${sessionId} was kept: resume(${sessionId}n, source) continues it.`;
        }
        super(message);
        this.operation = operation;
        this.sessionId = sessionId;
        this.phase = details.phase;
        this.kept = kept;
        this.committing = committing;
    }
}
/** Downloaded bytes do not hash to the asset's SHA-256: nothing was written as final. */
export class IntegrityError extends SiloError {
    override name = 'IntegrityError';
}

/**
 * An encrypted asset's key is not released to the caller: it is neither the owner nor a principal the
 * asset is shared with (or no longer: it was unshared).
 */
export class NotSharedError extends UnauthorizedError {
    override name = 'NotSharedError';
    constructor(
        readonly assetId: bigint,
        readonly principal: Principal
    ) {
        super(`Asset ${assetId} is encrypted and not shared with you (${principal.toText()}): ask its owner to run \`silo share ${assetId} ${principal.toText()}\`.`);
    }
}
/** Encrypted content failed authentication (altered, reordered, truncated, or a key that is not its own). */
export class DecryptionError extends IntegrityError {
    override name = 'DecryptionError';
}

/** Turns a canister's `Err` variant into the matching error. */
export function fromVariant(error: SiloErrorVariant): SiloError {
    if ('Unauthorized' in error) return new UnauthorizedError(`Unauthorized: ${error.Unauthorized}.`);
    if ('InvalidArgument' in error) return new InvalidArgumentError(`Invalid argument: ${error.InvalidArgument}.`);
    if ('QuotaExceeded' in error) return new QuotaExceededError(error.QuotaExceeded.limit, error.QuotaExceeded.used, error.QuotaExceeded.requested);
    if ('NoCapacity' in error) return new NoCapacityError(`No storage capacity: ${error.NoCapacity}.`);
    if ('SessionNotFound' in error) return new SessionNotFoundError(error.SessionNotFound);
    if ('SessionExpired' in error) return new SessionExpiredError(error.SessionExpired);
    if ('SessionClosed' in error) return new SessionClosedError(error.SessionClosed.session_id, error.SessionClosed.state);
    if ('ChunkOutOfRange' in error) {
        return new ChunkOutOfRangeError(`Chunk ${error.ChunkOutOfRange.index} is out of range: the upload has ${error.ChunkOutOfRange.chunk_count} chunks.`);
    }
    if ('WrongChunkLength' in error) {
        const e = error.WrongChunkLength;
        return new WrongChunkLengthError(`Chunk ${e.index} must be ${e.expected} bytes, got ${e.actual}.`);
    }
    if ('MissingChunks' in error) return new MissingChunksError(Array.from(error.MissingChunks.missing), error.MissingChunks.count);
    if ('ChecksumMismatch' in error) return new ChecksumMismatchError(error.ChecksumMismatch.chunk_index);
    if ('HashMismatch' in error) return new HashMismatchError(new Uint8Array(error.HashMismatch.expected), new Uint8Array(error.HashMismatch.actual));
    if ('BucketUnavailable' in error) return new BucketUnavailableError(error.BucketUnavailable.bucket, error.BucketUnavailable.reason);
    if ('Busy' in error) return new BusyError(`Busy: ${error.Busy}.`);
    if ('AssetNotFound' in error) return new AssetNotFoundError(error.AssetNotFound);
    if ('InsufficientCycles' in error) return new InsufficientCyclesError(error.InsufficientCycles.canister, error.InsufficientCycles.available, error.InsufficientCycles.needed);
    if ('LimitExceeded' in error) return new LimitExceededError(error.LimitExceeded.what, error.LimitExceeded.limit, error.LimitExceeded.requested);
    if ('RateLimited' in error) return new RateLimitedError(error.RateLimited.what, error.RateLimited.retry_at);
    if ('FinishAttemptsExhausted' in error) return new FinishAttemptsExhaustedError(error.FinishAttemptsExhausted.session_id, error.FinishAttemptsExhausted.attempts);
    return new SiloError(`Unknown error: ${JSON.stringify(error)}`);
}
