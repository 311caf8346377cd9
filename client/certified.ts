/**
 * Downloads checked chunk by chunk against the subnet's certification: each chunk is fetched as the
 * certified 206 (or 200) the bucket's `http_request` query answers `Range: bytes=<chunk start>-` with,
 * and verified with `@dfinity/response-verification` (HTTP gateway protocol v2, body covered) against the
 * network's root key before it is used. A chunk that does not verify is fetched again at once, a
 * bounded number of times, then the download fails naming that chunk: a faulty or dishonest replica
 * cannot make the client hash a whole file before noticing.
 *
 * Used by `SiloClient.download` when its transport knows the network's root key (`AgentTransport`) and
 * the platform has the verifier (Node's build, or in a browser the web build once its Wasm loads).
 * Otherwise (the embedded `ReplicaTransport`, whose in-process queries need no proof, or a page where the
 * Wasm cannot be fetched) only the end-of-download SHA-256 check applies.
 */
import type { Principal } from '@dfinity/principal';

import type { Asset, HttpRequest, HttpResponse } from '../shared/types';
import { AssetNotFoundError, IntegrityError, NotSharedError, UnauthorizedError } from './errors';
import type { VerifyResponse } from './node_io';

/** How many times one chunk is fetched before a verification failure is final. */
export const CHUNK_ATTEMPTS = 3;
/** How far a certificate's time may be from the client's clock (the HTTP gateways allow 5 minutes). */
const MAX_CERT_TIME_OFFSET_NS = 300_000_000_000n;
/** Verification version 2: the body and the certified headers are covered, not skipped. */
const MIN_VERSION = 2;

/** What a certified chunk reader needs. */
export interface CertifiedChunkSource {
    asset: Asset;
    /** `http_request` of the asset's bucket (a query), e.g. through the client's transport. */
    httpRequest: (request: HttpRequest) => Promise<HttpResponse>;
    /** The asset's path, `/a/<id>`, with `?token=…` for a private asset. */
    path: string;
    /**
     * A private asset's fresh path (a new token from the index's `asset_url`): asked for when the bucket
     * answers a chunk with its certified 403, as when a download outlasts its token. The chunk is then
     * fetched once more with it; a second 403 is final. Concurrent refusals share one refresh.
     */
    refreshPath?: () => Promise<string>;
    /** The network's root key (DER), what certificates are signed with. */
    rootKey: Uint8Array;
    verify: VerifyResponse;
    /** Whoever downloads: named in a {@link NotSharedError}. */
    principal: Principal;
    /** Nanoseconds since the epoch; default: the local clock. */
    now?: () => bigint;
    /**
     * Reads a chunk the bucket does not serve over HTTP yet (its certified 503: a large asset is certified
     * by timers for a while after its commit); such a chunk is covered by the whole-file SHA-256 only.
     */
    uncertified: (chunk: number) => Promise<Uint8Array>;
}

/**
 * A reader of `asset`'s chunks that returns a chunk only once its response verified, re-fetching a chunk
 * that does not up to {@link CHUNK_ATTEMPTS} times in all.
 * @throws (from the reader) {@link IntegrityError} naming the chunk when no attempt verified;
 *   {@link NotSharedError} / {@link UnauthorizedError} when the bucket refuses the token (403);
 *   {@link AssetNotFoundError} when the asset is gone (a certified 404)
 */
export function certifiedChunkReader(source: CertifiedChunkSource): (chunk: number) => Promise<Uint8Array> {
    const { asset } = source;
    let path = source.path;
    let refreshing: Promise<string> | undefined;
    // The path after `stale` was refused: a chunk refused with an older token than the current one just retries.
    const refresh = (stale: string): Promise<string> => {
        if (path !== stale) return Promise.resolve(path);
        refreshing ??= source.refreshPath!().then(
            (fresh) => {
                path = fresh;
                refreshing = undefined;
                return fresh;
            },
            (error: unknown) => {
                refreshing = undefined;
                throw error;
            }
        );
        return refreshing;
    };
    const size = Number(asset.size);
    const now = source.now ?? (() => BigInt(Date.now()) * 1_000_000n);
    return async (chunk) => {
        const start = chunk * asset.chunk_size;
        const end = Math.min(start + asset.chunk_size, size) - 1;
        let problem = '';
        let url = path;
        let refreshed = false;
        for (let attempt = 1; attempt <= CHUNK_ATTEMPTS; attempt++) {
            const request: HttpRequest = { method: 'GET', url, headers: [['Range', `bytes=${start}-`]], body: new Uint8Array(), certificate_version: [MIN_VERSION] };
            const response = await source.httpRequest(request);
            const body = new Uint8Array(response.body);
            try {
                source.verify(
                    { url: request.url, method: request.method, headers: request.headers, body: request.body, certificate_version: [MIN_VERSION] },
                    { status_code: response.status_code, headers: response.headers, body },
                    asset.bucket.toUint8Array(),
                    now(),
                    MAX_CERT_TIME_OFFSET_NS,
                    source.rootKey,
                    MIN_VERSION
                );
            } catch (error) {
                problem = `its response does not verify against the subnet's certificate (${(error as { message?: string }).message ?? String(error)})`;
                continue;
            }
            // Certified, so what it says is the bucket's own answer: a refusal is final, not corruption.
            if (response.status_code === 503) return source.uncertified(chunk);
            if (response.status_code === 404) throw new AssetNotFoundError(asset.id);
            if (response.status_code === 403 && source.refreshPath !== undefined && !refreshed) {
                // The token may have expired mid-download: one fresh token, and this fetch does not count as an attempt.
                refreshed = true;
                url = await refresh(url);
                attempt--;
                continue;
            }
            if (response.status_code === 403) {
                throw asset.owner.toText() === source.principal.toText()
                    ? new UnauthorizedError(`The bucket refused the download token for asset ${asset.id}: download it again for a fresh one.`)
                    : new NotSharedError(asset.id, source.principal);
            }
            const range = header(response, 'content-range');
            const holds = response.status_code === 200 ? start === 0 && end === size - 1 : response.status_code === 206 && range === `bytes ${start}-${end}/${size}`;
            if (holds && body.length === end - start + 1) return body;
            problem = `the bucket answered ${response.status_code}${range === undefined ? '' : ` (${range})`} with ${body.length} bytes, not bytes ${start}-${end}`;
        }
        throw new IntegrityError(`Chunk ${chunk} of asset ${asset.id} failed verification ${CHUNK_ATTEMPTS} times: ${problem}. The replica answering may be faulty; try again later or through another boundary node.`);
    };
}

function header(response: HttpResponse, name: string): string | undefined {
    return response.headers.find(([key]) => key.toLowerCase() === name)?.[1];
}
