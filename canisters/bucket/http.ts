/**
 * `http_request`: committed assets over the IC's HTTP gateways, at `/a/<id>` and `/a/<id>/<any name>`.
 *
 * A response carries at most one chunk, read from only the pieces it needs, so no file size brings a
 * query near the instruction or reply limits. Every response is certified (certify.ts, HTTP gateway
 * protocol v2, response-only): a file larger than one chunk answers a plain GET with the 206 of its first
 * chunk, and `Range: bytes=a-…` (or `-n`) with the 206 of the whole chunk holding byte `a` — its
 * `Content-Range` says which bytes it carries; a gateway cuts the requested range out of it (see
 * replica/http/gateway.ts). The certified bodies of chunks are their SHA-256s from the read-back.
 */
import { certificateHeaders, exprPath, responseHash, type Target } from '../../shared/certification/http';
import { sha256 } from '../../shared/sha256';
import { checkUrlToken, TOKEN_PARAM } from '../../shared/url_token';
import type { HeaderField, HttpRequest, HttpResponse } from '../../shared/types';
import { urlSecret } from './assets';
import { assetInfo, certification, isPublished } from './certify';
import { readChunk } from './logic';
import {
    chunkResponse,
    chunkSpan,
    deepNotFound,
    emptyAsset,
    etagOf,
    forbidden,
    globalNotFound,
    methodNotAllowed,
    notModified,
    options,
    preparing,
    rangeNotSatisfiable,
    type Response,
    type ServedAssetInfo,
    unknownAsset
} from './responses';
import type { BucketState } from './state';

export { contentDisposition } from './responses';

export interface HttpEnv {
    now: bigint;
    /** `ic0.data_certificate`, present in non-replicated queries. */
    certificate?: Uint8Array;
}

function header(request: HttpRequest, name: string): string | undefined {
    const lower = name.toLowerCase();
    return request.headers.find(([key]) => key.toLowerCase() === lower)?.[1];
}

/** Decodes a query component; a malformed escape leaves it as it is. */
function decode(component: string): string {
    try {
        return decodeURIComponent(component.replace(/\+/g, ' '));
    } catch {
        return component;
    }
}

/** Path and query of a request URL (gateways send the path; a full URL is accepted too). No URLSearchParams in Azle. */
function splitUrl(url: string): { path: string; query: Map<string, string> } {
    const withoutOrigin = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
    const at = withoutOrigin.indexOf('?');
    const query = new Map<string, string>();
    if (at >= 0) {
        for (const pair of withoutOrigin.slice(at + 1).split('&')) {
            if (pair === '') continue;
            const eq = pair.indexOf('=');
            const key = decode(eq < 0 ? pair : pair.slice(0, eq));
            if (!query.has(key)) query.set(key, eq < 0 ? '' : decode(pair.slice(eq + 1)));
        }
    }
    return { path: at < 0 ? withoutOrigin : withoutOrigin.slice(0, at), query };
}

/** A canonical asset id (decimal, no leading zero, below 2^64), or null: `/a/007` is not `/a/7`. */
export function assetIdOf(segment: string): bigint | null {
    if (!/^(0|[1-9]\d{0,19})$/.test(segment)) return null;
    const id = BigInt(segment);
    return id < 1n << 64n ? id : null;
}

/**
 * The path's segments as the HTTP gateways' verifiers see them: percent-decoded, split at `/`, empty
 * segments dropped, and "" appended for a path ending in `/` (the directory, unlike the file).
 */
export function pathSegments(path: string): string[] {
    let decoded = path;
    try {
        decoded = decodeURIComponent(path);
    } catch {
        // a malformed escape: the verifier refuses such a URL anyway
    }
    const parts = decoded.split('/').filter((p) => p !== '');
    if (decoded.endsWith('/')) parts.push('');
    return parts;
}

/** If-None-Match uses the weak comparison: `W/` prefixes are ignored; `*` matches. */
function noneMatch(value: string, etag: string): boolean {
    return value.split(',').some((tag) => {
        const t = tag.trim();
        return t === '*' || t.replace(/^W\//, '') === etag;
    });
}

export type ByteRange = { start: number; end: number };

/**
 * A single `bytes=a-b`, `a-` or `-n` range against `size`: the range (end inclusive, clamped), 'unsatisfiable',
 * or null when the header is to be ignored (malformed, or several ranges: the whole answer is sent instead).
 */
export function parseRange(value: string, size: number): ByteRange | 'unsatisfiable' | null {
    const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value);
    if (match === null) return null;
    const [, a, b] = match;
    if (a === '' && b === '') return null;
    if (a === '') {
        const suffix = Number(b);
        if (suffix === 0 || size === 0) return 'unsatisfiable';
        return { start: Math.max(0, size - suffix), end: size - 1 };
    }
    const start = Number(a);
    if (b !== '' && Number(b) < start) return null;
    if (start >= size) return 'unsatisfiable';
    return { start, end: b === '' ? size - 1 : Math.min(Number(b), size - 1) };
}

// ------------------------------------------------------------------ serving

const utf8 = (text: string) => new TextEncoder().encode(text);

/** Serves one request. Never traps on input: every malformed request gets a certified 4xx. */
export function httpRequest(state: BucketState, env: HttpEnv, request: HttpRequest): HttpResponse {
    const { response, target, bodyHash } = serve(state, env, request);
    const headers: HeaderField[] = [...response.headers];
    // The response hash is computed from what is sent; for a chunk, from the digest kept at verification.
    const hash = responseHash(response.status, headers, bodyHash ?? sha256(response.body));
    headers.push(...certificateHeaders(env.certificate, () => certification(state).witness(target, hash), exprPath(target)));
    return { status_code: response.status, headers, body: response.body };
}

interface Served {
    response: Response;
    target: Target;
    /** The body's SHA-256 when known without hashing it (a chunk's digest). */
    bodyHash?: Uint8Array;
}

function serve(state: BucketState, env: HttpEnv, request: HttpRequest): Served {
    const method = request.method.toUpperCase();
    const { path, query } = splitUrl(request.url);
    const parts = pathSegments(path);
    if (parts[0] !== 'a') return { response: globalNotFound(), target: { kind: 'global' } };

    const segment = parts[1];
    const id = segment === undefined ? null : assetIdOf(segment);
    if (id === null || !isPublished(state, id)) {
        // `/a/<*>`: the witness proves the id segment (and "", which the verifier also tries) absent.
        const absent = segment === undefined ? [utf8('<$>')] : segment === '' ? [utf8('')] : [utf8(segment), utf8('')];
        const target: Target = { kind: 'unknown', absent };
        if (method === 'OPTIONS') return { response: options(), target };
        if (method !== 'GET' && method !== 'HEAD') return { response: methodNotAllowed(), target };
        const session = id === null ? undefined : state.sessions.get(id);
        return { response: session !== undefined && 'committed' in session.state ? preparing() : unknownAsset(), target };
    }
    const target: Target = { kind: 'asset', id, exact: parts.length === 2 };
    if (method === 'OPTIONS') return { response: options(), target };
    if (method !== 'GET' && method !== 'HEAD') return { response: methodNotAllowed(), target };
    if (parts.length > 3) return { response: deepNotFound(), target };
    const asset = assetInfo(state, id);
    if (asset === null) throw new Error(`invariant broken: asset ${id} is certified but not committed with metadata`);

    if (!asset.public) {
        const token = query.get(TOKEN_PARAM) ?? null;
        const secret = urlSecret(state);
        if (token === null || secret === undefined) return { response: forbidden(asset, 'missing'), target };
        const verdict = checkUrlToken(secret, id, token, env.now / 1_000_000_000n);
        if (verdict !== 'valid') return { response: forbidden(asset, verdict), target };
    }

    const etag = etagOf(asset.meta);
    const ifNoneMatch = header(request, 'If-None-Match');
    if (ifNoneMatch !== undefined && noneMatch(ifNoneMatch, etag)) return { response: notModified(asset), target };

    let range = header(request, 'Range');
    const ifRange = header(request, 'If-Range');
    // If-Range with another entity tag (or a date: Silo sends no Last-Modified) asks for the whole asset.
    if (range !== undefined && ifRange !== undefined && ifRange.trim() !== etag) range = undefined;
    const parsed = range === undefined ? null : parseRange(range, asset.size);
    if (parsed === 'unsatisfiable') return { response: rangeNotSatisfiable(asset), target };
    const download = query.has('download');
    if (asset.session.chunk_count === 0) return { response: emptyAsset(asset, download), target };
    // The chunk holding the first byte asked for (the first chunk without Range), whole: that is what is certified.
    const index = parsed === null ? 0 : Math.floor(parsed.start / asset.session.chunk_size);
    return chunk(state, asset, index, download, parsed === null && asset.session.chunk_count === 1, target);
}

function chunk(state: BucketState, asset: ServedAssetInfo, index: number, download: boolean, whole: boolean, target: Target): Served {
    const digest = state.digests.get([asset.id, index]);
    if (digest === undefined) throw new Error(`invariant broken: chunk ${index} of certified asset ${asset.id} has no digest`);
    const { start, end } = chunkSpan(asset, index);
    const body = readChunk(state, asset.id, index, 0, end - start + 1);
    return { response: chunkResponse(asset, index, body, download, whole), target, bodyHash: digest };
}
