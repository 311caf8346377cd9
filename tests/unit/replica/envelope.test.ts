/** Request envelopes: CBOR well-formedness and authentication as the IC's validator does it. */
import { createHash, generateKeyPairSync, sign as nodeSign } from 'node:crypto';

import { Cbor, requestIdOf, type SignIdentity } from '@dfinity/agent';
import { Delegation, DelegationChain, DelegationIdentity, ECDSAKeyIdentity, Ed25519KeyIdentity } from '@dfinity/identity';
import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import { authenticate, checkCbor, checkExpiry, EnvelopeError, hashOfMap, MAX_INGRESS_TTL_NS, parseEnvelope, PERMITTED_DRIFT_NS } from '../../../replica/http/envelope';
import { ReplicaKeys } from '../../../replica/http/keys';

const text = (s: string) => new TextEncoder().encode(s);
const NOW = 1_800_000_000_000_000_000n;
const ctx = { now: NOW, rootKey: ReplicaKeys.generate().rootKey };
const canister = Principal.fromText('lxzze-o7777-77777-aaaaa-cai');

function content(sender: Principal, extra: Record<string, unknown> = {}) {
    return { request_type: 'call', canister_id: canister, method_name: 'inc', arg: new Uint8Array(), sender, ingress_expiry: NOW + 60_000_000_000n, ...extra };
}

async function signed(identity: SignIdentity, extra: Record<string, unknown> = {}): Promise<Uint8Array> {
    const { body } = (await identity.transformRequest({ request: {}, endpoint: 'call', body: content(identity.getPrincipal(), extra) } as never)) as { body: unknown };
    return Cbor.encode(body);
}

async function verdict(body: Uint8Array): Promise<string> {
    try {
        const envelope = parseEnvelope(body, 'call');
        checkExpiry(envelope, NOW);
        await authenticate(envelope, ctx);
        return 'ok';
    } catch (error) {
        if (error instanceof EnvelopeError) return `${error.status} ${error.message}`;
        throw error;
    }
}

describe('request ids', () => {
    it('are the specification’s example and what the agent computes, for every value kind', () => {
        const example = {
            request_type: 'call',
            sender: Uint8Array.of(0x04),
            ingress_expiry: 1685570400000000000n,
            canister_id: Uint8Array.of(0, 0, 0, 0, 0, 0, 0x04, 0xd2),
            method_name: 'hello',
            arg: Uint8Array.of(0x44, 0x49, 0x44, 0x4c, 0x00, 0xfd, 0x2a)
        };
        expect(Buffer.from(hashOfMap(example)).toString('hex')).toBe('1d1091364d6bb8a6c16b203ee75467d59ead468f523eb058880ae8ec80e2b101');
        const contents: Record<string, unknown>[] = [
            { ...example, nonce: new Uint8Array(16).fill(1), ingress_expiry: 7 },
            { request_type: 'read_state', paths: [[text('time')], [text('request_status'), new Uint8Array(32)]], sender: Uint8Array.of(4), ingress_expiry: 2n ** 63n },
            { status: 'replied', reply: { arg: new Uint8Array(3) }, timestamp: 5n, request_id: new Uint8Array(32), skipped: undefined }
        ];
        for (const c of contents) expect(hashOfMap(c)).toEqual(new Uint8Array(requestIdOf(c)));
    });
});

describe('checkCbor', () => {
    it('accepts what the agent encodes and refuses what @dfinity/cbor would decode leniently', () => {
        const good = Cbor.encode({ a: [1, text('x')], b: 'y', c: 2n ** 63n });
        expect(() => checkCbor(good)).not.toThrow();
        expect(() => checkCbor(good.subarray(0, good.length - 1))).toThrow(/unexpected end/);
        expect(() => checkCbor(new Uint8Array([...good, 0]))).toThrow(/trailing/);
        expect(() => checkCbor(Uint8Array.of(0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02))).toThrow(/duplicate/);
        expect(() => checkCbor(Uint8Array.of(0xf9, 0x3c, 0x00))).toThrow(/floats/);
        expect(() => checkCbor(Uint8Array.of(0xc2, 0x41, 0x01))).toThrow(/tag 2/);
        expect(() => checkCbor(Uint8Array.of(0x9f, 0xff))).toThrow(/indefinite/);
        expect(() => checkCbor(new Uint8Array(100).fill(0x81))).toThrow(/deeply/);
    });
});

describe('authentication', () => {
    it('accepts Ed25519, secp256k1 and ECDSA P-256 signatures, and refuses them on other content', async () => {
        for (const identity of [Ed25519KeyIdentity.generate(), Secp256k1KeyIdentity.generate(), await ECDSAKeyIdentity.generate()]) {
            const body = await signed(identity);
            expect(await verdict(body)).toBe('ok');
            const decoded = Cbor.decode<Record<string, any>>(body);
            decoded.content.method_name = 'dec';
            expect(await verdict(Cbor.encode(decoded))).toMatch(/^400 Invalid signature: Invalid basic signature/);
        }
    });

    it('takes the expiry window as the IC: now up to 5 minutes plus 60 s of drift', async () => {
        const identity = Ed25519KeyIdentity.generate();
        expect(await verdict(await signed(identity, { ingress_expiry: NOW + MAX_INGRESS_TTL_NS + PERMITTED_DRIFT_NS }))).toBe('ok');
        expect(await verdict(await signed(identity, { ingress_expiry: NOW + MAX_INGRESS_TTL_NS + PERMITTED_DRIFT_NS + 1n }))).toMatch(/^400 Invalid request expiry/);
        expect(await verdict(await signed(identity, { ingress_expiry: NOW - 1n }))).toMatch(/^400 Invalid request expiry/);
    });

    it('refuses delegation chains with a cycle, too many links, or a forged link', async () => {
        const a = Ed25519KeyIdentity.generate();
        const b = Ed25519KeyIdentity.generate();
        const expiration = new Date(Number(NOW / 1_000_000n) + 60_000);
        const ab = await DelegationChain.create(a, b.getPublicKey(), expiration);
        const ba = await DelegationChain.create(b, a.getPublicKey(), expiration, { previous: ab });
        const cyclic = DelegationIdentity.fromDelegation(a, ba);
        expect(await verdict(await signed(cyclic))).toMatch(/contains at least one cycle/);

        const keys = Array.from({ length: 22 }, () => Ed25519KeyIdentity.generate());
        let chain = await DelegationChain.create(keys[0], keys[1].getPublicKey(), expiration);
        for (let i = 1; i < 21; i++) chain = await DelegationChain.create(keys[i], keys[i + 1].getPublicKey(), expiration, { previous: chain });
        expect(await verdict(await signed(DelegationIdentity.fromDelegation(keys[21], chain)))).toMatch(/too long: got 21 delegations/);

        const forged = DelegationChain.fromDelegations(
            [{ delegation: new Delegation(b.getPublicKey().toDer(), NOW + 60_000_000_000n), signature: new Uint8Array(64) as never }],
            a.getPublicKey().toDer()
        );
        expect(await verdict(await signed(DelegationIdentity.fromDelegation(b, forged)))).toMatch(/^400 Invalid delegation: Invalid basic signature/);
    });

    it('accepts a WebAuthn (passkey) signature, and refuses one over another challenge', async () => {
        const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const jwk = publicKey.export({ format: 'jwk' });
        // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
        const x = Buffer.from(jwk.x!, 'base64url');
        const y = Buffer.from(jwk.y!, 'base64url');
        const cose = Uint8Array.of(0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20, ...x, 0x22, 0x58, 0x20, ...y);
        const bits = [0, ...cose];
        const algorithm = [0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xb8, 0x43, 0x01, 0x01];
        const body = [...algorithm, 0x03, 0x81, bits.length, ...bits];
        const der = Uint8Array.of(0x30, 0x81, body.length, ...body);
        const sender = Principal.selfAuthenticating(der);
        const request = content(sender);
        const webauthn = (challengeOf: Uint8Array) => {
            const clientDataJson = JSON.stringify({ type: 'webauthn.get', challenge: Buffer.from(challengeOf).toString('base64url'), origin: 'http://localhost' });
            const authenticatorData = new Uint8Array(37).fill(9);
            const signed = Buffer.concat([authenticatorData, createHash('sha256').update(clientDataJson).digest()]);
            return Cbor.encode({ authenticator_data: authenticatorData, client_data_json: clientDataJson, signature: nodeSign('sha256', signed, privateKey) });
        };
        const payload = Uint8Array.of(10, ...text('ic-request'), ...requestIdOf(request));
        expect(await verdict(Cbor.encode({ content: request, sender_pubkey: der, sender_sig: webauthn(payload) }))).toBe('ok');
        expect(await verdict(Cbor.encode({ content: request, sender_pubkey: der, sender_sig: webauthn(payload.subarray(1)) }))).toMatch(/challenge is not the signed message/);
    });

    it('refuses unknown key types with a clear message', async () => {
        const identity = Ed25519KeyIdentity.generate();
        const decoded = Cbor.decode<Record<string, any>>(await signed(identity));
        const rsaLike = new Uint8Array([0x30, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]);
        decoded.sender_pubkey = rsaLike;
        decoded.content.sender = Principal.selfAuthenticating(rsaLike);
        expect(await verdict(Cbor.encode(decoded))).toMatch(/Invalid public key/);
    });
});
