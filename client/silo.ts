/**
 * The Silo client: verified uploads and downloads of files of any size, over any {@link Transport}.
 */
import type { Principal } from '@dfinity/principal';

import { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE } from '../shared/constants';
import { bucketIdlFactory, indexIdlFactory } from '../shared/idl';
import { Sha256, toHex } from '../shared/sha256';
import type {
    Asset,
    AssetPage,
    AssetUrl,
    BucketInfo,
    Config,
    EncryptionInfo,
    HttpResponse,
    Result,
    SessionInfo,
    Stats,
    UploadStatus,
    UploadTicket,
    Visibility
} from '../shared/types';
import { ENCRYPTED_CONTENT_TYPE } from '../shared/types';
import { KeyVault, type SealedUpload, sealUpload, tokenChunkReader, wrapDataKey } from './encryption';
import {
    AbortedError,
    SessionExpiredError,
    SessionNotFoundError,
    BucketUnavailableError,
    BusyError,
    ChecksumMismatchError,
    fromVariant,
    HashMismatchError,
    IntegrityError,
    InvalidArgumentError,
    MissingChunksError,
    NotSharedError,
    TransportError,
    UnauthorizedError
} from './errors';
import { chunkSizeProblem } from './chunk_size';
import { contentTypeFor } from './content_type';
import type { DownloadSink } from './io';
import { fileSink, responseVerifier } from './node_io';
import { certifiedChunkReader } from './certified';
import { hashSource, nextTurn, type SourceInput, toSource, type UploadSource, YIELD_EVERY_MS } from './source';
import type { Transport } from './transport';
import { type AssetUrlOptions, gatewayUrl } from './urls';

/**
 * Progress of an upload or download, reported as each step completes (and at the start and end of each
 * phase, so even an empty upload reports every phase).
 *
 * An upload goes through three phases, in order (verifying may send chunks again, reported as
 * `sending`, if the index finds one corrupted):
 * - `hashing`: the client reads the content once for its SHA-256 and per-chunk checkpoints;
 * - `sending`: chunks go to the bucket (a resumed upload starts from what the bucket already holds);
 * - `verifying`: the index reads every chunk back from the bucket and hashes it (`finish_upload`),
 *   usually the longest phase; `bytesDone` is what it has verified so far, polled about twice a second.
 *
 * A download has one phase, `receiving`.
 */
export interface Progress {
    phase: 'hashing' | 'sending' | 'verifying' | 'receiving';
    /** Bytes of this phase done so far. */
    bytesDone: number;
    /** Total bytes of the transfer. */
    bytesTotal: number;
    /** The chunk that just completed (`hashing`, `sending`, `receiving`), absent at a phase's start and end. */
    chunkIndex?: number;
}

export type { DownloadSink } from './io';

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
    /**
     * MIME type recorded with the asset. Default: a Blob's or File's own `type`, else the type of the
     * name's extension (`photo.jpg`: `image/jpeg`), else `application/octet-stream`.
     */
    contentType?: string;
    /** `public` assets are readable by anyone; `private` ones (the default) only by their owner. */
    visibility?: 'public' | 'private';
    /**
     * Bytes per chunk: a multiple of 64, at most 1.9 MiB (the default), and at least the index's
     * `min_chunk_size` (64 KiB by default) unless the content fits in one chunk. Checked before anything
     * is read: {@link InvalidArgumentError}.
     */
    chunkSize?: number;
    /** Chunks in flight at once (default 4). */
    concurrency?: number;
    /** Called as the upload proceeds: see {@link Progress} for the phases. */
    onProgress?: (progress: Progress) => void;
    /** Called once the session exists, with its id: keep it to `resume` after a crash. */
    onSession?: (sessionId: bigint, ticket: UploadTicket) => void;
    /**
     * Cancels the upload, in any phase, within about a second: the upload rejects with an
     * {@link AbortedError}. The session is aborted on the index unless `keepSessionOnAbort`; if the index
     * was already verifying it, it cannot be stopped and may still commit (see {@link AbortedError.committing}).
     */
    signal?: AbortSignal;
    /** Keep the server-side session when cancelled, so the upload can be resumed later. */
    keepSessionOnAbort?: boolean;
    /** Overrides which failures are retried, and when. */
    retry?: RetryPolicy;
    /**
     * Encrypts the content end to end before it leaves this process (see client/encryption.ts): Silo
     * stores and verifies ciphertext; only the owner and the principals it is {@link SiloClient.share}d
     * with can decrypt it. Costs no vetKey derivation. An encrypted upload cannot be resumed after a crash
     * (its data key lived in memory only): upload it again.
     */
    encrypt?: boolean;
}

/** Options of {@link SiloClient.download}. */
export interface DownloadOptions {
    /** Chunks fetched at once (default 4). */
    concurrency?: number;
    /** Called after each chunk received (phase `receiving`). */
    onProgress?: (progress: Progress) => void;
    /** Cancels the download: it rejects with an {@link AbortedError}, and a file destination is not written. */
    signal?: AbortSignal;
    /** Overrides which failures are retried, and when. */
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
    private lastTurn = Date.now();
    private vault?: KeyVault;

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

    /**
     * Gives the event loop a turn when calls have kept it busy for a while. An in-process transport
     * answers queries synchronously, so a download could otherwise starve timers and abort signals.
     */
    private async breathe(): Promise<void> {
        if (Date.now() - this.lastTurn < YIELD_EVERY_MS) return;
        await nextTurn();
        this.lastTurn = Date.now();
    }

    /** The principal this client calls as (the owner of what it uploads). */
    get principal(): Principal {
        return this.transport.principal;
    }

    /** This client's keys for encrypted files: the vetKey is derived at most once per client. */
    get keys(): KeyVault {
        this.vault ??= new KeyVault(this.index, this.transport.principal);
        return this.vault;
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
     * chunk the index finds corrupted is sent again and the upload finished again. `input` is only read,
     * never modified.
     *
     * @param input - bytes (any `Uint8Array`, a Node `Buffer` too), a Blob/File, a file path or a stream (Node)
     * @throws {@link AbortedError} when `options.signal` fires (before or during), {@link QuotaExceededError},
     *   {@link NoCapacityError}, {@link HashMismatchError}, {@link TransportError} and the other {@link SiloError}s
     */
    async upload(input: SourceInput, options: UploadOptions = {}): Promise<Asset> {
        return this.cancellable(options, async (track) => {
            const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
            const shape = chunkSizeProblem(chunkSize);
            if (shape !== null) throw new InvalidArgumentError(`${shape}: pass a valid chunkSize or leave it out`);
            const plain = await toSource(input);
            const name = options.name ?? plain.name ?? 'upload.bin';
            const contentType = contentTypeFor({ explicit: options.contentType, input, name });
            let sealed: SealedUpload | undefined;
            try {
                // The index's minimum matters only for a chunk size below the largest, and more than one chunk.
                if (chunkSize < MAX_CHUNK_SIZE && plain.size > chunkSize) {
                    const tooSmall = chunkSizeProblem(chunkSize, { size: plain.size, minChunkSize: (await this.config()).min_chunk_size });
                    if (tooSmall !== null) throw new InvalidArgumentError(`${tooSmall}: pass a larger chunkSize`);
                }
                sealed = options.encrypt ? await sealUpload(this.keys, this.principal, plain, chunkSize, contentType) : undefined;
            } catch (error) {
                await plain.close();
                throw error;
            }
            const source = sealed?.source ?? plain;
            try {
                const report = reporter(options.onProgress, source.size);
                report('hashing', 0);
                const { sha256, checkpoints } = await hashSource(source, chunkSize, options.signal, (index, done) => report('hashing', done, index));
                report('hashing', source.size);
                const visibility: Visibility = options.visibility === 'public' ? { public: null } : { private: null };
                const ticket = await this.attempt<UploadTicket>(options.retry, options.signal, () =>
                    this.index.begin_upload({
                        name,
                        content_type: sealed ? ENCRYPTED_CONTENT_TYPE : contentType,
                        size: BigInt(source.size),
                        sha256,
                        chunk_size: chunkSize,
                        visibility,
                        checkpoints: [checkpoints]
                    })
                );
                track.session = ticket.session_id;
                if (sealed) await this.attempt(options.retry, options.signal, () => this.index.set_upload_encryption(ticket.session_id, sealed!.args));
                options.onSession?.(ticket.session_id, ticket);
                const asset = await this.transfer(ticket, source, range(ticket.chunk_count), options, track);
                if (sealed) this.keys.remember(asset.id, sealed.dataKey);
                return asset;
            } finally {
                await source.close();
            }
        });
    }

    /**
     * Continues an interrupted upload: asks the bucket which chunks it holds, sends only the others and
     * finishes. `input` must be the same content as the original upload (finish verifies it).
     *
     * @param sessionId - the id `onSession` reported, or `ticket.session_id`
     * @throws as {@link upload}; {@link SessionNotFoundError} when the session is gone (see {@link committedAsset})
     */
    async resume(sessionId: bigint, input: SourceInput, options: UploadOptions = {}): Promise<Asset> {
        return this.cancellable(options, async (track) => {
            track.phase = 'sending';
            const info = await this.session(sessionId);
            const source = await toSource(input);
            try {
                if (BigInt(source.size) !== info.size) {
                    throw new InvalidArgumentError(`The source has ${source.size} bytes but session ${sessionId} expects ${info.size}: resume with the same content.`);
                }
                track.session = sessionId;
                const ticket: UploadTicket = {
                    session_id: sessionId,
                    bucket: info.bucket,
                    chunk_size: info.chunk_size,
                    chunk_count: info.chunk_count,
                    expires_at: info.expires_at
                };
                const frozen = Number(info.verified_bytes / BigInt(info.chunk_size));
                const { missing, status } = await this.missingChunks(ticket, options, frozen);
                return await this.transfer(ticket, source, missing, options, track, status.bytes_received);
            } finally {
                await source.close();
            }
        });
    }

    /**
     * The asset an upload session committed, or `undefined` if it did not (it is open, was aborted or
     * expired). After an interruption during verification, this tells whether the upload got committed.
     */
    async committedAsset(sessionId: bigint): Promise<Asset | undefined> {
        // finish_upload of a committed session returns its asset, and changes nothing.
        const info = await this.call<SessionInfo>(undefined, undefined, () => this.index.upload_session(sessionId), true);
        if ('Ok' in info) return undefined;
        const finished: Result<Asset> = await this.call(undefined, undefined, () => this.index.finish_upload(sessionId), true);
        if ('Ok' in finished) return finished.Ok;
        const error = fromVariant(finished.Err);
        if (error instanceof SessionNotFoundError || error instanceof SessionExpiredError) return undefined;
        throw error;
    }

    /**
     * Runs an upload so that whatever the signal interrupts ends in one {@link AbortedError}: the session
     * is aborted on the index (unless kept), and the error says whether the index may still commit it.
     */
    private async cancellable<T>(options: UploadOptions, work: (track: Track) => Promise<T>): Promise<T> {
        const track: Track = { phase: 'hashing' };
        try {
            options.signal?.throwIfAborted();
            return await work(track);
        } catch (error) {
            if (!options.signal?.aborted) throw error;
            let stopped = options.keepSessionOnAbort !== true && track.phase !== 'verifying';
            if (track.session !== undefined && !options.keepSessionOnAbort) {
                // Bounded: an abort must not wait on a slow network.
                const giveUp = new AbortController();
                const result: Result<null> | undefined = await Promise.race([
                    this.index.abort_upload(track.session).catch(() => undefined),
                    sleep(ABORT_CALL_MS, giveUp.signal).then(() => undefined, () => undefined)
                ]);
                giveUp.abort();
                stopped = result !== undefined && 'Ok' in result;
            }
            throw new AbortedError({
                operation: 'upload',
                sessionId: track.session,
                phase: track.phase,
                kept: options.keepSessionOnAbort === true,
                committing: track.phase === 'verifying' && !stopped
            });
        }
    }

    /** Sends `indexes`, then finishes, repairing what finish reports, until committed. */
    private async transfer(ticket: UploadTicket, source: UploadSource, indexes: number[], options: UploadOptions, track: Track, alreadySent = 0n): Promise<Asset> {
        const report = reporter(options.onProgress, source.size);
        const progress = { bytesSent: Number(alreadySent), report };
        track.phase = 'sending';
        report('sending', progress.bytesSent);
        await this.sendChunks(ticket, source, indexes, options, progress);
        for (let round = 0; ; round++) {
            track.phase = 'verifying';
            const finished = await this.finish(ticket.session_id, source.size, options);
            if ('Ok' in finished) {
                report('verifying', source.size);
                return finished.Ok;
            }
            const error = fromVariant(finished.Err);
            if (round >= MAX_FINISH_ROUNDS) throw error;
            track.phase = 'sending';
            if (error instanceof ChecksumMismatchError) {
                await this.resend(ticket, source, [error.chunkIndex], options, progress);
            } else if (error instanceof MissingChunksError) {
                // `missing` lists at most 1,000 chunks: ask the bucket for the full picture.
                const { missing } = await this.missingChunks(ticket, options);
                await this.sendChunks(ticket, source, missing, options, progress);
            } else if (error instanceof HashMismatchError && round === 0) {
                // Without a checkpoint to blame, send everything once more; a second mismatch is final.
                await this.resend(ticket, source, range(ticket.chunk_count), options, progress);
            } else {
                throw error;
            }
        }
    }

    /**
     * Sends again what a failed verification asks for. The index re-opens the bucket's session before it
     * answers; when the bucket was stopped meanwhile that call is lost and the session stays sealed, and
     * the bucket refuses chunks until the next finish_upload verifies again and re-opens it. So a sealed
     * session sends nothing and goes on to that next round.
     */
    private async resend(ticket: UploadTicket, source: UploadSource, indexes: number[], options: UploadOptions, progress: { bytesSent: number; report: Report }): Promise<void> {
        const status = await this.uploadStatus(ticket.bucket, ticket.session_id, options);
        if ('sealed' in status.state) return;
        await this.sendChunks(ticket, source, indexes, options, progress);
    }

    /** One finish_upload, reporting the index's verification progress while it runs (when asked to). */
    private async finish(sessionId: bigint, total: number, options: UploadOptions): Promise<Result<Asset>> {
        const report = reporter(options.onProgress, total);
        report('verifying', 0);
        let polling: ReturnType<typeof setInterval> | undefined;
        if (options.onProgress !== undefined) {
            let last = 0n;
            let asking = false;
            polling = setInterval(() => {
                if (asking) return;
                asking = true;
                this.index
                    .upload_session(sessionId)
                    .then((info: Result<SessionInfo>) => {
                        if ('Ok' in info && info.Ok.verified_bytes > last && polling !== undefined) {
                            last = info.Ok.verified_bytes;
                            report('verifying', Number(last));
                        }
                    })
                    .catch(() => undefined)
                    .finally(() => (asking = false));
            }, VERIFY_POLL_MS);
        }
        try {
            return await this.call(options.retry, options.signal, () => this.index.finish_upload(sessionId), true);
        } finally {
            clearInterval(polling);
            polling = undefined;
        }
    }

    private async sendChunks(ticket: UploadTicket, source: UploadSource, indexes: number[], options: UploadOptions, progress: { bytesSent: number; report: Report }): Promise<void> {
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
            progress.bytesSent = Math.min(progress.bytesSent + bytes.length, source.size);
            progress.report('sending', progress.bytesSent, index);
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
            await this.breathe();
            signal?.throwIfAborted();
            let error: unknown;
            try {
                const result = await untilAborted(run(), signal);
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
     * Downloads an asset, `concurrency` chunks at a time, and checks its SHA-256 end to end.
     *
     * - Without `destination`, the bytes are returned once verified.
     * - With a file path (Node), they are streamed to a temporary file beside it, renamed into place only
     *   once verified; nothing is left behind on failure.
     * - With a {@link DownloadSink}, they are written to it in order as they arrive (memory stays bounded),
     *   and verified at the end: on an {@link IntegrityError} the sink has received bytes that must be
     *   discarded.
     *
     * @throws {@link IntegrityError} when the bytes do not hash to the asset's SHA-256;
     *   {@link AbortedError} when `options.signal` fires (before or during)
     */
    async download(assetId: bigint, destination?: undefined, options?: DownloadOptions): Promise<Uint8Array>;
    async download(assetId: bigint, destination: string, options?: DownloadOptions): Promise<{ path: string; asset: Asset }>;
    async download(assetId: bigint, destination: DownloadSink, options?: DownloadOptions): Promise<{ asset: Asset }>;
    async download(assetId: bigint, destination?: string | DownloadSink, options: DownloadOptions = {}): Promise<Uint8Array | { path?: string; asset: Asset }> {
        try {
            options.signal?.throwIfAborted();
            return await this.receive(assetId, destination, options);
        } catch (error) {
            if (options.signal?.aborted && !(error instanceof AbortedError)) throw new AbortedError({ operation: 'download' });
            throw error;
        }
    }

    private async receive(assetId: bigint, destination: string | DownloadSink | undefined, options: DownloadOptions): Promise<Uint8Array | { path?: string; asset: Asset }> {
        const found = await this.assetRecord(assetId, options);
        // An encrypted asset: chunks are decrypted as they arrive; the SHA-256 still covers the ciphertext.
        const opened = found.content_type === ENCRYPTED_CONTENT_TYPE ? await this.keys.open(assetId) : undefined;
        const asset = opened?.asset ?? found;
        const bucket = this.bucket(asset.bucket);
        const failures = { count: 0 };
        // A reader of someone else's encrypted private asset reads chunks over HTTP with a token (made on first use).
        let tokenReader: Promise<(chunk: number) => Promise<Uint8Array>> | undefined;
        const uncertified =
            opened && 'private' in asset.visibility && asset.owner.toText() !== this.principal.toText()
                ? async (index: number) => (await (tokenReader ??= tokenChunkReader(this.index, bucket, asset, this.principal)))(index)
                : (index: number) => this.attempt<Uint8Array>(options.retry, options.signal, () => bucket.get_chunk(asset.id, index), failures);
        const readChunk = (await this.certifiedReader(asset, bucket, uncertified, opened !== undefined, options, failures)) ?? uncertified;
        const concurrency = options.concurrency ?? 4;
        const total = Number(opened?.info.plaintext_size ?? asset.size);
        const report = reporter(options.onProgress, total);
        const hasher = new Sha256();
        const ready = new Map<number, Uint8Array>();
        let next = 0;
        let received = 0;
        let written = 0;
        let buffer: Uint8Array | undefined;
        let sink: DownloadSink & { finish?(ok: boolean): Promise<void> };
        if (destination === undefined) {
            buffer = new Uint8Array(total);
            sink = { write: async (bytes) => void buffer!.set(bytes, written - bytes.length) };
        } else if (typeof destination === 'string') {
            sink = await fileSink(destination);
        } else {
            sink = destination;
        }
        let ok = false;
        try {
            report('receiving', 0);
            // Chunks are hashed and written in order as they arrive; a window bounds how far fetching runs ahead.
            let writing = Promise.resolve();
            await pool(range(asset.chunk_count), concurrency, options.signal, async (index) => {
                while (index >= next + concurrency * 2) await sleep(1, options.signal);
                const bytes: Uint8Array = await readChunk(index);
                ready.set(index, bytes);
                const drain = async () => {
                    for (let chunk = ready.get(next); chunk !== undefined; chunk = ready.get(next)) {
                        ready.delete(next);
                        hasher.update(chunk);
                        received += chunk.length;
                        const plain = opened ? await opened.decrypt(next, chunk) : chunk;
                        written += plain.length;
                        await sink.write(plain);
                        report('receiving', written, next);
                        next++;
                    }
                };
                writing = writing.then(drain);
                await writing;
            });
            await writing;
            const digest = hasher.digest();
            if (toHex(digest) !== toHex(asset.sha256) || received !== Number(asset.size) || written !== total) {
                throw new IntegrityError(`Asset ${asset.id} failed verification: got ${received} bytes hashing to ${toHex(digest)}, expected ${asset.size} bytes hashing to ${toHex(asset.sha256)}. Download it again.`);
            }
            ok = true;
        } finally {
            await sink.finish?.(ok);
        }
        if (buffer !== undefined) return buffer;
        return typeof destination === 'string' ? { path: destination, asset } : { asset };
    }

    /**
     * Reads chunks as certified `http_request` responses verified one by one (client/certified.ts), when
     * the transport knows the network's root key and the platform has the verifier; else undefined. A
     * private asset's token comes from the index at the start of a download (owner, or reader of an encrypted
     * asset), and again if the bucket refuses it mid-download.
     */
    private async certifiedReader(asset: Asset, bucket: Service, uncertified: (chunk: number) => Promise<Uint8Array>, encrypted: boolean, options: DownloadOptions, failures: { count: number }): Promise<((chunk: number) => Promise<Uint8Array>) | undefined> {
        const rootKey = this.transport.rootKey?.();
        if (rootKey === undefined || asset.chunk_count === 0) return undefined;
        const verify = await responseVerifier();
        if (verify === undefined) return undefined;
        const priv = 'private' in asset.visibility;
        const tokenPath = async (): Promise<string> => {
            const url = await this.attempt<AssetUrl>(options.retry, options.signal, () => this.index.asset_url(asset.id, [3600])).catch((error) => {
                throw encrypted && error instanceof UnauthorizedError ? new NotSharedError(asset.id, this.principal) : error;
            });
            return url.path;
        };
        return certifiedChunkReader({
            asset,
            path: priv ? await tokenPath() : `/a/${asset.id}`,
            // A download that outlasts its token (an hour) gets a fresh one on the bucket's 403.
            refreshPath: priv ? tokenPath : undefined,
            rootKey,
            verify,
            principal: this.principal,
            uncertified,
            httpRequest: (request) => this.attempt<HttpResponse>(options.retry, options.signal, async () => ({ Ok: await bucket.http_request(request) }), failures)
        });
    }

    /**
     * Reads an asset's record. @throws {@link AssetNotFoundError}, {@link UnauthorizedError}
     * ({@link NotSharedError} for an encrypted asset not shared with the caller)
     */
    async getAsset(assetId: bigint): Promise<Asset> {
        return this.assetRecord(assetId, {});
    }

    private async assetRecord(assetId: bigint, options: { retry?: RetryPolicy; signal?: AbortSignal }): Promise<Asset> {
        return this.attempt<Asset>(options.retry, options.signal, () => this.index.get_asset(assetId)).catch((error) => {
            // The index's refusal of an encrypted asset the caller is not (or no longer) a reader of.
            throw error instanceof UnauthorizedError && error.message.includes('encrypted and not shared') ? new NotSharedError(assetId, this.principal) : error;
        });
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

    /**
     * Lets `reader` download and decrypt an encrypted asset (owner only): the asset's data key, opened with
     * the owner's vetKey (derived once per client, or known from uploading it here), is wrapped to the
     * reader's principal and handed to the index, which releases it to the reader only. Sharing again
     * is harmless.
     *
     * @throws {@link UnauthorizedError} (not the owner), {@link InvalidArgumentError} (not encrypted, or
     *   the reader is anonymous or the owner), {@link LimitExceededError} (too many readers), {@link RateLimitedError}
     */
    async share(assetId: bigint, reader: Principal): Promise<void> {
        const access = await this.keys.access(assetId);
        const wrapped = wrapDataKey(await this.keys.publicKey(), reader, await this.keys.dataKey(access));
        await this.attempt(undefined, undefined, () => this.index.share(assetId, reader, wrapped));
    }

    /**
     * Stops the index releasing an encrypted asset's key to `reader` (owner only). This cannot take back
     * what the reader already downloaded and decrypted, nor a key it kept: {@link reencrypt} if the
     * stored content itself must change keys.
     */
    async unshare(assetId: bigint, reader: Principal): Promise<void> {
        await this.attempt(undefined, undefined, () => this.index.unshare(assetId, reader));
    }

    /**
     * An encrypted asset's record, format and readers (the owner sees whom it is shared with).
     * @throws {@link NotSharedError} for a caller it is not shared with; {@link InvalidArgumentError} if not encrypted
     */
    async encryption(assetId: bigint): Promise<{ asset: Asset; info: EncryptionInfo; readers: Principal[] }> {
        const access = await this.keys.access(assetId);
        return { asset: access.asset, info: access.encryption, readers: access.readers };
    }

    /**
     * Re-encrypts an encrypted asset under a new data key (owner only): downloads and decrypts it, uploads
     * it again encrypted (same name, type, visibility and chunk size), shares the new asset with the
     * current readers and deletes the old one. After an {@link unshare}, this puts the content out of reach
     * of a former reader who kept the old key. Costs a download, an upload and one share per reader.
     *
     * @returns the new asset (a new id)
     */
    async reencrypt(assetId: bigint, options: Pick<UploadOptions, 'onProgress' | 'signal' | 'concurrency'> = {}): Promise<Asset> {
        const { asset, info, readers } = await this.encryption(assetId);
        if (asset.owner.toText() !== this.principal.toText()) throw new UnauthorizedError(`Only the owner of asset ${assetId} may re-encrypt it.`);
        const plaintext = await this.download(assetId, undefined, { signal: options.signal, concurrency: options.concurrency });
        const fresh = await this.upload(plaintext, {
            ...options,
            encrypt: true,
            name: asset.name,
            contentType: info.content_type,
            visibility: 'public' in asset.visibility ? 'public' : 'private',
            chunkSize: asset.chunk_size
        });
        for (const reader of readers) await this.share(fresh.id, reader);
        await this.deleteAsset(assetId);
        return fresh;
    }

    /** Iterates over the encrypted assets shared with this client's principal, in the order they were shared. */
    async *listSharedWithMe(options: { pageSize?: number } = {}): AsyncGenerator<Asset> {
        let cursor: [] | [bigint] = [];
        do {
            const page: AssetPage = await this.attempt(undefined, undefined, () => this.index.list_shared_with_me({ cursor, limit: [options.pageSize ?? 100] }));
            yield* page.assets;
            cursor = page.next_cursor;
        } while (cursor.length > 0);
    }

    /** Aborts an upload session and frees what it holds. */
    async abortUpload(sessionId: bigint): Promise<void> {
        await this.attempt(undefined, undefined, () => this.index.abort_upload(sessionId));
    }

    /** The deployment's buckets with their capacity and use. */
    async buckets(): Promise<BucketInfo[]> {
        return this.index.buckets();
    }

    /** The index's settings (limits such as `min_chunk_size`, quotas, cycles thresholds); anyone may read them. */
    async config(): Promise<Config> {
        return this.index.config();
    }

    /** Totals of the deployment: assets, bytes, sessions, buckets, pending work. */
    async stats(): Promise<Stats> {
        return this.index.stats();
    }
}

/** How long an abort waits for the index to drop the session. */
const ABORT_CALL_MS = 2000;

/** How often the client asks the index how far verification got, while finish_upload runs. */
const VERIFY_POLL_MS = 500;

/** Where an upload is, for the error an abort produces. */
interface Track {
    phase: Progress['phase'];
    session?: bigint;
}

type Report = (phase: Progress['phase'], bytesDone: number, chunkIndex?: number) => void;

function reporter(onProgress: ((p: Progress) => void) | undefined, bytesTotal: number): Report {
    if (onProgress === undefined) return () => {};
    return (phase, bytesDone, chunkIndex) => onProgress(chunkIndex === undefined ? { phase, bytesDone, bytesTotal } : { phase, bytesDone, bytesTotal, chunkIndex });
}

/** `promise`, or the signal's reason as soon as it fires (the work itself goes on, unobserved). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (signal === undefined) return promise;
    return new Promise<T>((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
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
