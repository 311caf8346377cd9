/**
 * The IC's HTTP interface (the interface specification's "HTTPS Interface", as `@dfinity/agent` 3.x uses
 * it) in front of the in-process replica, as a plain `node:http` request handler.
 *
 * ```ts
 * const api = createIcApi(replica, { stateDir });         // keys kept in <stateDir>/ic_keys.json
 * http.createServer(async (req, res) => {
 *     if (await api(req, res)) return;                     // /api/... answered
 *     ...                                                  // anything else: the gateway, static files
 * });
 * ```
 *
 * Endpoints: `GET /api/v2/status` (CBOR with `root_key`); `POST /api/v3/canister/<ecid>/call`
 * (synchronous: 200 with a certificate of the request status, or 202 after `callTimeoutMs`);
 * `POST /api/v2/canister/<ecid>/call` (202, then poll `read_state`); `POST /api/v{2,3}/canister/<ecid>/query`
 * (replies signed by the node key); `POST /api/v{2,3}/canister/<ecid>/read_state` and
 * `/api/v{2,3}/subnet/<subnet>/read_state` (certificates). Every request is checked as the IC checks it
 * (envelope.ts) and errors carry the IC's HTTP status and wording; calls refused before execution answer
 * 200 with a CBOR reject, as the IC does.
 *
 * The handler also attaches the certifier to the replica (`replica.dataCertificate`), so queries get
 * `ic0.data_certificate` both over HTTP and in process. Messages submitted over HTTP are executed in
 * rounds the handler schedules itself; with `clock: 'wall'` (the default) it keeps the replica's time
 * on the wall clock, as the IC's is.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { Cbor } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { decodeCandid } from '../../shared/candid_codec';
import { CandidBoundsError, checkCandidBounds } from '../candid_bounds';
import type { Response } from '../execution';
import { formatErrorCode, RejectCode } from '../errors';
import { inSubnetRange, MANAGEMENT_CANISTER_ID } from '../ids';
import { MAX_INGRESS_BYTES } from '../limits';
import type { Replica } from '../replica';
import { canisterMetadata, inCanisterRange, StateCertifier } from './certificate';
import { authenticate, checkExpiry, checkPaths, EnvelopeError, hashOfMap, parseEnvelope, type Envelope, type RequestType } from './envelope';
import { hex } from './hash_tree';
import { ReplicaKeys } from './keys';

export interface IcApiOptions {
    /** Where the replica's keys are kept (`ic_keys.json`); without it (and without `keys`) keys are fresh each time. */
    stateDir?: string;
    /** Keys to use instead of loading them. */
    keys?: ReplicaKeys;
    /** 'wall' (default): move the replica's time up to the wall clock before each request and round; 'replica': leave time alone. */
    clock?: 'wall' | 'replica';
    /** How long `/api/v3/.../call` waits for the call to complete before answering 202 (default 10 s, as the IC). */
    callTimeoutMs?: number;
    /** Bytes of request bodies read at once over all connections before further ones answer 503 (default 256 MiB). */
    maxBufferedBytes?: number;
    /** Errors of the rounds the handler runs in the background (default: printed to stderr); the server keeps running. */
    onError?: (error: unknown) => void;
}

/** The request handler; resolves to true when it answered the request (its path is under `/api/`). */
export interface IcApi {
    (req: IncomingMessage, res: ServerResponse): Promise<boolean>;
    readonly keys: ReplicaKeys;
    /** The DER root key agents fetch from `/api/v2/status`. */
    readonly rootKey: Uint8Array;
    readonly certifier: StateCertifier;
    /** Executes the messages submitted over HTTP that are still pending, now (the handler schedules this itself). */
    runRound(): void;
}

/**
 * Largest request body read (larger: 413, and the connection is closed). Calls and queries are then
 * held to the ingress limit; read_state carries only paths and a signature, so it is read no further
 * than a generous 64 KiB.
 */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const MAX_READ_STATE_BYTES = 64 * 1024;
/**
 * Request bodies held at once, over all connections (beyond: 503). Each request is bounded above; this
 * bounds many of them arriving together (a few hundred slow 4 MiB uploads would otherwise pin GiBs).
 */
const MAX_BUFFERED_BYTES = 256 * 1024 * 1024;
/** Requests remembered at once (each until its expiry); beyond, calls are refused as the IC refuses them when its ingress pool is full. */
const MAX_TRACKED_REQUESTS = 100_000;
/** Rounds executed in one go before yielding to the event loop. */
const ROUNDS_PER_TURN = 1000;

interface Tracked {
    requestId: Uint8Array;
    sender: string;
    receiver: string;
    expiry: bigint;
    messageId: number;
    done: boolean;
    waiters: (() => void)[];
}

class HttpError extends Error {
    constructor(
        readonly status: number,
        message: string
    ) {
        super(message);
    }
}

export function createIcApi(replica: Replica, options: IcApiOptions = {}): IcApi {
    const keys = options.keys ?? ReplicaKeys.load(options.stateDir);
    const certifier = StateCertifier.attach(replica, keys);
    const clock = options.clock ?? 'wall';
    const callTimeoutMs = options.callTimeoutMs ?? 10_000;
    /** Requests submitted over HTTP, by hex request id, kept until their expiry (replays are refused meanwhile). */
    const requests = new Map<string, Tracked>();
    const pending = new Set<Tracked>();
    let roundScheduled = false;

    const syncClock = () => {
        if (clock !== 'wall') return;
        const now = BigInt(Date.now()) * 1_000_000n;
        if (now > replica.time) replica.setTime(now);
    };

    const settle = (tracked: Tracked, response: Response) => {
        tracked.done = true;
        pending.delete(tracked);
        certifier.setRequestStatus(tracked.requestId, statusOf(response));
        for (const wake of tracked.waiters.splice(0)) wake();
    };

    const collect = () => {
        for (const tracked of pending) {
            if (replica.ingressStatus(tracked.messageId)?.state === 'done') settle(tracked, replica.awaitIngress(tracked.messageId, 0));
        }
    };

    const prune = () => {
        const now = replica.time;
        for (const [key, tracked] of requests) {
            if (tracked.done && tracked.expiry < now) {
                requests.delete(key);
                certifier.setRequestStatus(tracked.requestId, null);
            }
        }
    };

    const onError = options.onError ?? ((error: unknown) => process.stderr.write(`IC HTTP interface: ${error instanceof Error ? error.stack : String(error)}\n`));

    const runRound = () => {
        roundScheduled = false;
        try {
            syncClock();
            collect();
            for (let rounds = 0; pending.size > 0 && rounds < ROUNDS_PER_TURN; rounds++) {
                replica.tick();
                collect();
            }
            prune();
        } catch (error) {
            // Calls still pending stay `processing`; the next submission runs another round.
            onError(error);
            return;
        }
        // Still waiting (say, on a deadline): try again once time has moved on.
        if (pending.size > 0 && !roundScheduled) {
            roundScheduled = true;
            // Unreferenced: a call that never completes must not keep a stopped server's process alive.
            setTimeout(runRound, 10).unref();
        }
    };

    const scheduleRound = () => {
        if (roundScheduled) return;
        roundScheduled = true;
        setImmediate(runRound);
    };

    const authContext = () => ({ now: replica.time, rootKey: keys.rootKey });

    /** Parses and authenticates a call or query addressed to `ecid`; returns the envelope. */
    const admit = async (body: Uint8Array, kind: 'call' | 'query', ecid: Principal): Promise<Envelope> => {
        const envelope = parseEnvelope(body, kind);
        const canisterId = envelope.canisterId!;
        const management = canisterId.toText() === MANAGEMENT_CANISTER_ID.toText();
        if (!management && canisterId.toText() !== ecid.toText()) {
            throw new HttpError(400, `Specified CanisterId ${canisterId.toText()} does not match effective canister id in URL ${ecid.toText()}`);
        }
        if (management) checkManagementTarget(envelope, ecid);
        // The IC's boundary nodes route by the effective canister id: a canister no subnet hosts is refused
        // there. (Management calls may name one: provisional_create_canister_with_cycles with a specified_id.)
        else if (!inSubnetRange(canisterId) && replica.getCanister(canisterId) === undefined) {
            throw new HttpError(400, 'error: canister_not_found\ndetails: The specified canister does not exist.');
        }
        if (kind === 'call' || !envelope.sender.isAnonymous()) checkExpiry(envelope, replica.time);
        const targets = await authenticate(envelope, authContext());
        if (targets !== null && !targets.has(canisterId.toText())) {
            throw new HttpError(400, `Canister '${canisterId.toText()}' is not one of the delegation targets.`);
        }
        return envelope;
    };

    const call = async (body: Uint8Array, ecid: Principal, sync: boolean, res: ServerResponse) => {
        const envelope = await admit(body, 'call', ecid);
        const key = hex(envelope.requestId);
        const known = requests.get(key);
        if (known !== undefined) {
            // A replay (or a retry) of a request the replica already has: it is never executed twice.
            return send(res, 202, 'Duplicate request. Message is already being tracked and executed.');
        }
        if (requests.size >= MAX_TRACKED_REQUESTS) {
            prune();
            if (requests.size >= MAX_TRACKED_REQUESTS) throw new HttpError(503, 'Service is overloaded, try again later.');
        }
        const messageId = replica.submitIngress(envelope.sender, envelope.canisterId!, envelope.methodName!, envelope.arg!);
        if (replica.ingressStatus(messageId)?.state === 'done') {
            // Refused before execution (no such canister, stopped, inspect_message, cycles): not in the state tree.
            const reject = rejectFields(replica.awaitIngress(messageId, 0));
            return sendCbor(res, sync ? { status: 'non_replicated_rejection', ...reject } : reject);
        }
        const tracked: Tracked = {
            requestId: envelope.requestId,
            sender: envelope.sender.toText(),
            receiver: envelope.canisterId!.toText(),
            expiry: envelope.ingressExpiry,
            messageId,
            done: false,
            waiters: []
        };
        requests.set(key, tracked);
        pending.add(tracked);
        certifier.setRequestStatus(envelope.requestId, { status: 'processing' });
        scheduleRound();
        if (!sync) return send(res, 202, '');
        const completed = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), callTimeoutMs);
            timer.unref();
            tracked.waiters.push(() => {
                clearTimeout(timer);
                resolve(true);
            });
        });
        if (!completed) return send(res, 202, 'Message did not complete execution and certification within the replica defined timeout.');
        const certificate = certifier.certificate([[text('request_status'), envelope.requestId]]);
        return sendCbor(res, { status: 'replied', certificate });
    };

    const query = async (body: Uint8Array, ecid: Principal, res: ServerResponse) => {
        const envelope = await admit(body, 'query', ecid);
        const response = replica.query(envelope.sender, envelope.canisterId!, envelope.methodName!, envelope.arg!);
        const timestamp = replica.time;
        const answer: Record<string, unknown> =
            response.type === 'reply' ? { status: 'replied', reply: { arg: response.data } } : { status: 'rejected', ...rejectFields(response) };
        const hash = hashOfMap({ ...answer, timestamp, request_id: envelope.requestId });
        const signature = keys.signNode(new Uint8Array([...RESPONSE_SEPARATOR, ...hash]));
        return sendCbor(res, { ...answer, signatures: [{ timestamp, signature, identity: keys.nodeId.toUint8Array() }] });
    };

    const readState = async (body: Uint8Array, target: { canister: Principal } | { subnet: Principal }, res: ServerResponse) => {
        const envelope = parseEnvelope(body, 'read_state');
        checkPaths(envelope.paths!);
        if (!envelope.sender.isAnonymous()) checkExpiry(envelope, replica.time);
        const targets = await authenticate(envelope, authContext());
        checkReadPaths(envelope, target, targets);
        const ecid = 'canister' in target ? target.canister : null;
        const certificate = certifier.certificate(envelope.paths!, ecid !== null && !inCanisterRange(ecid));
        return sendCbor(res, { certificate });
    };

    /** Who may read what, as the IC's `verify_paths`. */
    const checkReadPaths = (envelope: Envelope, target: { canister: Principal } | { subnet: Principal }, targets: Set<string> | null) => {
        let requestId: string | null = null;
        for (const path of envelope.paths!) {
            const labels = path.map((l) => new TextDecoder().decode(l));
            const [first] = labels;
            if (first === 'time' && path.length === 1) continue;
            if (first === 'subnet' && path.length <= 5) continue;
            // Certified data is for canisters' own use (ic0.data_certificate), not for read_state.
            const canisterPath = path.length === 3 && (labels[2] === 'controllers' || labels[2] === 'module_hash');
            const metadataPath = path.length === 4 && labels[2] === 'metadata';
            if ('canister' in target && first === 'canister' && (canisterPath || metadataPath)) {
                const id = principalLabel(path[1]);
                if (id.toText() !== target.canister.toText()) {
                    throw new HttpError(400, `Effective principal id in URL ${target.canister.toText()} does not match requested principal id: ${id.toText()}.`);
                }
                if (metadataPath) checkMetadataAccess(envelope.sender, id, path[3]);
                continue;
            }
            if ('canister' in target && first === 'request_status' && (path.length === 2 || (path.length === 3 && REQUEST_STATUS_FIELDS.has(labels[2])))) {
                if (path[1].length !== 32) throw new HttpError(400, 'Invalid request id in paths. Maybe the request ID is not of 32 bytes in length?!');
                const id = hex(path[1]);
                if (requestId !== null && requestId !== id) {
                    throw new HttpError(400, `More than one non-unique request ID exists in request_status paths: 0x${requestId} and 0x${id}.`);
                }
                requestId = id;
                const tracked = requests.get(id);
                if (tracked !== undefined && tracked.sender !== envelope.sender.toText()) {
                    throw new HttpError(403, 'The user tries to access Request ID not signed by the caller.');
                }
                if (tracked !== undefined && targets !== null && !targets.has(tracked.receiver)) {
                    throw new HttpError(403, 'The user tries to access request IDs for canisters not belonging to sender delegation targets.');
                }
                continue;
            }
            throw new HttpError(404, 'Invalid path requested.');
        }
    };

    /** A private custom section only for the canister's controllers (names must be UTF-8). */
    const checkMetadataAccess = (sender: Principal, id: Principal, label: Uint8Array) => {
        let name: string;
        try {
            name = new TextDecoder('utf-8', { fatal: true }).decode(label);
        } catch (error) {
            throw new HttpError(400, `Could not parse the custom section name: ${(error as Error).message}.`);
        }
        const canister = replica.getCanister(id);
        if (canister === undefined || canister.module === null) return;
        if (canisterMetadata(canister.module).get(name)?.visibility === 'private' && !canister.isController(sender)) {
            throw new HttpError(403, `Custom section ${name.slice(0, 100)} can only be requested by the controllers of the canister.`);
        }
    };

    const handler = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        if (!url.pathname.startsWith('/api/')) return false;
        for (const [name, value] of Object.entries(API_HEADERS)) res.setHeader(name, value);
        if (req.method === 'OPTIONS') {
            res.writeHead(204, { 'access-control-max-age': '7200' }).end();
            return true;
        }
        try {
            syncClock();
            await route(req, res, url.pathname);
        } catch (error) {
            // A request refused before its body was read closes the connection: what is left of the body cannot be reused.
            if (!req.complete) res.setHeader('connection', 'close');
            if (error instanceof EnvelopeError || error instanceof HttpError) send(res, error.status, error.message);
            else send(res, 500, `Internal error: ${(error as Error).message}`);
        }
        return true;
    };

    /** Bytes of request bodies being read or handled now, over all connections. */
    const buffers = { held: 0, max: options.maxBufferedBytes ?? MAX_BUFFERED_BYTES };

    const route = async (req: IncomingMessage, res: ServerResponse, path: string) => {
        if (path === '/api/v2/status') {
            if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'Method not allowed; use GET.');
            return sendCbor(res, { ic_api_version: '0.18.0', impl_version: 'silo-replica', replica_health_status: 'healthy', root_key: keys.rootKey });
        }
        const match = /^\/api\/(v2|v3)\/(canister|subnet)\/([^/]+)\/(call|query|read_state)$/.exec(path);
        if (match === null) throw new HttpError(404, `Not found: ${path}`);
        const [, version, scope, idText, endpoint] = match;
        if (scope === 'subnet' && endpoint !== 'read_state') throw new HttpError(404, `Not found: ${path}`);
        if (req.method !== 'POST') throw new HttpError(405, 'Method not allowed; use POST.');
        const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
        if (contentType !== 'application/cbor') throw new HttpError(400, 'Unexpected content-type, expected application/cbor.');
        let id: Principal;
        try {
            id = Principal.fromText(decodeURIComponent(idText));
        } catch {
            throw new HttpError(400, `Invalid ${scope === 'subnet' ? 'subnet' : 'effective canister'} id in URL: ${idText}`);
        }
        const body = await readBody(req, endpoint === 'read_state' ? MAX_READ_STATE_BYTES : MAX_BODY_BYTES, buffers);
        // Checked before anything is parsed: a query's argument is bounded like a call's.
        if (endpoint !== 'read_state' && body.length > MAX_INGRESS_BYTES) {
            throw new HttpError(413, `Request is too large. Message byte size ${body.length} is larger than the max allowed ${MAX_INGRESS_BYTES}.`);
        }
        if (scope === 'subnet') {
            if (id.toText() !== keys.subnetId.toText()) throw new HttpError(404, `Subnet ${id.toText()} is not this replica's subnet ${keys.subnetId.toText()}.`);
            return readState(body, { subnet: id }, res);
        }
        if (endpoint === 'read_state') return readState(body, { canister: id }, res);
        if (endpoint === 'query') return query(body, id, res);
        return call(body, id, version === 'v3', res);
    };

    return Object.assign(handler, { keys, rootKey: keys.rootKey, certifier, runRound });
}

const text = (s: string) => new TextEncoder().encode(s);
const RESPONSE_SEPARATOR = Uint8Array.of(11, ...text('ic-response'));
/**
 * Every answer of the interface. CORS as the IC's API boundary: any origin may call (a dapp on another
 * local port, say); that gives a page nothing it could not do with curl, since requests carry no
 * cookies or other ambient authority (no `Allow-Credentials`), each is signed by a key the caller
 * holds, and no `Allow-Private-Network` is answered (Chromium's check for public sites reaching
 * loopback). What must hold instead is that no answer can run as a page on the host it is read from
 * (the web app's): CBOR and plain text only, never sniffed, and sandboxed if opened.
 */
const API_HEADERS = {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'POST, GET',
    'access-control-allow-headers': 'Accept, Authorization, Content-Type',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox; frame-ancestors 'none'"
};
const REQUEST_STATUS_FIELDS = new Set(['status', 'reply', 'reject_code', 'reject_message', 'error_code']);

function principalLabel(label: Uint8Array): Principal {
    if (label.length > 29) throw new HttpError(400, 'Could not parse principal ID: longer than 29 bytes.');
    return Principal.fromUint8Array(label);
}

/** A reject's fields as the IC reports them; explicit rejects by canister code carry IC0406. */
function rejectFields(response: Response): { reject_code: number; reject_message: string; error_code?: string } {
    if (response.type !== 'reject') throw new Error('not a reject');
    const errorCode = response.errorCode ?? (response.code === RejectCode.CanisterReject ? 406 : undefined);
    return { reject_code: response.code, reject_message: response.message, ...(errorCode === undefined ? {} : { error_code: formatErrorCode(errorCode) }) };
}

function statusOf(response: Response) {
    if (response.type === 'reply') return { status: 'replied' as const, reply: response.data };
    const { reject_code, reject_message, error_code } = rejectFields(response);
    return { status: 'rejected' as const, rejectCode: reject_code, rejectMessage: reject_message, errorCode: error_code };
}

/** What checkManagementTarget reads of a management call's argument, by the field naming the canister. */
const TARGET_ARGS = {
    canister_id: [IDL.Record({ canister_id: IDL.Principal })],
    target_canister: [IDL.Record({ target_canister: IDL.Principal })]
};

/**
 * Calls to the management canister go to the subnet of the canister they are about: the `canister_id`
 * (or, for install_chunked_code, `target_canister`) of their Candid record must be the URL's effective
 * canister id; provisional_create_canister_with_cycles may use any.
 */
function checkManagementTarget(envelope: Envelope, ecid: Principal): void {
    const method = envelope.methodName!;
    if (method === 'provisional_create_canister_with_cycles') return;
    const fieldName = method === 'install_chunked_code' ? 'target_canister' : 'canister_id';
    let target: Principal;
    try {
        checkCandidBounds(envelope.arg!);
        // Through the codec: the CBOR decoder may hand back a view into the body, which IDL.decode alone
        // would read from the start of the body's buffer.
        [{ [fieldName]: target }] = decodeCandid(TARGET_ARGS[fieldName], envelope.arg!) as [Record<string, Principal>];
    } catch (error) {
        if (error instanceof CandidBoundsError) throw new HttpError(400, error.message);
        throw new HttpError(400, `Could not find the effective canister id of the management canister call '${method}': its argument has no '${fieldName}' principal.`);
    }
    if (target.toText() !== ecid.toText()) {
        throw new HttpError(400, `Specified CanisterId ${target.toText()} (the '${fieldName}' of '${method}') does not match effective canister id in URL ${ecid.toText()}`);
    }
}

/** Reads a body of at most `limit` bytes, counted in `buffers` while it is read (released once it is read). */
async function readBody(req: IncomingMessage, limit: number, buffers: { held: number; max: number }): Promise<Uint8Array> {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) throw new HttpError(413, `Request body is larger than the ${limit} bytes allowed.`);
    const parts: Buffer[] = [];
    let size = 0;
    try {
        for await (const chunk of req) {
            size += (chunk as Buffer).length;
            buffers.held += (chunk as Buffer).length;
            if (size > limit) throw new HttpError(413, `Request body is larger than the ${limit} bytes allowed.`);
            if (buffers.held > buffers.max) throw new HttpError(503, 'Service is overloaded, try again later.');
            parts.push(chunk as Buffer);
        }
    } finally {
        buffers.held -= size;
    }
    const body = Buffer.concat(parts);
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

function send(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
}

function sendCbor(res: ServerResponse, value: unknown): void {
    const body = Cbor.encode(value);
    res.writeHead(200, { 'content-type': 'application/cbor', 'content-length': body.length });
    res.end(body);
}

export type { RequestType };
