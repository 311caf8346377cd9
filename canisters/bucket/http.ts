/**
 * `http_request`: committed assets over the IC's HTTP gateways, at `/a/<id>` and `/a/<id>/<any name>`.
 *
 * A response carries at most one chunk (and at most `MAX_BODY_BYTES`), read from only the pieces it
 * needs, so no file size brings a query near the instruction or reply limits. A file larger than one
 * response answers a plain GET with 206 and `Content-Range`; the gateways fetch the rest with `Range`.
 * Responses skip certification (shared/certification) until full certification lands.
 */
import { expectedChunkLength } from '../../shared/constants';
import { skipCertificationHeaders } from '../../shared/certification';
import { toHex } from '../../shared/sha256';
import { type MediaType, servedMediaType } from '../../shared/media_type';
import { checkUrlToken, TOKEN_PARAM } from '../../shared/url_token';
import type { HeaderField, HttpRequest, HttpResponse } from '../../shared/types';
import { servedAsset, urlSecret } from './assets';
import { readChunk } from './logic';
import type { BucketSession, BucketState } from './state';
import type { AssetMeta } from '../../shared/types';

/**
 * Most body bytes in one response (above the largest chunk, so a response is one chunk at most). A whole
 * 1.9 MiB chunk costs ~0.18 B instructions to read and encode (`npm run bench http`), 4% of the 5 B
 * query limit, in a reply of ~1.9 MiB under the 3 MiB limit.
 */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface HttpEnv {
    now: bigint;
    /** `ic0.data_certificate`, present in non-replicated queries. */
    certificate?: Uint8Array;
}

/** Uploaded HTML or SVG must not run script in the bucket's origin; PDFs need their viewer (no sandbox). */
const CSP = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; font-src 'self' data:; form-action 'none'; base-uri 'none'";
const EXPOSED = 'Accept-Ranges, Content-Range, Content-Length, Content-Disposition, ETag';
const ALLOWED_METHODS = 'GET, HEAD, OPTIONS';

const text = (body: string) => new TextEncoder().encode(body);

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

/** The asset id in `/a/<id>` or `/a/<id>/<name>`, or null. */
export function assetIdOf(path: string): bigint | null {
    const match = /^\/a\/(\d{1,20})(?:\/[^/]*)?$/.exec(path);
    if (match === null) return null;
    const id = BigInt(match[1]);
    return id < 1n << 64n ? id : null;
}

function respond(status: number, headers: HeaderField[], body: Uint8Array, env: HttpEnv): HttpResponse {
    return {
        status_code: status,
        headers: [...headers, ['X-Content-Type-Options', 'nosniff'], ...skipCertificationHeaders(env.certificate)],
        body
    };
}

function plain(status: number, message: string, env: HttpEnv, extra: HeaderField[] = []): HttpResponse {
    return respond(status, [['Content-Type', 'text/plain; charset=utf-8'], ['Cache-Control', 'no-store'], ...extra], text(`${message}\n`), env);
}

// ------------------------------------------------------------------ header values

/** RFC 5987 `attr-char`s stay, everything else is percent-encoded UTF-8. */
function rfc5987(value: string): string {
    return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function contentDisposition(name: string, download: boolean): string {
    const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
    return `${download ? 'attachment' : 'inline'}; filename="${fallback}"; filename*=UTF-8''${rfc5987(name)}`;
}

/**
 * The stored type, parsed again (assets committed before the index checked types may hold anything):
 * one media type, or octet-stream. Exceptions are granted on its exact `essence` only.
 */
function contentType(meta: AssetMeta): MediaType {
    return servedMediaType(meta.content_type);
}

function etagOf(meta: AssetMeta): string {
    return `"${toHex(meta.sha256)}"`;
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

interface Asset {
    id: bigint;
    session: BucketSession;
    meta: AssetMeta;
    size: number;
    public: boolean;
}

function assetHeaders(asset: Asset, download: boolean): HeaderField[] {
    const type = contentType(asset.meta);
    const headers: HeaderField[] = [
        ['Content-Type', type.text],
        ['Content-Disposition', contentDisposition(asset.meta.name, download)],
        ['Accept-Ranges', 'bytes'],
        ['ETag', etagOf(asset.meta)],
        ['Content-Security-Policy', type.essence === 'application/pdf' ? CSP : `${CSP}; sandbox`]
    ];
    if (asset.public) {
        headers.push(['Cache-Control', 'public, max-age=31536000, immutable'], ['Access-Control-Allow-Origin', '*'], ['Access-Control-Expose-Headers', EXPOSED]);
    } else {
        headers.push(['Cache-Control', 'private, no-store'], ['Referrer-Policy', 'no-referrer'], ['X-Robots-Tag', 'noindex']);
    }
    return headers;
}

/** The bytes [start, end] of the asset, end within start's chunk (the caller clamps it). */
function readBytes(state: BucketState, asset: Asset, start: number, end: number): Uint8Array {
    const chunkSize = asset.session.chunk_size;
    const index = Math.floor(start / chunkSize);
    const offset = start - index * chunkSize;
    return readChunk(state, asset.id, index, offset, offset + (end - start + 1));
}

/** The part of [start, end] one response carries: to the end of start's chunk, at most MAX_BODY_BYTES. */
function clampPart(asset: Asset, start: number, end: number): number {
    const chunkSize = asset.session.chunk_size;
    const chunkEnd = Math.floor(start / chunkSize) * chunkSize + expectedChunkLength(asset.session, Math.floor(start / chunkSize)) - 1;
    return Math.min(end, chunkEnd, start + MAX_BODY_BYTES - 1);
}

/** Serves one request. Never traps on input: every malformed request gets a 4xx. HEAD answers carry no body. */
export function httpRequest(state: BucketState, env: HttpEnv, request: HttpRequest): HttpResponse {
    const response = serve(state, env, request);
    return request.method.toUpperCase() === 'HEAD' && response.body.length > 0 ? { ...response, body: new Uint8Array() } : response;
}

function serve(state: BucketState, env: HttpEnv, request: HttpRequest): HttpResponse {
    const method = request.method.toUpperCase();
    const { path, query } = splitUrl(request.url);
    const id = assetIdOf(path);
    if (id === null) return plain(404, 'Not found. Silo serves assets at /a/<asset id> and /a/<asset id>/<file name>.', env);
    if (method === 'OPTIONS') {
        return respond(204, [
            ['Access-Control-Allow-Origin', '*'],
            ['Access-Control-Allow-Methods', ALLOWED_METHODS],
            ['Access-Control-Allow-Headers', 'Range, If-None-Match, If-Range'],
            ['Access-Control-Max-Age', '86400']
        ], new Uint8Array(), env);
    }
    if (method !== 'GET' && method !== 'HEAD') return plain(405, `Method ${request.method} is not allowed: use GET or HEAD.`, env, [['Allow', ALLOWED_METHODS]]);

    const found = servedAsset(state, id);
    if ('missing' in found) {
        return found.missing === 'asset'
            ? plain(404, `Asset ${id} does not exist here (unknown, deleted, or not yet committed).`, env)
            : plain(503, `Asset ${id} is being prepared for HTTP serving; retry in a minute.`, env, [['Retry-After', '60']]);
    }
    const asset: Asset = { id, ...found, size: Number(found.session.size), public: 'public' in found.session.visibility };

    if (!asset.public) {
        const token = query.get(TOKEN_PARAM) ?? null;
        const secret = urlSecret(state);
        if (token === null || secret === undefined) return plain(403, `Asset ${id} is private: its URL needs a token (the owner gets one from asset_url, or \`silo url ${id}\`).`, env, privacy);
        const verdict = checkUrlToken(secret, id, token, env.now / 1_000_000_000n);
        if (verdict !== 'valid') return plain(403, verdict === 'expired' ? `The token of this URL has expired; ask the owner for a new one.` : `The token of this URL is not valid for asset ${id}.`, env, privacy);
    }

    const headers = assetHeaders(asset, query.has('download'));
    const etag = etagOf(asset.meta);
    const ifNoneMatch = header(request, 'If-None-Match');
    if (ifNoneMatch !== undefined && noneMatch(ifNoneMatch, etag)) {
        return respond(304, headers.filter(([name]) => name !== 'Content-Type' && name !== 'Content-Disposition'), new Uint8Array(), env);
    }

    let range = header(request, 'Range');
    const ifRange = header(request, 'If-Range');
    // If-Range with another entity tag (or a date: Silo sends no Last-Modified) asks for the whole asset.
    if (range !== undefined && ifRange !== undefined && ifRange.trim() !== etag) range = undefined;
    const parsed = range === undefined ? null : parseRange(range, asset.size);
    if (parsed === 'unsatisfiable') {
        const kept = headers.filter(([name]) => name !== 'Content-Type' && name !== 'Content-Disposition');
        return respond(416, [['Content-Type', 'text/plain; charset=utf-8'], ['Content-Range', `bytes */${asset.size}`], ...kept], text(`Range not satisfiable: the asset has ${asset.size} bytes.\n`), env);
    }
    const head = method === 'HEAD';

    if (parsed === null) {
        // The whole asset: 200 when one response holds it (and for HEAD, which reports the reassembled size),
        // else its first part as 206 without Content-Length (the gateway sets the total once reassembled).
        const end = asset.size === 0 ? -1 : clampPart(asset, 0, asset.size - 1);
        if (head || end === asset.size - 1) {
            const body = head || asset.size === 0 ? new Uint8Array() : readBytes(state, asset, 0, end);
            return respond(200, [...headers, ['Content-Length', String(asset.size)]], body, env);
        }
        return respond(206, [...headers, ['Content-Range', `bytes 0-${end}/${asset.size}`]], readBytes(state, asset, 0, end), env);
    }
    const end = clampPart(asset, parsed.start, parsed.end);
    const body = head ? new Uint8Array() : readBytes(state, asset, parsed.start, end);
    return respond(206, [...headers, ['Content-Range', `bytes ${parsed.start}-${end}/${asset.size}`], ['Content-Length', String(end - parsed.start + 1)]], body, env);
}

/** Headers of every answer about a private asset, refusals included. */
const privacy: HeaderField[] = [['Referrer-Policy', 'no-referrer'], ['X-Robots-Tag', 'noindex']];
