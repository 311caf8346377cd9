/**
 * Request envelopes of the HTTP interface: CBOR bodies checked for well-formedness before decoding,
 * typed contents, request ids, and authentication as the IC's validator does it (ingress expiry,
 * nonce size, sender = self-authenticating id of `sender_pubkey`, Ed25519 / ECDSA P-256 / secp256k1
 * signatures, WebAuthn (ES256) and canister signatures, delegation chains with expiry, targets and no
 * repeated keys).
 *
 * Errors are `EnvelopeError`s carrying the HTTP status and the IC's wording of the error.
 */
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';

import { Cbor, Certificate, lookup_path, LookupPathStatus, reconstruct } from '@dfinity/agent';
import { compare, lebEncode } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { concatBytes } from '../../shared/bytes';
import { blsVerifyOffThread } from './bls_worker';
import { hex } from './hash_tree';

export class EnvelopeError extends Error {
    override name = 'EnvelopeError';
    constructor(
        readonly status: number,
        message: string
    ) {
        super(message);
    }
}

const bad = (message: string) => new EnvelopeError(400, message);

// ------------------------------------------------------------------ CBOR well-formedness

const MAX_DEPTH = 64;
/**
 * Most CBOR items one envelope may hold. Decoding and hashing cost 2-10 µs an item (a SHA-256 each),
 * so this keeps the worst envelope at a few milliseconds whatever its size. Agents send a few dozen;
 * the IC's per-field limits below would allow 127,000 path labels or 20,000 delegation targets, which
 * no agent sends and which this replica refuses.
 */
export const MAX_ENVELOPE_ITEMS = 1024;
/** Most items of other CBOR read from a request (a WebAuthn or canister signature, a certificate in one). */
export const MAX_SIGNATURE_ITEMS = 1024;

/**
 * What a CBOR item must look like: a scalar kind, an array of at most `max` items of one shape (its
 * `tooMany` says why not, in the IC's words where it has some), or a map of known keys (any other key
 * is refused); `any` is any well-formed item.
 */
export type CborShape =
    | 'any'
    | 'blob'
    | 'text'
    | 'nat'
    | { array: CborShape; max: number; tooMany: (count: number) => string }
    | { map: Record<string, CborShape>; what: string };

export interface CborLimits {
    /** Most items in all (every key, value and array element counts). */
    maxItems: number;
}

/**
 * Throws unless `bytes` is exactly one well-formed CBOR item of the kinds requests use (unsigned and
 * negative integers, byte and text strings, arrays, maps with distinct text keys, the self-describing
 * tag 55799) that has the given shape and at most `limits.maxItems` items. Every bound is checked as
 * the item's head is read, before what it announces is walked, so refusing costs at most the bytes
 * read so far. (`@dfinity/cbor` decodes leniently: a truncated string comes back short, trailing bytes
 * are ignored, and an array of four million items is built in full before anyone looks at it.)
 */
export function checkCbor(bytes: Uint8Array, shape: CborShape = 'any', limits: CborLimits = { maxItems: MAX_SIGNATURE_ITEMS }): void {
    let at = 0;
    let items = 0;
    const need = (n: number) => {
        if (at + n > bytes.length) throw bad('Could not parse body as CBOR: unexpected end of input');
    };
    const argument = (info: number): number => {
        if (info < 24) return info;
        const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
        if (size === 0) throw bad('Could not parse body as CBOR: indefinite lengths and reserved values are not supported');
        need(size);
        let value = 0;
        for (let i = 0; i < size; i++) value = value * 256 + bytes[at + i];
        at += size;
        return value;
    };
    const kinds = ['nat', 'an integer', 'blob', 'text', 'an array', 'a map'];
    const item = (depth: number, want: CborShape, where: string): string | null => {
        if (depth > MAX_DEPTH) throw bad('Could not parse body as CBOR: nested too deeply');
        if (++items > limits.maxItems) throw bad(`Could not parse body as CBOR: more than ${limits.maxItems} items`);
        need(1);
        const initial = bytes[at++];
        const major = initial >> 5;
        const value = argument(initial & 31);
        if (major === 6) {
            if (value !== 55799) throw bad(`Could not parse body as CBOR: unsupported tag ${value}`);
            items--;
            return item(depth + 1, want, where);
        }
        if (major === 7) throw bad('Could not parse body as CBOR: floats and simple values are not allowed');
        if (want !== 'any') {
            const expected = typeof want === 'string' ? want : 'array' in want ? 'an array' : 'a map';
            if (kinds[major] !== expected) throw bad(`Malformed request: ${where} must be ${expected === 'nat' ? 'a natural number' : expected}`);
        }
        switch (major) {
            case 0:
            case 1:
                return null;
            case 2:
            case 3: {
                need(value);
                const text = major === 3 ? new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(at, at + value)) : null;
                at += value;
                return text;
            }
            case 4: {
                const element = typeof want === 'object' && 'array' in want ? want : null;
                if (element !== null && value > element.max) throw bad(element.tooMany(value));
                if (value > limits.maxItems) throw bad(`Could not parse body as CBOR: more than ${limits.maxItems} items`);
                for (let i = 0; i < value; i++) item(depth + 1, element?.array ?? 'any', `an item of ${where}`);
                return null;
            }
            default: {
                const fields = typeof want === 'object' && 'map' in want ? want : null;
                if (value > limits.maxItems) throw bad(`Could not parse body as CBOR: more than ${limits.maxItems} items`);
                const keys = new Set<string>();
                for (let i = 0; i < value; i++) {
                    need(1);
                    if (bytes[at] >> 5 !== 3) throw bad('Could not parse body as CBOR: map keys must be text');
                    const key = item(depth + 1, 'text', 'a map key')!;
                    if (keys.has(key) || key === '__proto__') throw bad(`Could not parse body as CBOR: duplicate or reserved map key '${key}'`);
                    keys.add(key);
                    if (fields !== null && !Object.hasOwn(fields.map, key)) throw bad(`Malformed request: unknown field '${key.slice(0, 64)}' in the ${fields.what}`);
                    item(depth + 1, fields?.map[key] ?? 'any', `field '${key}'`);
                }
                return null;
            }
        }
    };
    try {
        item(0, shape, 'the body');
    } catch (error) {
        if (error instanceof EnvelopeError) throw error;
        throw bad(`Could not parse body as CBOR: ${(error as Error).message}`);
    }
    if (at !== bytes.length) throw bad('Could not parse body as CBOR: trailing bytes after the request');
}

// ------------------------------------------------------------------ request ids

const sha256 = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(bytes).digest());

/**
 * The representation-independent hash of a decoded CBOR map (the request id of a request's content), as
 * `@dfinity/agent`'s `hashOfMap` computes it, with Node's SHA-256: the agent's pure-JS one takes ~100 ms
 * for the 1.9 MB argument of an upload's chunk, Node's ~1 ms.
 */
export function hashOfMap(map: Record<string, unknown>): Uint8Array {
    const pairs = Object.entries(map)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => concatBytes([sha256(new TextEncoder().encode(key)), hashValue(value)]))
        .sort(compare);
    return sha256(concatBytes(pairs));
}

function hashValue(value: unknown): Uint8Array {
    if (typeof value === 'string') return sha256(new TextEncoder().encode(value));
    if (value instanceof Uint8Array) return sha256(value);
    if ((typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) || (typeof value === 'bigint' && value >= 0n)) return sha256(lebEncode(value));
    if (Array.isArray(value)) return sha256(concatBytes(value.map(hashValue)));
    if (typeof value === 'object' && value !== null) return hashOfMap(value as Record<string, unknown>);
    throw new Error(`cannot hash a value of type ${typeof value}`);
}

// ------------------------------------------------------------------ typed contents

export type RequestType = 'call' | 'query' | 'read_state';

export interface Delegation {
    pubkey: Uint8Array;
    expiration: bigint;
    targets?: Uint8Array[];
}

export interface Envelope {
    content: Record<string, unknown>;
    requestType: RequestType;
    requestId: Uint8Array;
    sender: Principal;
    ingressExpiry: bigint;
    nonce?: Uint8Array;
    /** call and query */
    canisterId?: Principal;
    methodName?: string;
    arg?: Uint8Array;
    /** read_state */
    paths?: Uint8Array[][];
    senderPubkey?: Uint8Array;
    senderSig?: Uint8Array;
    senderDelegation?: { delegation: Delegation; signature: Uint8Array }[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const field = (o: Obj, name: string): unknown => (Object.hasOwn(o, name) ? o[name] : undefined);

function blob(o: Obj, name: string, required: true): Uint8Array;
function blob(o: Obj, name: string, required: false): Uint8Array | undefined;
function blob(o: Obj, name: string, required: boolean): Uint8Array | undefined {
    const v = field(o, name);
    if (v === undefined && !required) return undefined;
    if (!(v instanceof Uint8Array)) throw bad(`Malformed request: field '${name}' must be a blob`);
    return v;
}

function nat(o: Obj, name: string): bigint {
    const v = field(o, name);
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
    if (typeof v === 'bigint' && v >= 0n) return v;
    throw bad(`Malformed request: field '${name}' must be a natural number`);
}

function text(o: Obj, name: string): string {
    const v = field(o, name);
    if (typeof v !== 'string') throw bad(`Malformed request: field '${name}' must be text`);
    return v;
}

function principal(bytes: Uint8Array, name: string): Principal {
    if (bytes.length > 29) throw bad(`Malformed request: '${name}' is not a principal (longer than 29 bytes)`);
    return Principal.fromUint8Array(bytes);
}

const MAX_DELEGATIONS = 20;
const MAX_TARGETS = 1000;
const MAX_PATHS = 1000;
const MAX_PATH_LABELS = 127;

const tooManyPaths = (n: number) => `Too many paths in read state request: got ${n} paths, but at most ${MAX_PATHS} are allowed.`;
const tooDeep = (n: number) => `At least one path in read state request is too deep: got ${n} labels, but at most ${MAX_PATH_LABELS} are allowed.`;
const tooManyDelegations = (n: number) => `Invalid delegation: Chain of delegations is too long: got ${n} delegations, but at most ${MAX_DELEGATIONS} are allowed.`;
const tooManyTargets = (n: number) => `Invalid delegation: Delegation target error: expected at most ${MAX_TARGETS} targets per delegation, but got ${n}`;

/**
 * The envelope every endpoint accepts, checked before anything is decoded or hashed: the fields of a
 * call, query or read_state `content` (which one is checked after decoding, for the IC's message) and
 * nothing else, the authentication fields, and the IC's bounds on paths and delegations.
 */
const ENVELOPE_SHAPE: CborShape = {
    what: 'envelope',
    map: {
        content: {
            what: 'content',
            map: {
                request_type: 'text',
                sender: 'blob',
                nonce: 'blob',
                ingress_expiry: 'nat',
                canister_id: 'blob',
                method_name: 'text',
                arg: 'blob',
                paths: { max: MAX_PATHS, tooMany: tooManyPaths, array: { max: MAX_PATH_LABELS, tooMany: tooDeep, array: 'blob' } }
            }
        },
        sender_pubkey: 'blob',
        sender_sig: 'blob',
        sender_delegation: {
            max: MAX_DELEGATIONS,
            tooMany: tooManyDelegations,
            array: {
                what: 'signed delegation',
                map: {
                    delegation: { what: 'delegation', map: { pubkey: 'blob', expiration: 'nat', targets: { max: MAX_TARGETS, tooMany: tooManyTargets, array: 'blob' } } },
                    signature: 'blob'
                }
            }
        }
    }
};

/**
 * Decodes and types a request body of the given kind; throws `EnvelopeError` (400) when it is not one.
 * Its shape and size are checked first ({@link checkCbor}), so decoding and hashing cost at most
 * {@link MAX_ENVELOPE_ITEMS} items and a linear pass over the blobs.
 */
export function parseEnvelope(body: Uint8Array, expected: RequestType): Envelope {
    checkCbor(body, ENVELOPE_SHAPE, { maxItems: MAX_ENVELOPE_ITEMS });
    const decoded = Cbor.decode<unknown>(body);
    if (!isObj(decoded)) throw bad('Malformed request: the body is not an envelope map');
    const content = field(decoded, 'content');
    if (!isObj(content)) throw bad("Malformed request: missing 'content' map");
    const requestType = text(content, 'request_type');
    if (requestType !== expected) throw bad(`Malformed request: request_type is '${requestType}', expected '${expected}'`);
    let requestId: Uint8Array;
    try {
        requestId = hashOfMap(content);
    } catch (error) {
        throw bad(`Malformed request: cannot hash its content: ${(error as Error).message}`);
    }
    const envelope: Envelope = {
        content,
        requestType,
        requestId,
        sender: principal(blob(content, 'sender', true), 'sender'),
        ingressExpiry: nat(content, 'ingress_expiry'),
        nonce: blob(content, 'nonce', false),
        senderPubkey: blob(decoded, 'sender_pubkey', false),
        senderSig: blob(decoded, 'sender_sig', false)
    };
    if (expected === 'read_state') {
        const paths = field(content, 'paths');
        if (!Array.isArray(paths) || !paths.every((p) => Array.isArray(p) && p.every((l) => l instanceof Uint8Array))) {
            throw bad("Malformed request: 'paths' must be an array of arrays of blobs");
        }
        envelope.paths = paths as Uint8Array[][];
    } else {
        envelope.canisterId = principal(blob(content, 'canister_id', true), 'canister_id');
        envelope.methodName = text(content, 'method_name');
        envelope.arg = blob(content, 'arg', true);
    }
    const delegations = field(decoded, 'sender_delegation');
    if (delegations !== undefined) {
        if (!Array.isArray(delegations)) throw bad("Malformed request: 'sender_delegation' must be an array");
        envelope.senderDelegation = delegations.map((d) => {
            if (!isObj(d)) throw bad('Malformed request: a delegation is not a map');
            const inner = field(d, 'delegation');
            if (!isObj(inner)) throw bad("Malformed request: a delegation has no 'delegation' map");
            const targets = field(inner, 'targets');
            if (targets !== undefined && (!Array.isArray(targets) || !targets.every((t) => t instanceof Uint8Array))) {
                throw bad("Malformed request: delegation 'targets' must be an array of blobs");
            }
            return {
                delegation: { pubkey: blob(inner, 'pubkey', true), expiration: nat(inner, 'expiration'), targets: targets as Uint8Array[] | undefined },
                signature: blob(d, 'signature', true)
            };
        });
    }
    return envelope;
}

// ------------------------------------------------------------------ authentication

/** Longest ingress expiry accepted: MAX_INGRESS_TTL (5 min) plus the validator's permitted drift (60 s). */
export const MAX_INGRESS_TTL_NS = 5n * 60n * 1_000_000_000n;
export const PERMITTED_DRIFT_NS = 60n * 1_000_000_000n;
const MAX_NONCE_BYTES = 32;

const REQUEST_SEPARATOR = Uint8Array.of(10, ...new TextEncoder().encode('ic-request'));
const DELEGATION_SEPARATOR = Uint8Array.of(26, ...new TextEncoder().encode('ic-request-auth-delegation'));

const DER = {
    ed25519: Buffer.from('302a300506032b6570032100', 'hex'),
    secp256k1: Buffer.from('3056301006072a8648ce3d020106052b8104000a034200', 'hex'),
    p256: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
    /** OID 1.3.6.1.4.1.56387.1.2 (canister signatures). */
    canisterSigOid: Buffer.from('060a2b0601040183b8430102', 'hex'),
    /** OID 1.3.6.1.4.1.56387.1.1 (DER-wrapped COSE, WebAuthn). */
    coseOid: Buffer.from('060a2b0601040183b8430101', 'hex')
};

/** What verifies canister signatures: the root key they chain to, as the replica's own certificates do. */
export interface AuthContext {
    /** Current time (ns) of the replica. */
    now: bigint;
    rootKey: Uint8Array;
}

function nanosText(ns: bigint): string {
    return `${new Date(Number(ns / 1_000_000n)).toISOString()} (${ns} ns)`;
}

/** Checks the ingress expiry as the IC's validator does (for queries and read_state only when not anonymous). */
export function checkExpiry(envelope: Envelope, now: bigint): void {
    const max = now + MAX_INGRESS_TTL_NS + PERMITTED_DRIFT_NS;
    if (envelope.ingressExpiry < now || envelope.ingressExpiry > max) {
        throw bad(
            `Invalid request expiry: Specified ingress_expiry not within expected range: Minimum allowed expiry: ${nanosText(now)}, ` +
                `Maximum allowed expiry: ${nanosText(max)}, Provided expiry:        ${nanosText(envelope.ingressExpiry)}`
        );
    }
}

/** Checks paths' number and depth (read_state). */
export function checkPaths(paths: Uint8Array[][]): void {
    if (paths.length > MAX_PATHS) throw bad(tooManyPaths(paths.length));
    for (const path of paths) {
        if (path.length > MAX_PATH_LABELS) throw bad(tooDeep(path.length));
    }
}

/**
 * Authenticates the envelope; returns the canister ids its delegations allow (null: any). Throws
 * `EnvelopeError` 400 with the IC's messages.
 */
export async function authenticate(envelope: Envelope, ctx: AuthContext): Promise<Set<string> | null> {
    if (envelope.nonce !== undefined && envelope.nonce.length > MAX_NONCE_BYTES) {
        throw bad(`Nonce in request is too big: got ${envelope.nonce.length} bytes, but at most ${MAX_NONCE_BYTES} are allowed.`);
    }
    const anonymous = envelope.sender.isAnonymous();
    const signed = envelope.senderPubkey !== undefined || envelope.senderSig !== undefined || envelope.senderDelegation !== undefined;
    if (!signed) {
        if (anonymous) return null;
        throw bad(`Missing signature from user: ${envelope.sender.toText()}`);
    }
    if (anonymous) throw bad('Signature is not allowed for the anonymous user.');
    if (envelope.senderPubkey === undefined || envelope.senderSig === undefined) throw bad(`Missing signature from user: ${envelope.sender.toText()}`);
    if (Principal.selfAuthenticating(envelope.senderPubkey).toText() !== envelope.sender.toText()) {
        throw bad(`The user id '${envelope.sender.toText()}' does not match the public key '${hex(envelope.senderPubkey)}'`);
    }
    const delegations = envelope.senderDelegation ?? [];
    if (delegations.length > MAX_DELEGATIONS) {
        throw bad(tooManyDelegations(delegations.length));
    }
    for (const { delegation } of delegations) {
        if (delegation.expiration < ctx.now) {
            throw bad(`Invalid delegation expiry: Specified sender delegation has expired:\nProvided expiry:    ${nanosText(delegation.expiration)}\nLocal replica time: ${nanosText(ctx.now)}`);
        }
    }
    const seen = new Set([hex(envelope.senderPubkey)]);
    for (const { delegation } of delegations) {
        const key = hex(delegation.pubkey);
        if (seen.has(key)) throw bad(`Invalid delegation: Chain of delegations contains at least one cycle: first repeating public key encountered ${key}`);
        seen.add(key);
        if (delegation.targets !== undefined && delegation.targets.length > MAX_TARGETS) {
            throw bad(tooManyTargets(delegation.targets.length));
        }
    }
    let targets = null as Set<string> | null;
    let signer = envelope.senderPubkey;
    for (const { delegation, signature } of delegations) {
        const map: Record<string, unknown> = { pubkey: delegation.pubkey, expiration: delegation.expiration };
        if (delegation.targets !== undefined) map.targets = delegation.targets;
        const problem = await verifySignature(signer, signature, concatBytes([DELEGATION_SEPARATOR, hashOfMap(map)]), ctx);
        if (problem !== null) throw bad(`Invalid delegation: ${problem}`);
        if (delegation.targets !== undefined) {
            const these = new Set(delegation.targets.map((t) => principal(t, 'target').toText()));
            targets = targets === null ? these : new Set([...(targets as Set<string>)].filter((t: string) => these.has(t)));
        }
        signer = delegation.pubkey;
    }
    const problem = await verifySignature(signer, envelope.senderSig, concatBytes([REQUEST_SEPARATOR, envelope.requestId]), ctx);
    if (problem !== null) throw bad(`Invalid signature: ${problem}`);
    return targets;
}

/** Verifies `signature` of `payload` (domain separator included) by the DER public key; returns why not, or null. */
async function verifySignature(publicKey: Uint8Array, signature: Uint8Array, payload: Uint8Array, ctx: AuthContext): Promise<string | null> {
    const key = Buffer.from(publicKey);
    const plain = (algorithm: string | null, spki: Buffer, dsa: boolean): string | null => {
        let ok: boolean;
        try {
            const keyObject = createPublicKey({ key: spki, format: 'der', type: 'spki' });
            ok = nodeVerify(algorithm, payload, dsa ? { key: keyObject, dsaEncoding: 'ieee-p1363' } : keyObject, signature);
        } catch (error) {
            return `Invalid public key: ${(error as Error).message}`;
        }
        return ok ? null : `Invalid basic signature: signature verification failed for public key ${hex(publicKey)}`;
    };
    if (key.length === 44 && key.subarray(0, 12).equals(DER.ed25519)) return plain(null, key, false);
    if (key.length === 88 && key.subarray(0, 23).equals(DER.secp256k1)) return signature.length === 64 ? plain('sha256', key, true) : 'Invalid basic signature: ECDSA signatures are 64 bytes';
    if (key.length === 91 && key.subarray(0, 26).equals(DER.p256)) return signature.length === 64 ? plain('sha256', key, true) : 'Invalid basic signature: ECDSA signatures are 64 bytes';
    const spki = readSpki(key);
    if (spki !== null && spki.oid.equals(DER.canisterSigOid)) return verifyCanisterSignature(spki.key, signature, payload, ctx);
    if (spki !== null && spki.oid.equals(DER.coseOid)) return verifyWebAuthn(spki.key, signature, payload);
    return `Invalid public key: unsupported or malformed DER public key ${hex(publicKey)}`;
}

/** SubjectPublicKeyInfo ::= SEQUENCE { SEQUENCE { OID, ... }, BIT STRING }: the algorithm OID (TLV) and the key bits. */
function readSpki(der: Buffer): { oid: Buffer; key: Buffer } | null {
    let at = 0;
    const tlv = (tag: number): { start: number; end: number } | null => {
        if (der[at] !== tag) return null;
        let length = der[at + 1];
        let start = at + 2;
        if (length === undefined) return null;
        if (length & 0x80) {
            const n = length & 0x7f;
            if (n < 1 || n > 2) return null;
            length = n === 1 ? der[start] : der[start] * 256 + der[start + 1];
            start += n;
        }
        const end = start + length;
        if (end > der.length) return null;
        return { start, end };
    };
    const outer = tlv(0x30);
    if (outer === null || outer.end !== der.length) return null;
    at = outer.start;
    const algorithm = tlv(0x30);
    if (algorithm === null) return null;
    at = algorithm.start;
    const oid = tlv(0x06);
    if (oid === null) return null;
    const oidBytes = der.subarray(at, oid.end);
    at = algorithm.end;
    const bits = tlv(0x03);
    if (bits === null || bits.end !== der.length || der[bits.start] !== 0) return null;
    return { oid: oidBytes, key: der.subarray(bits.start + 1, bits.end) };
}

/**
 * A WebAuthn signature (a security key or passkey signing directly, as Internet Identity's own front end
 * does): the CBOR map {authenticator_data, client_data_json, signature}, valid when the client data's
 * challenge is the base64url payload and the ECDSA P-256 signature (DER) verifies on
 * `authenticator_data · SHA-256(client_data_json)` under the COSE key. (RSA COSE keys are not supported.)
 */
function verifyWebAuthn(cose: Buffer, signature: Uint8Array, payload: Uint8Array): string | null {
    const fail = (why: string) => `WebAuthn error: ${why}`;
    const key = readCoseEc2(cose);
    if (key === null) return 'Invalid public key: only ECDSA P-256 (ES256) COSE keys are supported';
    let sig: { authenticator_data?: unknown; client_data_json?: unknown; signature?: unknown };
    try {
        checkCbor(signature);
        sig = Cbor.decode(signature);
    } catch {
        return fail('the signature is not CBOR');
    }
    const { authenticator_data: authenticatorData, client_data_json: clientDataJson, signature: der } = sig;
    if (!(authenticatorData instanceof Uint8Array) || typeof clientDataJson !== 'string' || !(der instanceof Uint8Array)) {
        return fail('the signature is not an {authenticator_data, client_data_json, signature} map');
    }
    let challenge: unknown;
    try {
        challenge = (JSON.parse(clientDataJson) as { challenge?: unknown }).challenge;
    } catch {
        return fail('client_data_json is not JSON');
    }
    if (challenge !== Buffer.from(payload).toString('base64url')) return fail('the client data challenge is not the signed message');
    const signed = concatBytes([authenticatorData, new Uint8Array(createHash('sha256').update(clientDataJson).digest())]);
    try {
        const spki = Buffer.concat([DER.p256, Uint8Array.of(4), key.x, key.y]);
        if (nodeVerify('sha256', signed, createPublicKey({ key: spki, format: 'der', type: 'spki' }), der)) return null;
    } catch (error) {
        return fail((error as Error).message);
    }
    return fail('signature verification failed');
}

/** The x and y of a COSE EC2 P-256 key (kty 2, crv 1: a CBOR map with small integer keys), or null. */
function readCoseEc2(cose: Buffer): { x: Buffer; y: Buffer } | null {
    let at = 0;
    const head = (): [number, number] | null => {
        const initial = cose[at++];
        if (initial === undefined) return null;
        const info = initial & 31;
        if (info < 24) return [initial >> 5, info];
        if (info === 24 && at < cose.length) return [initial >> 5, cose[at++]];
        return null;
    };
    const map = head();
    if (map === null || map[0] !== 5) return null;
    const fields = new Map<number, number | Buffer>();
    for (let i = 0; i < map[1]; i++) {
        const k = head();
        const v = head();
        if (k === null || v === null || (k[0] !== 0 && k[0] !== 1)) return null;
        const label = k[0] === 0 ? k[1] : -1 - k[1];
        if (v[0] === 0) fields.set(label, v[1]);
        else if (v[0] === 1) fields.set(label, -1 - v[1]);
        else if (v[0] === 2 && at + v[1] <= cose.length) fields.set(label, cose.subarray(at, (at += v[1])));
        else return null;
    }
    const x = fields.get(-2);
    const y = fields.get(-3);
    if (fields.get(1) !== 2 || fields.get(-1) !== 1 || !Buffer.isBuffer(x) || !Buffer.isBuffer(y) || x.length !== 32 || y.length !== 32) return null;
    return { x, y };
}

/**
 * A canister signature (Internet Identity's): the CBOR map {certificate, tree}; valid when the
 * certificate verifies under the root key, certifies `reconstruct(tree)` as the signing canister's
 * certified data, and the tree holds `/sig/<sha256(seed)>/<sha256(payload)>`.
 */
async function verifyCanisterSignature(key: Buffer, signature: Uint8Array, payload: Uint8Array, ctx: AuthContext): Promise<string | null> {
    const fail = (why: string) => `Invalid canister signature: ${why}`;
    const idLength = key[0];
    if (idLength === undefined || idLength > 29 || key.length < 1 + idLength) return fail('malformed public key');
    const signer = Principal.fromUint8Array(new Uint8Array(key.subarray(1, 1 + idLength)));
    const seed = key.subarray(1 + idLength);
    let sig: { certificate: Uint8Array; tree: unknown };
    try {
        checkCbor(signature);
        sig = Cbor.decode(signature);
        if (!(sig.certificate instanceof Uint8Array) || !Array.isArray(sig.tree)) return fail('the signature is not a {certificate, tree} map');
    } catch {
        return fail('the signature is not CBOR');
    }
    try {
        checkCertificateSize(sig.certificate);
        const certificate = await Certificate.create({
            certificate: sig.certificate,
            rootKey: ctx.rootKey,
            canisterId: signer,
            disableTimeVerification: true,
            blsVerify: blsVerifyOffThread
        });
        const certified = certificate.lookup_path(['canister', signer.toUint8Array(), 'certified_data']);
        const root = await reconstruct(sig.tree as never);
        if (certified.status !== LookupPathStatus.Found || hex(certified.value as Uint8Array) !== hex(root)) return fail('the certificate does not certify the signature tree');
        const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
        const leaf = lookup_path(['sig', sha(seed), sha(payload)], sig.tree as never);
        if (leaf.status !== LookupPathStatus.Found) return fail('the signature tree does not hold this message');
        return null;
    } catch (error) {
        return fail((error as Error).message);
    }
}

/**
 * Bounds a certificate (and the subnet delegation's certificate inside it) before `Certificate.create`
 * decodes it: both are CBOR blobs the sender chose, which the agent's decoder would build in full.
 */
function checkCertificateSize(bytes: Uint8Array): void {
    checkCbor(bytes);
    const inner = (Cbor.decode<{ delegation?: { certificate?: unknown } }>(bytes) as { delegation?: { certificate?: unknown } }).delegation?.certificate;
    if (inner === undefined) return;
    if (!(inner instanceof Uint8Array)) throw new Error("the certificate's delegation has no certificate blob");
    checkCbor(inner);
    if ((Cbor.decode<{ delegation?: unknown }>(inner) as { delegation?: unknown }).delegation !== undefined) throw new Error('the delegation certificate is itself delegated');
}
