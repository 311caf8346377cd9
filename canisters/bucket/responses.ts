/**
 * Every response a bucket can give, as data: what `http_request` sends and what certify.ts certifies are
 * built by the same functions, so a certified response and a served one cannot drift apart. Bodies that
 * are not chunks are fixed texts (the body is certified: no time, token or request detail goes in them).
 *
 * Every header is certified (gateways pass only certified headers on), so header values depend on the
 * asset and on `?download` only; `?download` responses are certified as variants of their own.
 */
import { expectedChunkLength } from '../../shared/constants';
import { type MediaType, servedMediaType } from '../../shared/media_type';
import { toHex } from '../../shared/sha256';
import type { AssetMeta, HeaderField } from '../../shared/types';
import type { BucketSession } from './state';

export interface Response {
    status: number;
    headers: HeaderField[];
    body: Uint8Array;
}

export interface ServedAssetInfo {
    id: bigint;
    session: BucketSession;
    meta: AssetMeta;
    size: number;
    public: boolean;
}

/** Uploaded HTML or SVG must not run script in the bucket's origin; PDFs need their viewer (no sandbox). */
const CSP = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; font-src 'self' data:; form-action 'none'; base-uri 'none'";
const EXPOSED = 'Accept-Ranges, Content-Range, Content-Length, Content-Disposition, ETag';
export const ALLOWED_METHODS = 'GET, HEAD, OPTIONS';

const text = (body: string) => new TextEncoder().encode(body);
const NOSNIFF: HeaderField = ['X-Content-Type-Options', 'nosniff'];

function plain(status: number, message: string, extra: HeaderField[] = []): Response {
    return { status, headers: [['Content-Type', 'text/plain; charset=utf-8'], ['Cache-Control', 'no-store'], NOSNIFF, ...extra], body: text(`${message}\n`) };
}

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

export function etagOf(meta: AssetMeta): string {
    return `"${toHex(meta.sha256)}"`;
}

/** Headers of every answer about a private asset, refusals included. */
const privacy: HeaderField[] = [['Referrer-Policy', 'no-referrer'], ['X-Robots-Tag', 'noindex']];

function assetHeaders(asset: ServedAssetInfo, download: boolean): HeaderField[] {
    const type = contentType(asset.meta);
    const headers: HeaderField[] = [
        ['Content-Type', type.text],
        ['Content-Disposition', contentDisposition(asset.meta.name, download)],
        ['Accept-Ranges', 'bytes'],
        ['ETag', etagOf(asset.meta)],
        ['Content-Security-Policy', type.essence === 'application/pdf' ? CSP : `${CSP}; sandbox`],
        NOSNIFF
    ];
    if (asset.public) {
        headers.push(['Cache-Control', 'public, max-age=31536000, immutable'], ['Access-Control-Allow-Origin', '*'], ['Access-Control-Expose-Headers', EXPOSED]);
    } else {
        headers.push(['Cache-Control', 'private, no-store'], ...privacy);
    }
    return headers;
}

/** Bytes [start, end] (inclusive) of chunk `index`. */
export function chunkSpan(asset: ServedAssetInfo, index: number): { start: number; end: number } {
    const start = index * asset.session.chunk_size;
    return { start, end: start + expectedChunkLength(asset.session, index) - 1 };
}

/**
 * The response carrying chunk `index`: a 206 with its `Content-Range`, or for a file of one chunk asked
 * without `Range`, a 200 (`whole`). `body` is the chunk (empty when only the hash is wanted).
 */
export function chunkResponse(asset: ServedAssetInfo, index: number, body: Uint8Array, download: boolean, whole: boolean): Response {
    const { start, end } = chunkSpan(asset, index);
    const headers = assetHeaders(asset, download);
    if (whole) return { status: 200, headers: [...headers, ['Content-Length', String(asset.size)]], body };
    return { status: 206, headers: [...headers, ['Content-Range', `bytes ${start}-${end}/${asset.size}`], ['Content-Length', String(end - start + 1)]], body };
}

/** The certified variants of chunk `index`: inline and `?download`; a file of one chunk has its 200 and its 206. */
export function chunkVariants(asset: ServedAssetInfo, index: number): Response[] {
    const none = new Uint8Array(0);
    const variants: Response[] = [];
    for (const download of [false, true]) {
        if (asset.session.chunk_count === 1) variants.push(chunkResponse(asset, index, none, download, true));
        variants.push(chunkResponse(asset, index, none, download, false));
    }
    return variants;
}

export function emptyAsset(asset: ServedAssetInfo, download: boolean): Response {
    return { status: 200, headers: [...assetHeaders(asset, download), ['Content-Length', '0']], body: new Uint8Array(0) };
}

export function notModified(asset: ServedAssetInfo): Response {
    return { status: 304, headers: assetHeaders(asset, false).filter(([name]) => name !== 'Content-Type' && name !== 'Content-Disposition'), body: new Uint8Array(0) };
}

export function rangeNotSatisfiable(asset: ServedAssetInfo): Response {
    const kept = assetHeaders(asset, false).filter(([name]) => name !== 'Content-Type' && name !== 'Content-Disposition');
    return { status: 416, headers: [['Content-Type', 'text/plain; charset=utf-8'], ['Content-Range', `bytes */${asset.size}`], ...kept], body: text(`Range not satisfiable: the asset has ${asset.size} bytes.\n`) };
}

export type Refusal = 'missing' | 'expired' | 'invalid';

export function forbidden(asset: ServedAssetInfo, why: Refusal): Response {
    const id = asset.id;
    const message =
        why === 'missing'
            ? `Asset ${id} is private: its URL needs a token (the owner gets one from asset_url, or \`silo url ${id}\`).`
            : why === 'expired'
              ? 'The token of this URL has expired; ask the owner for a new one.'
              : `The token of this URL is not valid for asset ${id}.`;
    return plain(403, message, privacy);
}

/** Paths below an asset's name (`/a/<id>/<name>/...`). */
export function deepNotFound(): Response {
    return plain(404, 'Not found. Silo serves assets at /a/<asset id> and /a/<asset id>/<file name>.');
}

export const globalNotFound = deepNotFound;

export function unknownAsset(): Response {
    return plain(404, 'No such asset here (unknown, deleted, or not yet committed).');
}

/** An asset committed here whose certification is not finished (right after commit, or after an upgrade). */
export function preparing(): Response {
    return plain(503, 'This asset is being prepared for HTTP serving; retry in a minute.', [['Retry-After', '60']]);
}

export function methodNotAllowed(): Response {
    return plain(405, 'Method not allowed: use GET or HEAD.', [['Allow', ALLOWED_METHODS]]);
}

export function options(): Response {
    return {
        status: 204,
        headers: [
            ['Access-Control-Allow-Origin', '*'],
            ['Access-Control-Allow-Methods', ALLOWED_METHODS],
            ['Access-Control-Allow-Headers', 'Range, If-None-Match, If-Range'],
            ['Access-Control-Max-Age', '86400'],
            NOSNIFF
        ],
        body: new Uint8Array(0)
    };
}

/** Everything certified for an asset besides its chunks. */
export function assetExtras(asset: ServedAssetInfo): Response[] {
    const extras = [notModified(asset), rangeNotSatisfiable(asset), deepNotFound(), methodNotAllowed(), options()];
    if (asset.session.chunk_count === 0) extras.push(emptyAsset(asset, false), emptyAsset(asset, true));
    if (!asset.public) extras.push(forbidden(asset, 'missing'), forbidden(asset, 'expired'), forbidden(asset, 'invalid'));
    return extras;
}

/** The fixed sets: outside /a/, and /a/<id> for ids not certified here. */
export function globalResponses(): Response[] {
    return [globalNotFound()];
}

export function wildcardResponses(): Response[] {
    return [unknownAsset(), preparing(), methodNotAllowed(), options()];
}
