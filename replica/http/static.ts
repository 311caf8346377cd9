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

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
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
        res.writeHead(200, { 'content-type': document.type, 'content-length': Buffer.byteLength(document.body), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
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
        'content-type': mime.getType(extname(file)) ?? 'application/octet-stream',
        'content-length': size,
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-cache'
    });
    if (req.method === 'HEAD') {
        res.end();
        return;
    }
    createReadStream(file).pipe(res);
}
