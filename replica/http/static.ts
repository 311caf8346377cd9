/**
 * Serves a directory of files at `/` (the web app's room): GET and HEAD, content types by extension,
 * `index.html` for a directory, nothing outside the directory. Without a directory, `/` answers a short
 * page saying what the server is.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

import mime from 'mime';

export interface StaticOptions {
    /** The directory to serve; absent or missing: only the built-in page. */
    dir?: string;
    /** The page `/` answers when there is no directory (HTML). */
    fallbackPage?: () => string;
    /**
     * Generated documents at fixed paths, answered before the directory is looked at (e.g. `silo start`'s
     * `/silo.json`, which tells the web app the index to use): path → body and content type.
     */
    documents?: Record<string, () => { body: string; type: string }>;
}

/**
 * The web app's Content-Security-Policy, sent with every response of the app's origin (the page also
 * carries it as a `<meta>`, which cannot say `frame-ancestors`): its own scripts and styles only (Wasm
 * for the agent's BLS verification), and network access to this origin (the IC HTTP interface) and
 * canisters' `<id>.localhost` hosts (previews, links) only.
 */
export const APP_CSP = [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "connect-src 'self' http://*.localhost:*",
    "img-src 'self' data: blob: http://*.localhost:*",
    "media-src 'self' blob: http://*.localhost:*",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'"
].join('; ');

/**
 * Headers of every response on the app's host: the CSP, no sniffing (a text answer never becomes HTML
 * or script), no framing, no referrer, and a browsing-context group of its own (a page that opened the
 * app cannot script or navigate it).
 */
export const APP_HEADERS: Record<string, string> = {
    'content-security-policy': APP_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin'
};

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
    res.writeHead(status, { ...APP_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
}

/** The file a URL path names inside `root`, or null when it names none (or tries to leave `root`). */
export function resolveStatic(root: string, pathname: string): string | null {
    let decoded: string;
    try {
        decoded = decodeURIComponent(pathname);
    } catch {
        return null;
    }
    if (decoded.includes('\0')) return null;
    const base = resolve(root);
    const path = resolve(base, `.${normalize(`/${decoded}`)}`);
    if (path !== base && !path.startsWith(base + sep)) return null;
    if (!existsSync(path)) return null;
    const stat = statSync(path);
    if (stat.isFile()) return path;
    if (stat.isDirectory()) {
        const index = join(path, 'index.html');
        return existsSync(index) && statSync(index).isFile() ? index : null;
    }
    return null;
}

export function serveStatic(req: IncomingMessage, res: ServerResponse, url: URL, options: StaticOptions): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        send(res, 405, 'Method not allowed\n');
        return;
    }
    const document = Object.hasOwn(options.documents ?? {}, url.pathname) ? options.documents![url.pathname]() : undefined;
    if (document !== undefined) {
        res.writeHead(200, { ...APP_HEADERS, 'content-type': document.type, 'content-length': Buffer.byteLength(document.body), 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : document.body);
        return;
    }
    const file = options.dir !== undefined && existsSync(options.dir) ? resolveStatic(options.dir, url.pathname) : null;
    if (file === null) {
        if (url.pathname === '/' && options.fallbackPage !== undefined) send(res, 200, options.fallbackPage(), 'text/html; charset=utf-8');
        else send(res, 404, `Not found: ${url.pathname}\n`);
        return;
    }
    const size = statSync(file).size;
    res.writeHead(200, {
        ...APP_HEADERS,
        'content-type': mime.getType(extname(file)) ?? 'application/octet-stream',
        'content-length': size,
        'cache-control': 'no-cache'
    });
    if (req.method === 'HEAD') {
        res.end();
        return;
    }
    createReadStream(file).pipe(res);
}
