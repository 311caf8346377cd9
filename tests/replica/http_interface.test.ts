/**
 * The IC HTTP interface over the replica, driven by a plain `@dfinity/agent` with its default settings
 * (`HttpAgent.create({ host, shouldFetchRootKey: true })`, query signatures and certificates verified),
 * against a node http server on 127.0.0.1. The agent must refuse what a tampering server sends; the
 * replica must refuse forged, expired, replayed and malformed requests with the IC's status codes.
 */
import {
    Actor,
    AnonymousIdentity,
    Cbor,
    Certificate,
    CanisterStatus,
    HttpAgent,
    IC_REQUEST_AUTH_DELEGATION_DOMAIN_SEPARATOR,
    lookupResultToBuffer,
    pollForResponse,
    requestIdOf,
    type ActorSubclass,
    type Identity,
    type SignIdentity
} from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Delegation, DelegationChain, DelegationIdentity, Ed25519KeyIdentity } from '@dfinity/identity';
import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PocketIc } from '../../replica';
import { quietExpectedAgentWarnings } from '../helpers/agent_warnings';
import { createHash } from 'node:crypto';

import type { IcApi } from '../../replica/http';
import { Forest, Leaf } from '../../replica/http/hash_tree';
import { canisterIdFromIndex } from '../../replica/ids';
import { idlFactory, type ProbeService } from '../fixtures/probe/idl';
import { serveIcApi } from '../helpers/ic_api';
import { PROBE_WASM, probeArg } from './probe';
import { CERTIFIED_WAT, wat } from './wat';

const text = (s: string) => new TextEncoder().encode(s);
const seeded = (name: string) => Ed25519KeyIdentity.generate(text(name.padEnd(32, '.')));

let pic: PocketIc;
let api: IcApi;
let close: () => Promise<void>;
let host: string;
let probeId: Principal;
let certifiedId: Principal;

// Some specs make the replica refuse read_state paths on purpose; the agent would print each refusal.
let restoreWarnings: () => void = () => {};
beforeAll(async () => {
    restoreWarnings = quietExpectedAgentWarnings();
    pic = await PocketIc.create();
    ({ api, host, close } = await serveIcApi(pic.replica));
    await pic.setTime(Date.now());
    probeId = (await pic.setupCanister<ProbeService>({ idlFactory, wasm: PROBE_WASM, arg: probeArg('http') })).canisterId;
    certifiedId = await pic.createCanister();
    await pic.installCode({ canisterId: certifiedId, wasm: await wat(CERTIFIED_WAT) });
});

afterAll(async () => {
    restoreWarnings();
    await close();
});

/** An agent with default settings; `refused` (or a tampering fetch) turns off its retries of failed requests, to keep the spec fast. */
async function agentFor(identity: Identity = seeded('alice'), fetchImpl?: typeof fetch, refused = false) {
    return HttpAgent.create({ host, identity, shouldFetchRootKey: true, ...(fetchImpl ? { fetch: fetchImpl } : {}), ...(fetchImpl || refused ? { retryTimes: 0 } : {}) });
}

async function probe(identity?: Identity, fetchImpl?: typeof fetch, refused = false): Promise<ActorSubclass<ProbeService>> {
    return Actor.createActor<ProbeService>(idlFactory, { agent: await agentFor(identity, fetchImpl, refused), canisterId: probeId });
}

describe('@dfinity/agent against the replica', () => {
    it('fetches the root key from /api/v2/status', async () => {
        const agent = await agentFor();
        expect(new Uint8Array(agent.rootKey!)).toEqual(api.rootKey);
    });

    it('makes update calls (certified) and queries (signed) as Ed25519, secp256k1 and anonymous identities', async () => {
        const alice = await probe();
        const before = await alice.get();
        expect(await alice.inc()).toBe(before + 1n);
        expect(await alice.get()).toBe(before + 1n);
        expect((await alice.whoami()).toText()).toBe(seeded('alice').getPrincipal().toText());
        const secp = Secp256k1KeyIdentity.generate(text('k'.repeat(32)));
        expect((await (await probe(secp)).whoami()).toText()).toBe(secp.getPrincipal().toText());
        const anonymous = await probe(new AnonymousIdentity());
        expect(await anonymous.inc()).toBe(before + 2n);
        expect((await anonymous.whoami()).isAnonymous()).toBe(true);
    });

    it('reports rejects and traps with their codes, certified', async () => {
        const alice = await probe();
        await expect(alice.reject_with('no thanks')).rejects.toThrow(/no thanks[\s\S]*(Reject code: 4|IC0406)|IC0406[\s\S]*no thanks/);
        await expect(alice.trap_with('boom')).rejects.toThrow(/IC0503/);
    });

    it('refuses calls to a canister that does not exist before execution (uncertified reject)', async () => {
        const missing = Actor.createActor<ProbeService>(idlFactory, { agent: await agentFor(), canisterId: canisterIdFromIndex(70_000n) });
        await expect(missing.inc()).rejects.toThrow(/IC0301/);
        await expect(missing.get()).rejects.toThrow(/IC0301/);
        // An id outside every subnet's range is refused before any subnet sees it, as the IC's boundary nodes do.
        const unroutable = Actor.createActor<ProbeService>(idlFactory, { agent: await agentFor(undefined, undefined, true), canisterId: Principal.fromText('rrkah-fqaaa-aaaaa-aaaaq-cai') });
        await expect(unroutable.inc()).rejects.toThrow(/400[\s\S]*canister_not_found/);
        await expect(unroutable.get()).rejects.toThrow(/400[\s\S]*canister_not_found/);
    });

    it('answers asynchronous calls with 202 and the result through read_state', async () => {
        const agent = await agentFor();
        const before = await (await probe()).get();
        const { requestId, response } = await agent.call(probeId, { methodName: 'inc', arg: IDL.encode([], []), callSync: false });
        expect(response.status).toBe(202);
        const { reply } = await pollForResponse(agent, probeId, requestId);
        expect(IDL.decode([IDL.Nat], reply!)[0]).toBe(before + 1n);
    });

    it('accepts delegation chains (as Internet Identity sessions use) and their targets', async () => {
        const root = seeded('root');
        const session = seeded('session');
        const chain = await DelegationChain.create(root, session.getPublicKey(), new Date(Date.now() + 60_000));
        const user = DelegationIdentity.fromDelegation(session, chain);
        expect((await (await probe(user)).whoami()).toText()).toBe(root.getPrincipal().toText());
        await (await probe(user)).inc();
        const elsewhere = await DelegationChain.create(root, session.getPublicKey(), new Date(Date.now() + 60_000), { targets: [certifiedId] });
        await expect((await probe(DelegationIdentity.fromDelegation(session, elsewhere), undefined, true)).inc()).rejects.toThrow(/not one of the delegation targets/);
    });

    it('accepts canister signatures, as Internet Identity delegates to a session key with them', async () => {
        // The signing canister certifies a tree holding /sig/<sha256(seed)>/<sha256(payload)>, and its
        // certificate plus the tree are the signature (what Internet Identity's canister does).
        const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
        const seed = text('user 10000');
        const der = canisterSigKey(certifiedId, seed);
        const session = seeded('ii-session');
        const delegation = new Delegation(session.getPublicKey().toDer(), BigInt(Date.now() + 60_000) * 1_000_000n);
        const payload = new Uint8Array([...IC_REQUEST_AUTH_DELEGATION_DOMAIN_SEPARATOR, ...requestIdOf({ ...delegation })]);
        const tree = Forest.of({ sig: new Forest([[sha(seed), new Forest([[sha(payload), new Leaf(new Uint8Array())]])]]) });
        await pic.updateCall({ canisterId: certifiedId, method: 'set', arg: tree.hash });
        const signature = Cbor.encode({ certificate: api.certifier.dataCertificate(certifiedId), tree: tree.witness(true) });
        const chain = DelegationChain.fromDelegations([{ delegation, signature: signature as never }], der as never);
        const user = DelegationIdentity.fromDelegation(session, chain);
        expect((await (await probe(user)).whoami()).toText()).toBe(Principal.selfAuthenticating(der).toText());
        // Signed for another seed, the same signature proves nothing.
        const other = DelegationChain.fromDelegations([{ delegation, signature: signature as never }], canisterSigKey(certifiedId, text('user 2')) as never);
        await expect((await probe(DelegationIdentity.fromDelegation(session, other), undefined, true)).whoami()).rejects.toThrow(/Invalid canister signature/);
    });

    it('gives queries a data certificate of the canister’s certified data', async () => {
        const agent = await agentFor();
        await agent.call(certifiedId, { methodName: 'set', arg: text('over http') });
        const result = await agent.query(certifiedId, { methodName: 'cert', arg: new Uint8Array() });
        expect(result.status).toBe('replied');
        const certificate = await Certificate.create({ certificate: (result as { reply: { arg: Uint8Array } }).reply.arg, rootKey: agent.rootKey!, canisterId: certifiedId });
        expect(lookupResultToBuffer(certificate.lookup_path(['canister', certifiedId.toUint8Array(), 'certified_data']))).toEqual(text('over http'));
    });

    it('certifies public canister metadata, and private metadata to controllers only', async () => {
        const section = (name: string, content: string) => {
            const body = [name.length, ...text(name), ...text(content)];
            return [0, body.length, ...body];
        };
        const module = new Uint8Array([...(await wat(CERTIFIED_WAT)), ...section('icp:public candid:service', 'service : { set : (blob) -> (blob) }'), ...section('icp:private notes', 'secret')]);
        const canisterId = await pic.createCanister();
        await pic.installCode({ canisterId, wasm: module });
        const status = await CanisterStatus.request({ canisterId, agent: await agentFor(), paths: ['candid', 'module_hash'] });
        expect(status.get('candid')).toBe('service : { set : (blob) -> (blob) }');
        expect(status.get('module_hash')).toBe(Buffer.from(pic.replica.getCanister(canisterId)!.module!.moduleHash).toString('hex'));
        const notes = { key: 'notes', path: 'notes', decodeStrategy: 'utf-8' as const };
        const asController = await CanisterStatus.request({ canisterId, agent: await agentFor(new AnonymousIdentity()), paths: [notes] });
        expect(asController.get('notes')).toBe('secret');
        const stranger = await CanisterStatus.request({ canisterId, agent: await agentFor(seeded('alice'), undefined, true), paths: [notes] });
        expect(stranger.get('notes')).toBeNull();
    });

    it('serves management canister calls at the effective canister id', async () => {
        const agent = await agentFor(new AnonymousIdentity(), undefined, true);
        const arg = IDL.encode([IDL.Record({ canister_id: IDL.Principal })], [{ canister_id: probeId }]);
        const call = (ecid: Principal) => agent.call(Principal.fromText('aaaaa-aa'), { methodName: 'canister_status', arg, effectiveCanisterId: ecid });
        const { response } = await call(probeId);
        expect(response.status).toBe(200);
        await expect(call(certifiedId)).rejects.toThrow(/does not match effective canister id/);
    });
});

/** The DER public key of a canister signature (OID 1.3.6.1.4.1.56387.1.2): |id| · id · seed in a BIT STRING. */
function canisterSigKey(canister: Principal, seed: Uint8Array): Uint8Array {
    const id = canister.toUint8Array();
    const bits = [0, id.length, ...id, ...seed];
    const algorithm = [0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xb8, 0x43, 0x01, 0x02];
    const body = [...algorithm, 0x03, bits.length, ...bits];
    return new Uint8Array([0x30, body.length, ...body]);
}

/** A fetch that lets `edit` change each CBOR response body of the given endpoint. */
function tampering(endpoint: RegExp, edit: (body: Record<string, any>) => void): typeof fetch {
    return async (input, init) => {
        const response = await fetch(input, init);
        const url = String(input instanceof Request ? input.url : input);
        if (!endpoint.test(url) || response.status !== 200) return response;
        const body = Cbor.decode<Record<string, any>>(new Uint8Array(await response.arrayBuffer()));
        edit(body);
        return new Response(Buffer.from(Cbor.encode(body)), { status: 200, headers: response.headers });
    };
}

const flip = (bytes: Uint8Array, at = 3) => {
    const copy = new Uint8Array(bytes);
    copy[at] ^= 1;
    return copy;
};

/** Rewrites a certificate (CBOR) with `edit` applied to its decoded form. */
const editCertificate = (certificate: Uint8Array, edit: (cert: Record<string, any>) => void) => {
    const cert = Cbor.decode<Record<string, any>>(certificate);
    edit(cert);
    return Cbor.encode(cert);
};

/** The same tree with every leaf value changed: what a server lying about a reply sends. */
const lie = (tree: any): any => (tree[0] === 3 && tree[1].length > 0 ? [3, flip(tree[1], tree[1].length - 1)] : tree.map((t: any) => (Array.isArray(t) ? lie(t) : t)));

describe('the agent refuses a tampering replica', () => {
    it('when a query signature is changed', async () => {
        const alice = await probe(seeded('alice'), tampering(/\/query$/, (b) => (b.signatures[0].signature = flip(b.signatures[0].signature))));
        await expect(alice.get()).rejects.toThrow(/signature/i);
    });

    it('when a query reply is changed under its signature', async () => {
        const alice = await probe(seeded('alice'), tampering(/\/query$/, (b) => (b.reply.arg = flip(b.reply.arg, b.reply.arg.length - 1))));
        await expect(alice.get()).rejects.toThrow(/signature/i);
    });

    it('when the certificate signature of an update call is changed', async () => {
        const alice = await probe(seeded('alice'), tampering(/\/call$/, (b) => (b.certificate = editCertificate(b.certificate, (c) => (c.signature = flip(c.signature))))));
        await expect(alice.inc()).rejects.toThrow(/signature|certificate/i);
    });

    it('when the certified reply of an update call is changed', async () => {
        const alice = await probe(seeded('alice'), tampering(/\/call$/, (b) => (b.certificate = editCertificate(b.certificate, (c) => (c.tree = lie(c.tree))))));
        await expect(alice.inc()).rejects.toThrow(/signature|certificate/i);
    });
});

// ---------------------------------------------------------------- hand-made requests

/** A signed (or anonymous) envelope for `content`, as the agent would send it. */
async function envelope(identity: SignIdentity | AnonymousIdentity, content: Record<string, unknown>): Promise<Record<string, unknown>> {
    const transformed = (await identity.transformRequest({ request: {}, endpoint: 'call', body: content } as never)) as { body: Record<string, unknown> };
    return transformed.body;
}

function callContent(sender: Principal, overrides: Record<string, unknown> = {}) {
    return {
        request_type: 'call',
        canister_id: probeId,
        method_name: 'inc',
        arg: IDL.encode([], []),
        sender,
        ingress_expiry: BigInt(Date.now() + 120_000) * 1_000_000n,
        nonce: crypto.getRandomValues(new Uint8Array(16)),
        ...overrides
    };
}

async function post(path: string, body: Uint8Array | Record<string, unknown>, contentType = 'application/cbor') {
    const bytes = body instanceof Uint8Array ? body : Cbor.encode(body);
    const response = await fetch(`${host}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.from(bytes) });
    return { status: response.status, text: response.headers.get('content-type')?.startsWith('application/cbor') ? '' : await response.text(), response };
}

describe('the replica refuses', () => {
    const alice = seeded('alice');
    const callPath = () => `/api/v3/canister/${probeId.toText()}/call`;

    it('a forged signature, a wrong sender, a signature from the anonymous user', async () => {
        const body = await envelope(alice, callContent(alice.getPrincipal()));
        const forged = await post(callPath(), { ...body, sender_sig: flip(body.sender_sig as Uint8Array) });
        expect(forged.status).toBe(400);
        expect(forged.text).toMatch(/^Invalid signature: /);
        const bob = seeded('bob');
        const wrongSender = await envelope(alice, callContent(bob.getPrincipal()));
        expect(await post(callPath(), wrongSender)).toMatchObject({ status: 400, text: expect.stringMatching(/does not match the public key/) });
        const unsigned = { content: callContent(alice.getPrincipal()) };
        expect(await post(callPath(), unsigned)).toMatchObject({ status: 400, text: expect.stringMatching(/Missing signature from user/) });
        const anonymousSigned = { ...body, content: callContent(Principal.anonymous()) };
        expect(await post(callPath(), anonymousSigned)).toMatchObject({ status: 400, text: expect.stringMatching(/not allowed for the anonymous user/) });
    });

    it('an expired request and one that expires too late, and an expired delegation', async () => {
        const expired = await envelope(alice, callContent(alice.getPrincipal(), { ingress_expiry: BigInt(Date.now() - 1000) * 1_000_000n }));
        expect(await post(callPath(), expired)).toMatchObject({ status: 400, text: expect.stringMatching(/^Invalid request expiry: /) });
        const tooLate = await envelope(alice, callContent(alice.getPrincipal(), { ingress_expiry: BigInt(Date.now() + 3_600_000) * 1_000_000n }));
        expect(await post(callPath(), tooLate)).toMatchObject({ status: 400, text: expect.stringMatching(/^Invalid request expiry: /) });
        const session = seeded('session');
        const chain = await DelegationChain.create(alice, session.getPublicKey(), new Date(Date.now() - 1000));
        const lapsed = await envelope(DelegationIdentity.fromDelegation(session, chain), callContent(alice.getPrincipal()));
        expect(await post(callPath(), lapsed)).toMatchObject({ status: 400, text: expect.stringMatching(/delegation has expired/) });
    });

    it('a replayed call: it runs once', async () => {
        const actor = await probe();
        const before = await actor.get();
        const body = Cbor.encode(await envelope(alice, callContent(alice.getPrincipal())));
        expect((await post(callPath(), body)).status).toBe(200);
        const replay = await post(callPath(), body);
        expect(replay).toMatchObject({ status: 202, text: expect.stringMatching(/Duplicate request/) });
        expect((await post(`/api/v2/canister/${probeId.toText()}/call`, body)).status).toBe(202);
        await new Promise((r) => setTimeout(r, 20));
        expect(await actor.get()).toBe(before + 1n);
    });

    it('malformed requests, wrong routes and methods', async () => {
        expect((await post(callPath(), text('not cbor at all'))).status).toBe(400);
        const body = Cbor.encode(await envelope(alice, callContent(alice.getPrincipal())));
        expect((await post(callPath(), new Uint8Array([...body, 0]))).text).toMatch(/trailing bytes/);
        expect((await post(callPath(), body.subarray(0, body.length - 4))).text).toMatch(/unexpected end/);
        expect(await post(callPath(), body, 'application/json')).toMatchObject({ status: 400, text: expect.stringMatching(/content-type/) });
        expect((await post(callPath(), { content: { request_type: 'call' } })).status).toBe(400);
        const query = await envelope(alice, { ...callContent(alice.getPrincipal()), request_type: 'query' });
        expect(await post(callPath(), query)).toMatchObject({ status: 400, text: expect.stringMatching(/request_type/) });
        expect(await post(`/api/v3/canister/${certifiedId.toText()}/call`, body)).toMatchObject({ status: 400, text: expect.stringMatching(/does not match effective canister id/) });
        expect((await post(`/api/v3/canister/not-a-principal/call`, body)).status).toBe(400);
        expect((await fetch(`${host}${callPath()}`)).status).toBe(405);
        expect((await post('/api/v9/whatever', body)).status).toBe(404);
        expect((await post(callPath(), new Uint8Array(5 * 1024 * 1024))).status).toBe(413);
        const bigNonce = await envelope(alice, callContent(alice.getPrincipal(), { nonce: new Uint8Array(33) }));
        expect(await post(callPath(), bigNonce)).toMatchObject({ status: 400, text: expect.stringMatching(/Nonce in request is too big/) });
        expect((await fetch(`${host}/index.html`)).status).toBe(404);
        // A browser's CORS preflight, as for a dapp served from another origin.
        const preflight = await fetch(`${host}${callPath()}`, { method: 'OPTIONS', headers: { origin: 'http://x.localhost', 'access-control-request-method': 'POST' } });
        expect(preflight.status).toBe(204);
        expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Content-Type/);
    });

    it('reading another user’s request status, or paths it may not read', async () => {
        const body = await envelope(alice, callContent(alice.getPrincipal()));
        expect((await post(callPath(), body)).status).toBe(200);
        const requestId = requestIdOf(body.content as Record<string, unknown>);
        const bob = seeded('bob');
        const read = async (who: SignIdentity, paths: Uint8Array[][], ecid = probeId) =>
            post(
                `/api/v2/canister/${ecid.toText()}/read_state`,
                await envelope(who, { request_type: 'read_state', paths, sender: who.getPrincipal(), ingress_expiry: BigInt(Date.now() + 60_000) * 1_000_000n })
            );
        expect((await read(alice, [[text('request_status'), requestId]])).status).toBe(200);
        expect(await read(bob, [[text('request_status'), requestId]])).toMatchObject({ status: 403, text: expect.stringMatching(/not signed by the caller/) });
        expect((await read(alice, [[text('canister'), probeId.toUint8Array(), text('certified_data')]])).status).toBe(404);
        expect((await read(alice, [[text('canister'), certifiedId.toUint8Array(), text('module_hash')]])).status).toBe(400);
        expect((await read(alice, [[text('request_status'), new Uint8Array(5)]])).status).toBe(400);
    });

    it('node keys to read_state outside the subnet’s canister ranges; the subnet endpoint serves /subnet and /time only', async () => {
        const anonymous = new AnonymousIdentity();
        const readAt = async (path: string, paths: Uint8Array[][]) =>
            post(path, await envelope(anonymous, { request_type: 'read_state', paths, sender: Principal.anonymous(), ingress_expiry: BigInt(Date.now() + 60_000) * 1_000_000n }));
        const sid = api.keys.subnetId;
        const nodePath = ['subnet', sid.toUint8Array(), 'node', api.keys.nodeId.toUint8Array(), 'public_key'];
        const certificateOf = async (response: Response) =>
            Certificate.create({ certificate: Cbor.decode<{ certificate: Uint8Array }>(new Uint8Array(await response.arrayBuffer())).certificate, rootKey: api.rootKey, canisterId: probeId });
        const inRange = await certificateOf((await readAt(`/api/v2/canister/${probeId.toText()}/read_state`, [[text('subnet')]])).response);
        expect(lookupResultToBuffer(inRange.lookup_path(nodePath))).toEqual(api.keys.nodeKey);
        const outside = await certificateOf((await readAt('/api/v2/canister/aaaaa-aa/read_state', [[text('subnet')]])).response);
        expect(lookupResultToBuffer(outside.lookup_path(nodePath))).toBeUndefined();
        expect(lookupResultToBuffer(outside.lookup_path(['subnet', sid.toUint8Array(), 'public_key']))).toEqual(api.rootKey);
        const subnet = await certificateOf((await readAt(`/api/v2/subnet/${sid.toText()}/read_state`, [[text('subnet')], [text('time')]])).response);
        expect(lookupResultToBuffer(subnet.lookup_path(nodePath))).toEqual(api.keys.nodeKey);
        expect((await readAt(`/api/v2/subnet/${sid.toText()}/read_state`, [[text('canister'), probeId.toUint8Array(), text('module_hash')]])).status).toBe(404);
        expect((await readAt(`/api/v2/subnet/${probeId.toText()}/read_state`, [[text('time')]])).status).toBe(404);
    });
});
