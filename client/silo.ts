/**
 * The Silo client: verified uploads and downloads of files of any size, over any {@link Transport}.
 */
import type { Principal } from '@dfinity/principal';

import { DEFAULT_CHUNK_SIZE } from '../shared/constants';
import { bucketIdlFactory, indexIdlFactory } from '../shared/idl';
import { Sha256, toHex } from '../shared/sha256';
import type {
    Asset,
    AssetPage,
    AssetUrl,
    BucketInfo,
    Result,
    SessionInfo,
    Stats,
    UploadStatus,
    UploadTicket,
    Visibility
} from '../shared/types';
import {
    AbortedError,
    BucketUnavailableError,
    BusyError,
    ChecksumMismatchError,
    fromVariant,
    HashMismatchError,
    IntegrityError,
    InvalidArgumentError,
    MissingChunksError,
    TransportError
} from './errors';
import { hashSource, type SourceInput, toSource, type UploadSource } from './source';
import type { Transport } from './transport';
import { type AssetUrlOptions, gatewayUrl } from './urls';

/** Progress of an upload or download. */
export interface Progress {
    /** Bytes sent (upload) or received (download) so far. */
    bytesSent: number;
    /** Total bytes of the transfer. */
    bytesTotal: number;
    /** The chunk that just completed. */
    chunkIndex: number;
}

/**
 * Decides whether a failed call is retried: return the delay in milliseconds before the next attempt,
 * or `undefined` to give up and throw. `attempt` counts consecutive failures (from 1) and starts over
 * whenever the transfer makes progress.
 */
export type RetryPolicy = (error: unknown, attempt: number) => number | undefined;

/**
 * The default policy: transient failures (system rejects of the transient kind, network errors, Busy,
 * an unavailable bucket) are retried with exponential backoff from 200 ms to 5 s, up to 8 times in a row.
 */
export const defaultRetryPolicy: RetryPolicy = (error, attempt) => {
    if (attempt > 8) return undefined;
    const transient =
        error instanceof BusyError ||
        error instanceof BucketUnavailableError ||
        (error instanceof TransportError && (error.rejectCode === undefined || error.rejectCode === 2 || error.rejectCode === 6));
    return transient ? Math.min(200 * 2 ** (attempt - 1), 5000) : undefined;
};

/** Options of {@link SiloClient.upload} and {@link SiloClient.resume}. */
export interface UploadOptions {
    /** Name recorded with the asset (default: the file's base name, or `upload.bin`). */
    name?: string;
    /** MIME type recorded with the asset (default `application/octet-stream`). */
    contentType?: string;
    /** `public` assets are readable by anyone; `private` ones (the default) only by their owner. */
    visibility?: 'public' | 'private';
    /** Bytes per chunk: a multiple of 64, at most 1.9 MiB (the default). */
    chunkSize?: number;
    /** Chunks in flight at once (default 4). */
    concurrency?: number;
    /** Called after each chunk is stored. */
    onProgress?: (progress: Progress) => void;
    /** Called once the session exists, with its id: keep it to `resume` after a crash. */
    onSession?: (sessionId: bigint, ticket: UploadTicket) => void;
    /** Cancels the upload; the session is aborted on the index unless `keepSessionOnAbort`. */
    signal?: AbortSignal;
    /** Keep the server-side session when cancelled, so the upload can be resumed later. */
    keepSessionOnAbort?: boolean;
    /** Overrides which failures are retried, and when. */
    retry?: RetryPolicy;
}

/** Options of {@link SiloClient.download}. */
export interface DownloadOptions {
    /** Chunks fetched at once (default 4). */
    concurrency?: number;
    onProgress?: (progress: Progress) => void;
    signal?: AbortSignal;
    retry?: RetryPolicy;
}

type Service = Record<string, (...args: any[]) => Promise<any>>;

/** Rounds of finish → repair → finish before an upload gives up. */
const MAX_FINISH_ROUNDS = 8;

/**
 * A client of one Silo deployment (one index canister).
 *
 * @example
 * ```ts
 * const silo = new SiloClient({ transport, indexId });
 * const asset = await silo.upload('./movie.mp4', { visibility: 'public', onProgress: console.log });
 * const bytes = await silo.download(asset.id);
 * ```
 */
export class SiloClient {
    /** The index canister's id. */
    readonly indexId: Principal;
    private readonly transport: Transport;
    private readonly index: Service;
    private readonly bucketActors = new Map<string, Service>();
    private readonly retry: RetryPolicy;

    /**
     * @param options.transport - how calls reach the canisters (in-process replica or HttpAgent)
     * @param options.indexId - the index canister of the deployment
     * @param options.retry - the default retry policy of every operation
     */
    constructor(options: { transport: Transport; indexId: Principal; retry?: RetryPolicy }) {
        this.transport = options.transport;
        this.indexId = options.indexId;
        this.index = options.transport.actor<Service>(indexIdlFactory, options.indexId);
        this.retry = options.retry ?? defaultRetryPolicy;
    }

    /** The principal this client calls as (the owner of what it uploads). */
    get principal(): Principal {
        return this.transport.principal;
    }

    private bucket(id: Principal): Service {
        let actor = this.bucketActors.get(id.toText());
        if (actor === undefined) {
            actor = this.transport.actor<Service>(bucketIdlFactory, id);
            this.bucketActors.set(id.toText(), actor);
        }
        return actor;
    }

    /**
     * Uploads content and returns the committed asset once the index has read every byte back from the
     * bucket and found the declared SHA-256.
     *
     * The content is hashed once while read (whole-file SHA-256 and per-chunk checkpoints); chunks go
     * straight to the assigned bucket, `concurrency` at a time, with retries of transient failures. A
     * chunk the index finds corrupted is sent again and the upload finished again.
     *
     * @param input - bytes, a Blob/File, a file path or a stream (Node)
     * @throws {@link QuotaExceededError}, {@link NoCapacityError}, {@link HashMismatchError},
     *   {@link AbortedError}, {@link TransportError} and the other {@link SiloError}s
     */
    async upload(input: SourceInput, options: UploadOptions = {}): Promise<Asset> {
        const source = await toSource(input);
        try {
            const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
            const { sha256, checkpoints } = await hashSource(source, chunkSize, options.signal);
            const visibility: Visibility = options.visibility === 'public' ? { public: null } : { private: null };
            const ticket = await this.attempt<UploadTicket>(options.retry, options.signal, () =>
                this.index.begin_upload({
                    name: options.name ?? source.name ?? 'upload.bin',
                    content_type: options.contentType ?? 'application/octet-stream',
                    size: BigInt(source.size),
                    sha256,
                    chunk_size: chunkSize,
                    visibility,
                    checkpoints: [checkpoints]
                })
            );
            options.onSession?.(ticket.session_id, ticket);
            const all = range(ticket.chunk_count);
            return await this.transfer(ticket, source, all, options);
        } finally {
            await source.close();
        }
    }

    /**
     * Continues an interrupted upload: asks the bucket which chunks it holds, sends only the others and
     * finishes. `input` must be the same content as the original upload (finish verifies it).
     *
     * @param sessionId - the id `onSession` reported, or `ticket.session_id`
     */
    async resume(sessionId: bigint, input: SourceInput, options: UploadOptions = {}): Promise<Asset> {
        const info = await this.session(sessionId);
        const source = await toSource(input);
        try {
            if (BigInt(source.size) !== info.size) {
                throw new InvalidArgumentError(`The source has ${source.size} bytes but session ${sessionId} expects ${info.size}: resume with the same content.`);
            }
            const ticket: UploadTicket = {
                session_id: sessionId,
                bucket: info.bucket,
                chunk_size: info.chunk_size,
                chunk_count: info.chunk_count,
                expires_at: info.expires_at
            };
            const frozen = Number(info.verified_bytes / BigInt(info.chunk_size));
            const { missing, status } = await this.missingChunks(ticket, options, frozen);
            return await this.transfer(ticket, source, missing, options, status.bytes_received);
        } finally {
            await source.close();
        }
    }

    /** Sends `indexes`, then finishes, repairing what finish reports, until committed. */
    private async transfer(ticket: UploadTicket, source: UploadSource, indexes: number[], options: UploadOptions, alreadySent = 0n): Promise<Asset> {
        const progress = { bytesSent: Number(alreadySent), bytesTotal: source.size };
        try {
            await this.sendChunks(ticket, source, indexes, options, progress);
            for (let round = 0; ; round++) {
                const finished: Result<Asset> = await this.call(options.retry, options.signal, () => this.index.finish_upload(ticket.session_id), true);
                if ('Ok' in finished) return finished.Ok;
                const error = fromVariant(finished.Err);
                if (round >= MAX_FINISH_ROUNDS) throw error;
                if (error instanceof ChecksumMismatchError) {
                    await this.sendChunks(ticket, source, [error.chunkIndex], options, progress);
                } else if (error instanceof MissingChunksError) {
                    // `missing` lists at most 1,000 chunks: ask the bucket for the full picture.
                    const { missing } = await this.missingChunks(ticket, options);
                    await this.sendChunks(ticket, source, missing, options, progress);
                } else if (error instanceof HashMismatchError && round === 0) {
                    // Without a checkpoint to blame, send everything once more; a second mismatch is final.
                    await this.sendChunks(ticket, source, range(ticket.chunk_count), options, progress);
                } else {
                    throw error;
                }
            }
        } catch (error) {
            if (options.signal?.aborted) {
                if (!options.keepSessionOnAbort) await this.index.abort_upload(ticket.session_id).catch(() => undefined);
                throw new AbortedError(options.keepSessionOnAbort ? ticket.session_id : undefined);
            }
            throw error;
        }
    }

    private async sendChunks(ticket: UploadTicket, source: UploadSource, indexes: number[], options: UploadOptions, progress: { bytesSent: number; bytesTotal: number }): Promise<void> {
        const bucket = this.bucket(ticket.bucket);
        const failures = { count: 0 };
        await pool(indexes, options.concurrency ?? 4, options.signal, async (index) => {
            const bytes = await source.read(index * ticket.chunk_size, ticket.chunk_size);
            await this.attempt(
                options.retry,
                options.signal,
                () => bucket.put_chunk(ticket.session_id, index, bytes),
                failures
            );
            progress.bytesSent += bytes.length;
            options.onProgress?.({ bytesSent: progress.bytesSent, bytesTotal: progress.bytesTotal, chunkIndex: index });
        });
    }

    /** Asks the bucket which chunks of `ticket`'s upload it holds; `missing` lists the others from index `from` on. */
    private async missingChunks(ticket: UploadTicket, options: UploadOptions, from = 0): Promise<{ missing: number[]; status: UploadStatus }> {
        const status = await this.uploadStatus(ticket.bucket, ticket.session_id, options);
        const received = new Set(Array.from(status.received));
        return { missing: range(ticket.chunk_count).filter((i) => i >= from && !received.has(i)), status };
    }

    private async uploadStatus(bucket: Principal, sessionId: bigint, options: UploadOptions): Promise<UploadStatus> {
        return this.attempt(options.retry, options.signal, () => this.bucket(bucket).upload_status(sessionId));
    }

    /**
     * Runs a call returning a `Result`, unwrapping `Ok` and retrying as the policy says; `failures` is
     * shared by the calls of one transfer and starts over at each success (progress).
     */
    private async attempt<T>(retry: RetryPolicy | undefined, signal: AbortSignal | undefined, run: () => Promise<Result<T>>, failures = { count: 0 }): Promise<T> {
        const result = await this.call(retry, signal, run, false, failures);
        if ('Err' in result) throw fromVariant(result.Err);
        return result.Ok;
    }

    /** Retries a call while it throws (or, unless `rawErrors`, returns a retryable `Err`). */
    private async call<T>(retry: RetryPolicy | undefined, signal: AbortSignal | undefined, run: () => Promise<Result<T>>, rawErrors: boolean, failures = { count: 0 }): Promise<Result<T>> {
        const policy = retry ?? this.retry;
        for (;;) {
            signal?.throwIfAborted();
            let error: unknown;
            try {
                const result = await run();
                if ('Ok' in result || rawErrors) {
                    failures.count = 0;
                    return result;
                }
                error = fromVariant(result.Err);
            } catch (thrown) {
                error = thrown;
            }
            failures.count += 1;
            const delay = policy(error, failures.count);
            if (delay === undefined) throw error;
            await sleep(delay, signal);
        }
    }

    /**
     * Downloads an asset, `concurrency` chunks at a time, and checks its SHA-256 end to end before
     * returning. With `destination` (a file path, Node), the bytes are streamed to `destination.partial`
     * and renamed into place only once verified; otherwise they are returned.
     *
     * @throws {@link IntegrityError} when the bytes do not hash to the asset's SHA-256
     */
    async download(assetId: bigint, destination?: string, options: DownloadOptions = {}): Promise<Uint8Array | { path: string; asset: Asset }> {
        const asset = await this.getAsset(assetId);
        const bucket = this.bucket(asset.bucket);
        const concurrency = options.concurrency ?? 4;
        const total = Number(asset.size);
        const hasher = new Sha256();
        const ready = new Map<number, Uint8Array>();
        let next = 0;
        let received = 0;
        let sink: { write(bytes: Uint8Array, offset: number): Promise<void>; finish(ok: boolean): Promise<void> };
        let buffer: Uint8Array | undefined;
        if (destination === undefined) {
            buffer = new Uint8Array(total);
            sink = { write: async (bytes, offset) => buffer!.set(bytes, offset), finish: async () => {} };
        } else {
            sink = await fileSink(destination);
        }
        let ok = false;
        try {
            const failures = { count: 0 };
            // Chunks are hashed in order as they arrive; a window bounds how far fetching runs ahead.
            await pool(
                range(asset.chunk_count),
                concurrency,
                options.signal,
                async (index) => {
                    while (index >= next + concurrency * 2) await sleep(1, options.signal);
                    const bytes: Uint8Array = await this.attempt(options.retry, options.signal, () => bucket.get_chunk(asset.id, index), failures);
                    await sink.write(bytes, index * asset.chunk_size);
                    ready.set(index, bytes);
                    for (let chunk = ready.get(next); chunk !== undefined; chunk = ready.get(next)) {
                        hasher.update(chunk);
                        ready.delete(next);
                        next++;
                    }
                    received += bytes.length;
                    options.onProgress?.({ bytesSent: received, bytesTotal: total, chunkIndex: index });
                }
            );
            const digest = hasher.digest();
            if (toHex(digest) !== toHex(asset.sha256) || received !== total) {
                throw new IntegrityError(`Asset ${asset.id} failed verification: got ${received} bytes hashing to ${toHex(digest)}, expected ${total} bytes hashing to ${toHex(asset.sha256)}. Nothing was kept; download again.`);
            }
            ok = true;
        } finally {
            await sink.finish(ok);
        }
        return buffer ?? { path: destination!, asset };
    }

    /** Reads an asset's record. @throws {@link AssetNotFoundError}, {@link UnauthorizedError} */
    async getAsset(assetId: bigint): Promise<Asset> {
        return this.attempt(undefined, undefined, () => this.index.get_asset(assetId));
    }

    /**
     * A URL a browser, an `<img>` or a `<video>` can load the asset from, served by its bucket. A private
     * asset's URL carries a token the index mints for its owner only, valid `options.ttl` seconds.
     *
     * @example
     * ```ts
     * img.src = await silo.assetUrl(asset.id);                                  // https://<bucket>.icp0.io/a/7/cat.png
     * link.href = await silo.assetUrl(id, { ttl: 600, download: true });        // private: …?token=…&download
     * ```
     * @throws {@link UnauthorizedError} (a private asset of someone else), {@link AssetNotFoundError},
     *   {@link InvalidArgumentError} (ttl out of range), {@link BucketUnavailableError}
     */
    async assetUrl(assetId: bigint, options: AssetUrlOptions = {}): Promise<string> {
        const url: AssetUrl = await this.attempt(undefined, undefined, () => this.index.asset_url(assetId, options.ttl === undefined ? [] : [options.ttl]));
        return gatewayUrl(url.bucket, url.path, options);
    }

    /** A session's state on the index (owner only). */
    async session(sessionId: bigint): Promise<SessionInfo> {
        return this.attempt(undefined, undefined, () => this.index.upload_session(sessionId));
    }

    /**
     * Iterates over an owner's assets (the caller's by default), fetching `pageSize` at a time. Others
     * see only public assets.
     */
    async *listAssets(options: { owner?: Principal; pageSize?: number } = {}): AsyncGenerator<Asset> {
        let cursor: [] | [bigint] = [];
        do {
            const page: AssetPage = await this.attempt(undefined, undefined, () =>
                this.index.list_assets({ owner: options.owner ? [options.owner] : [], cursor, limit: [options.pageSize ?? 100] })
            );
            yield* page.assets;
            cursor = page.next_cursor;
        } while (cursor.length > 0);
    }

    /** Deletes an asset: gone from the index at once, its chunks deleted by the bucket. Owner only. */
    async deleteAsset(assetId: bigint): Promise<void> {
        await this.attempt(undefined, undefined, () => this.index.delete_asset(assetId));
    }

    /** Aborts an upload session and frees what it holds. */
    async abortUpload(sessionId: bigint): Promise<void> {
        await this.attempt(undefined, undefined, () => this.index.abort_upload(sessionId));
    }

    /** The deployment's buckets with their capacity and use. */
    async buckets(): Promise<BucketInfo[]> {
        return this.index.buckets();
    }

    /** Totals of the deployment: assets, bytes, sessions, buckets, pending work. */
    async stats(): Promise<Stats> {
        return this.index.stats();
    }
}

/** The integers 0 … n - 1. */
function range(n: number): number[] {
    return Array.from({ length: n }, (_, i) => i);
}

/** Runs `work` over `items` with at most `limit` in flight; the first failure stops the rest. */
async function pool<T>(items: T[], limit: number, signal: AbortSignal | undefined, work: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    let failed = false;
    const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
        while (!failed && next < items.length) {
            signal?.throwIfAborted();
            const item = items[next++];
            try {
                await work(item);
            } catch (error) {
                failed = true;
                throw error;
            }
        }
    });
    const results = await Promise.allSettled(workers);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const timer = setTimeout(() => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
        }, ms);
        const onAbort = () => {
            clearTimeout(timer);
            reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
    });
}

async function fileSink(path: string): Promise<{ write(bytes: Uint8Array, offset: number): Promise<void>; finish(ok: boolean): Promise<void> }> {
    const { open, rename, rm } = await import('node:fs/promises');
    const partial = `${path}.partial`;
    const handle = await open(partial, 'w');
    return {
        write: async (bytes, offset) => {
            await handle.write(bytes, 0, bytes.length, offset);
        },
        finish: async (ok) => {
            await handle.close();
            if (ok) await rename(partial, path);
            else await rm(partial, { force: true });
        }
    };
}
