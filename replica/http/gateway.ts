/**
 * The HTTP gateway: turns a browser's request into a call of a canister's `http_request`, as the IC's
 * gateways do (dfinity's `ic-gateway` and its `ic-http-gateway` library are the reference).
 *
 * - `http://<canister-id>.localhost:N/<path>` reaches a canister; `<canister-id>.raw.localhost` does
 *   too, without response verification. Nothing else does: see {@link siteOf}.
 * - Method, URL (path and query), headers and body are forwarded; the reply's status, headers and body
 *   are answered. `upgrade = opt true` re-runs the request as the update call `http_request_update`.
 * - A `streaming_strategy` callback is followed until it returns no token.
 * - A 206 to a request that had no `Range` is the first piece of a larger body: the gateway fetches the
 *   rest with `Range: bytes=<next>-` requests and answers 200 with the whole body (ic-gateway does the
 *   same). A 206 to a ranged request may start before the byte asked for (a canister that certifies
 *   whole chunks answers with the chunk holding it): the gateway answers exactly the range asked for —
 *   cut out of the verified response, continued with more verified `Range` requests when a closed range
 *   (`a-b`, `-n`) runs past it; an open range (`a-`) ends where the canister's response ends.
 * - Responses to queries are verified (certification v1 and v2, including a canister's certified
 *   decision to skip) with `@dfinity/response-verification`; a response that fails answers 503.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';

import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { HeaderField, HttpRequest } from '../../shared/types';
import { checkCandidBounds } from '../candid_bounds';
import { CanisterCallError } from '../pic';

type Verifier = typeof import('@dfinity/response-verification');
// The package ships a CommonJS build for Node; load it on first use (its Wasm takes a moment to compile).
let verifier: Verifier | undefined;
const loadVerifier = (): Verifier => (verifier ??= createRequire(import.meta.url)('@dfinity/response-verification') as Verifier);

// ---------------------------------------------------------------- Candid of the HTTP gateway protocol

// HeaderField and HttpRequest are shared/types.ts's; the response is typed here, with its streaming token.
const HttpUpdateRequest = IDL.Record({ method: IDL.Text, url: IDL.Text, headers: IDL.Vec(HeaderField), body: IDL.Vec(IDL.Nat8) });

/**
 * The response type, given the streaming token's type. The token is whatever type the canister chose,
 * so a response is decoded twice when it streams: first with the token as Unknown (which keeps its
 * wire type), then with that type, so the callback's reference and its replies decode as typed values.
 */
function httpResponseType(token: IDL.Type, callback: IDL.Type): IDL.RecordClass {
    return IDL.Record({
        status_code: IDL.Nat16,
        headers: IDL.Vec(HeaderField),
        body: IDL.Vec(IDL.Nat8),
        upgrade: IDL.Opt(IDL.Bool),
        streaming_strategy: IDL.Opt(IDL.Variant({ Callback: IDL.Record({ callback, token }) }))
    });
}
const HttpResponseProbe = httpResponseType(IDL.Unknown, IDL.Reserved);
/** A callback's reply: a bare record (as ic-utils expects) or `opt record` (as some canisters declare) both decode. */
const callbackReplyType = (token: IDL.Type) => IDL.Opt(IDL.Record({ body: IDL.Vec(IDL.Nat8), token: IDL.Opt(token) }));

type Header = [string, string];
interface CanisterResponse {
    status_code: number;
    headers: Header[];
    body: Uint8Array;
    upgrade: [] | [boolean];
    streaming_strategy: [] | [{ Callback: { callback: [Principal, string]; token: unknown } }];
    /** The token's Candid type, when the response streams. */
    tokenType?: IDL.Type;
}
interface CanisterRequest {
    method: string;
    url: string;
    headers: Header[];
    body: Uint8Array;
}

// ---------------------------------------------------------------- limits (as ic-http-gateway's)

/** Callbacks collected into one body that is then verified; a longer stream is served unverified, as ic-gateway does. */
const MAX_VERIFIED_CALLBACKS = 4;
const MAX_CALLBACKS = 1000;
/** Range requests to reassemble one body (16 Ki: a 1 GiB file of 64 KiB pieces). */
const MAX_RANGE_REQUESTS = 16_384;
/** A request body larger than an ingress message cannot reach the canister. */
const MAX_REQUEST_BODY = 2 * 1024 * 1024;
/** Certificates older than this (or as much in the future) fail verification (ic-gateway's bound). */
const MAX_CERT_TIME_OFFSET_NS = 300_000_000_000n;
/** The highest response verification version this gateway asks canisters for. */
const CERTIFICATE_VERSION = 2;

// ---------------------------------------------------------------- routing

/** Which canister a request is for, and whether it skips verification (a `raw` host). */
export interface GatewayTarget {
    canisterId: Principal;
    raw: boolean;
}

/**
 * What a request's Host names. Origins are the only wall between what canisters serve and the web app
 * (whose key signs as its user), so the two never share a host:
 * - `canister`: `<id>.localhost` or `<id>.raw.localhost` (any port): the gateway, and nothing else.
 * - `app`: `localhost`, an IPv4 or bracketed IPv6 literal, or no Host at all: the IC HTTP interface and
 *   the web app's own files, never a canister's `http_request`.
 * - `refused`: any other name, including `*.localhost` names that are not a canister id and DNS names
 *   (a DNS-rebinding page would otherwise read this server as its own origin).
 */
export type Site = { kind: 'app' } | { kind: 'canister'; target: GatewayTarget } | { kind: 'refused'; reason: string };

function principalOrNull(text: string): Principal | null {
    try {
        const principal = Principal.fromText(text);
        // fromText accepts what it can decode; only the canonical text names a canister host.
        return principal.toText() === text ? principal : null;
    } catch {
        return null;
    }
}

/** Longest Host header considered (a name is at most 253 characters, plus a port). */
const MAX_HOST_LENGTH = 300;

export function siteOf(host: string | undefined): Site {
    if (host === undefined || host === '') return { kind: 'app' };
    if (host.length > MAX_HOST_LENGTH) return { kind: 'refused', reason: 'the Host header is too long' };
    const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(host);
    if (match === null) return { kind: 'refused', reason: `'${host}' is not a host name` };
    // One trailing dot names the same host (a fully qualified name); browsers keep it in Host.
    const name = match[1].toLowerCase().replace(/\.$/, '');
    if (name === 'localhost' || /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.startsWith('[')) return { kind: 'app' };
    const canister = /^([a-z0-9-]+)\.(raw\.)?localhost$/.exec(name);
    if (canister !== null) {
        const canisterId = principalOrNull(canister[1]);
        if (canisterId !== null) return { kind: 'canister', target: { canisterId, raw: canister[2] !== undefined } };
        return { kind: 'refused', reason: `'${canister[1]}' is not a canister id` };
    }
    return { kind: 'refused', reason: `this server answers for localhost, IP addresses and <canister-id>.localhost, not for '${name}'` };
}

// ---------------------------------------------------------------- the gateway

/** How the gateway reaches canisters: the in-process replica's PocketIC surface has exactly this. */
export interface CanisterCaller {
    queryCall(options: { canisterId: Principal; method: string; arg: Uint8Array }): Promise<Uint8Array>;
    updateCall(options: { canisterId: Principal; method: string; arg: Uint8Array }): Promise<Uint8Array>;
}

export interface GatewayOptions {
    caller: CanisterCaller;
    /** The network's root public key (DER), which certificates must be signed with; null when the replica has none. */
    rootKey: () => Uint8Array | null;
    /** The current time in nanoseconds, for certificate freshness (default: the wall clock). */
    now?: () => bigint;
}

/** An answer the gateway gives itself (an error), rather than the canister's. */
class GatewayError extends Error {
    constructor(
        readonly status: number,
        message: string
    ) {
        super(message);
    }
}

/** What verification decided about which headers may be answered. */
type Verdict =
    | { kind: 'unverified' } // raw host, update call or long stream: the canister's headers as they are
    | { kind: 'v1' } // headers and status are not certified in v1
    | { kind: 'v2'; headers: Header[] | null }; // null: the canister certifiably skipped certification

export class Gateway {
    private readonly now: () => bigint;

    constructor(private readonly options: GatewayOptions) {
        this.now = options.now ?? (() => BigInt(Date.now()) * 1_000_000n);
    }

    /** Answers `req` from the canister `target` names. Never throws: failures become error responses. */
    async handle(req: IncomingMessage, res: ServerResponse, target: GatewayTarget): Promise<void> {
        try {
            await this.serve(req, res, target);
        } catch (error) {
            const status = error instanceof GatewayError ? error.status : 500;
            const message = error instanceof Error ? error.message : String(error);
            if (res.headersSent) {
                // The body was already streaming: all that is left is to cut the connection.
                res.destroy(error instanceof Error ? error : undefined);
                return;
            }
            res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
            res.end(`${message}\n`);
        }
    }

    private async serve(req: IncomingMessage, res: ServerResponse, { canisterId, raw }: GatewayTarget): Promise<void> {
        const request = await readRequest(req);
        const ranged = request.headers.some(([name]) => /^(range|if-range)$/i.test(name));

        let response = await this.httpRequest(canisterId, request);
        const upgraded = response.upgrade[0] === true;
        if (upgraded) response = await this.call(canisterId, 'http_request_update', HttpUpdateRequest, request, 'update');

        // A short stream is collected and verified; a longer one is answered as it comes (unverified).
        const stream = this.callbacks(canisterId, response);
        let body = response.body;
        let rest: AsyncGenerator<Uint8Array> | null = null;
        if (response.streaming_strategy.length > 0) {
            const parts = [body];
            let done = false;
            for (let i = 0; i < MAX_VERIFIED_CALLBACKS; i++) {
                const next = await stream.next();
                if (next.done) {
                    done = true;
                    break;
                }
                parts.push(next.value);
            }
            body = concat(parts);
            if (!done) rest = stream;
        }

        const verdict: Verdict = raw || upgraded || rest !== null ? { kind: 'unverified' } : this.verify(canisterId, request, { ...response, body });
        if (verdict.kind === 'v1' && response.status_code >= 300 && response.status_code < 400) {
            throw new GatewayError(503, 'Response verification failed: certification v1 does not certify status codes, so redirects are refused');
        }

        const reassemble = response.status_code === 206 && !ranged;
        const head = request.method.toUpperCase() === 'HEAD';

        const cut = response.status_code === 206 && ranged && rest === null ? exactRange(request.headers, response.headers) : null;
        if (cut !== null) {
            const headers = answerHeaders(response.headers, verdict, true);
            headers.push(['content-range', `bytes ${cut.start}-${cut.end}/${cut.part.total}`], ['content-length', String(cut.end - cut.start + 1)]);
            res.writeHead(206, flatten(headers));
            if (head) {
                res.end();
                return;
            }
            await write(res, body.subarray(cut.start - cut.part.start, Math.min(cut.end, cut.part.end) - cut.part.start + 1));
            if (cut.end > cut.part.end) {
                for await (const piece of this.ranges(canisterId, request, raw, cut.part.end + 1, cut.part.total, cut.end + 1)) await write(res, piece);
            }
            res.end();
            return;
        }
        const headers = answerHeaders(response.headers, verdict, reassemble);

        if (reassemble) {
            const range = contentRange(response.headers, 0);
            const first = body.subarray(0, range.end - range.start + 1);
            headers.push(['content-length', String(range.total)]);
            res.writeHead(200, flatten(headers));
            if (head) {
                res.end();
                return;
            }
            await write(res, first);
            for await (const piece of this.ranges(canisterId, request, raw, range.end + 1, range.total)) await write(res, piece);
            res.end();
            return;
        }

        if (rest === null && !head) headers.push(['content-length', String(body.length)]);
        else if (head) {
            const declared = response.headers.find(([name]) => name.toLowerCase() === 'content-length');
            if (declared !== undefined) headers.push(['content-length', declared[1]]);
        }
        res.writeHead(response.status_code, flatten(headers));
        if (head) {
            res.end();
            return;
        }
        await write(res, body);
        if (rest !== null) {
            let calls = MAX_VERIFIED_CALLBACKS;
            for await (const piece of rest) {
                if (++calls > MAX_CALLBACKS) throw new GatewayError(502, `the canister's stream went on past ${MAX_CALLBACKS} callbacks`);
                await write(res, piece);
            }
        }
        res.end();
    }

    private httpRequest(canisterId: Principal, request: CanisterRequest): Promise<CanisterResponse> {
        return this.call(canisterId, 'http_request', HttpRequest, { ...request, certificate_version: [CERTIFICATE_VERSION] }, 'query');
    }

    /** Calls a canister method taking one HTTP request record and answering an HttpResponse. */
    private async call(canisterId: Principal, method: string, type: IDL.Type, arg: unknown, kind: 'query' | 'update'): Promise<CanisterResponse> {
        const data = await this.invoke(canisterId, method, new Uint8Array(IDL.encode([type], [arg])), kind);
        try {
            checkCandidBounds(data);
            const [probe] = IDL.decode([HttpResponseProbe], data) as unknown as [CanisterResponse];
            const strategy = probe.streaming_strategy[0];
            if (strategy === undefined) return probe;
            const tokenType = (strategy.Callback.token as { type(): IDL.Type }).type();
            const callback = IDL.Func([tokenType], [], ['query']);
            const [response] = IDL.decode([httpResponseType(tokenType, callback)], data) as unknown as [CanisterResponse];
            return { ...response, tokenType };
        } catch (error) {
            throw new GatewayError(502, `The canister's ${method} reply is not an HttpResponse: ${(error as Error).message}`);
        }
    }

    /** One call; a reject becomes the status ic-gateway gives it (404 for a missing canister, 502 otherwise). */
    private async invoke(canisterId: Principal, method: string, arg: Uint8Array, kind: 'query' | 'update'): Promise<Uint8Array> {
        const { caller } = this.options;
        try {
            return kind === 'query' ? await caller.queryCall({ canisterId, method, arg }) : await caller.updateCall({ canisterId, method, arg });
        } catch (error) {
            if (error instanceof CanisterCallError) {
                const status = error.rejectCode === 3 ? 404 : 502;
                throw new GatewayError(status, `Replica Error: reject code ${error.rejectCode}, message ${error.rejectMessage}${error.errorCode === undefined ? '' : `, error code IC0${error.errorCode}`}`);
            }
            throw error;
        }
    }

    /** The bodies of a response's streaming callbacks, in order. */
    private async *callbacks(canisterId: Principal, response: CanisterResponse): AsyncGenerator<Uint8Array> {
        const strategy = response.streaming_strategy[0];
        if (strategy === undefined) return;
        const [callbackCanister, method] = strategy.Callback.callback;
        // A callback into another canister would let one canister's response carry another's content.
        if (callbackCanister.toText() !== canisterId.toText()) {
            throw new GatewayError(502, `The canister's streaming callback names another canister (${callbackCanister.toText()})`);
        }
        const tokenType = response.tokenType!;
        const replyType = callbackReplyType(tokenType);
        let token: unknown = strategy.Callback.token;
        while (token !== undefined) {
            await turn();
            const data = await this.invoke(canisterId, method, new Uint8Array(IDL.encode([tokenType], [token])), 'query');
            let reply: [] | [{ body: Uint8Array; token: [] | [unknown] }];
            try {
                checkCandidBounds(data);
                [reply] = IDL.decode([replyType], data) as unknown as [typeof reply];
            } catch (error) {
                throw new GatewayError(502, `The canister's streaming callback reply does not decode: ${(error as Error).message}`);
            }
            if (reply.length === 0) throw new GatewayError(502, 'The canister answered a streaming callback with no body');
            yield reply[0].body;
            token = reply[0].token[0];
        }
    }

    /**
     * The rest of a body whose first `from` bytes came in a 206, fetched with `Range: bytes=<next>-`
     * requests; each answer must continue where the previous ended, and is verified like any response.
     */
    private async *ranges(canisterId: Principal, request: CanisterRequest, raw: boolean, from: number, total: number, until = total): AsyncGenerator<Uint8Array> {
        let fetched = from;
        const kept = request.headers.filter(([name]) => !/^(range|if-range)$/i.test(name));
        for (let calls = 0; fetched < until; calls++) {
            if (calls >= MAX_RANGE_REQUESTS) throw new GatewayError(502, `The body needed more than ${MAX_RANGE_REQUESTS} range requests`);
            await turn();
            const ranged = { ...request, headers: [...kept, ['Range', `bytes=${fetched}-`] as Header] };
            const response = await this.httpRequest(canisterId, ranged);
            if (response.streaming_strategy.length > 0) throw new GatewayError(502, 'A range response carried a streaming strategy');
            if (response.status_code !== 206) throw new GatewayError(502, `A range request answered ${response.status_code}, not 206`);
            const range = contentRange(response.headers, fetched);
            if (range.total !== total) throw new GatewayError(502, `The body's length changed from ${total} to ${range.total} between range requests`);
            if (!raw) this.verify(canisterId, ranged, response);
            const end = Math.min(range.end, until - 1);
            yield response.body.subarray(fetched - range.start, end - range.start + 1);
            fetched = end + 1;
        }
    }

    /** Verifies a query's response; throws a 503 GatewayError when it does not verify. */
    private verify(canisterId: Principal, request: CanisterRequest, response: Pick<CanisterResponse, 'status_code' | 'headers' | 'body'>): Verdict {
        const rootKey = this.options.rootKey();
        if (rootKey === null) throw new GatewayError(503, 'Response verification failed: this replica has no root key to verify certificates with; use the raw host');
        const { verifyRequestResponsePair } = loadVerifier();
        try {
            const info = verifyRequestResponsePair(
                { ...request, certificate_version: [CERTIFICATE_VERSION] },
                { status_code: response.status_code, headers: response.headers, body: response.body },
                canisterId.toUint8Array(),
                this.now(),
                MAX_CERT_TIME_OFFSET_NS,
                rootKey,
                1
            );
            if (info.verificationVersion < 2) return { kind: 'v1' };
            return { kind: 'v2', headers: info.response?.headers ?? null };
        } catch (error) {
            const message = (error as { message?: string }).message ?? String(error);
            throw new GatewayError(503, `Response verification failed: ${message}. The response from canister ${canisterId.toText()} is not certified as it came; use ${canisterId.toText()}.raw.localhost to fetch it unverified.`);
        }
    }
}

// ---------------------------------------------------------------- helpers

/** Headers a gateway does not pass to the canister: hop-by-hop ones, which describe this connection only. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'x-request-id']);

/**
 * Lets the event loop run other requests between the calls one response needs (callbacks, range
 * requests): the in-process replica answers a call without waiting on I/O, so a canister answering a
 * thousand tiny pieces would otherwise hold the loop until the last.
 */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function readRequest(req: IncomingMessage): Promise<CanisterRequest> {
    if (Number(req.headers['content-length']) > MAX_REQUEST_BODY) throw new GatewayError(413, `Request body larger than ${MAX_REQUEST_BODY} bytes`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_REQUEST_BODY) throw new GatewayError(413, `Request body larger than ${MAX_REQUEST_BODY} bytes`);
        chunks.push(chunk);
    }
    const headers: Header[] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i];
        const lower = name.toLowerCase();
        if (HOP_BY_HOP.has(lower)) continue;
        let value = req.rawHeaders[i + 1];
        // Like ic-gateway: a canister may always answer without encoding.
        if (lower === 'accept-encoding' && !value.split(',').some((e) => e.trim().toLowerCase() === 'identity')) value = `${value}, identity`;
        headers.push([name, value]);
    }
    return { method: req.method ?? 'GET', url: req.url ?? '/', headers, body: new Uint8Array(Buffer.concat(chunks)) };
}

interface ContentRange {
    start: number;
    end: number;
    total: number;
}

/** The Content-Range of a 206 that must continue a body fetched up to `fetched` bytes. */
function contentRange(headers: Header[], fetched: number): ContentRange {
    const value = headers.find(([name]) => name.toLowerCase() === 'content-range')?.[1];
    if (value === undefined) throw new GatewayError(502, 'A 206 response has no Content-Range header');
    // At most 15 digits: every value stays a safe integer (a 2^70-byte "total" would round).
    const match = /^\s*bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})\s*$/.exec(value);
    if (match === null) throw new GatewayError(502, `Invalid Content-Range header '${value}'`);
    const [start, end, total] = match.slice(1).map(Number);
    if (start > end || end >= total) throw new GatewayError(502, `Inconsistent Content-Range header '${value}'`);
    if (start > fetched || end < fetched) throw new GatewayError(502, `Content-Range '${value}' does not continue the body at byte ${fetched}`);
    return { start, end, total };
}

/**
 * The exact range a ranged request asked for, given the 206 the canister answered (`part`), when that
 * part holds its first byte: a closed range ends where asked (clamped to the size), an open one where the
 * part ends. Null when the request's Range is not one plain range, or the part does not hold its start
 * (the canister ignored the Range, e.g. for If-Range): the response then passes as it came.
 */
function exactRange(requestHeaders: Header[], responseHeaders: Header[]): { start: number; end: number; part: ContentRange } | null {
    const range = requestHeaders.find(([name]) => name.toLowerCase() === 'range')?.[1];
    const value = responseHeaders.find(([name]) => name.toLowerCase() === 'content-range')?.[1];
    if (range === undefined || value === undefined) return null;
    const part = /^\s*bytes (\d+)-(\d+)\/(\d+)\s*$/.exec(value);
    const asked = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range);
    if (part === null || asked === null || (asked[1] === '' && asked[2] === '')) return null;
    const [pStart, pEnd, total] = part.slice(1).map(Number);
    if (pStart > pEnd || pEnd >= total) throw new GatewayError(502, `Inconsistent Content-Range header '${value}'`);
    let start: number;
    let end: number;
    if (asked[1] === '') {
        start = Math.max(0, total - Number(asked[2]));
        end = total - 1;
    } else {
        start = Number(asked[1]);
        end = asked[2] === '' ? pEnd : Math.min(Number(asked[2]), total - 1);
    }
    if (start < pStart || start > pEnd || end < start) return null;
    return { start, end, part: { start: pStart, end: pEnd, total } };
}

/** The headers to answer, given what verification certified. */
function answerHeaders(canisterHeaders: Header[], verdict: Verdict, reassembled: boolean): Header[] {
    let headers = verdict.kind === 'v2' && verdict.headers !== null ? verdict.headers : canisterHeaders;
    // v1 does not certify headers: drop the one that could poison caches for long.
    if (verdict.kind === 'v1') headers = headers.filter(([name]) => name.toLowerCase() !== 'cache-control');
    // The gateway sets the length itself (and a reassembled body is not a range any more).
    return headers.filter(([name]) => {
        const lower = name.toLowerCase();
        return lower !== 'content-length' && !HOP_BY_HOP.has(lower) && !(reassembled && lower === 'content-range');
    });
}

/** Node's writeHead takes repeated headers as arrays. */
function flatten(headers: Header[]): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of headers) {
        const key = name.toLowerCase();
        const previous = out[key];
        out[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
    }
    return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
    return parts.length === 1 ? parts[0] : new Uint8Array(Buffer.concat(parts));
}

/** Writes and waits for the socket to drain when it is full, so a slow reader does not pile bodies up in memory. */
function write(res: ServerResponse, data: Uint8Array): Promise<void> {
    if (data.length === 0) return Promise.resolve();
    if (res.write(data)) return Promise.resolve();
    return new Promise((resolve, reject) => {
        const done = () => {
            res.off('close', closed);
            resolve();
        };
        const closed = () => {
            res.off('drain', done);
            reject(new Error('the client closed the connection'));
        };
        res.once('drain', done);
        res.once('close', closed);
    });
}
