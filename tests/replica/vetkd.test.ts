/**
 * vetKD in the management canister, called by a canister as on the IC: `@dfinity/vetkeys` verifies what
 * the replica returns (DerivedPublicKey, EncryptedVetKey.decryptAndVerify, IBE end to end), fees are
 * charged and refunded as the IC does, refusals carry the IC's codes and messages, and a network kept in
 * a state directory keeps its master keys across restarts.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Actor as AgentActor, HttpAgent } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { DerivedPublicKey, EncryptedVetKey, IbeCiphertext, IbeIdentity, IbeSeed, MasterPublicKey, TransportSecretKey } from '@dfinity/vetkeys';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Actor, CanisterCallError, PocketIc, Replica, VETKD_KEYS, VETKD_KEYS_FILE, VetKdKeys } from '../../replica';
import { ManagementMethods, type VetKdDeriveKeyArgs, type VetKdDeriveKeyResult, VetKdPublicKeyArgs, VetKdPublicKeyResult } from '../../shared/management';
import { idlFactory as probeIdl, type ProbeService } from '../fixtures/probe/idl';
import { serveIcApi } from '../helpers/ic_api';
import { PROBE_WASM, probeArg } from './probe';
import { setupRelay } from './vetkd_relay';

const OWNER = Principal.fromText('rrkah-fqaaa-aaaaa-aaaaq-cai');
const MGMT = Principal.fromText('aaaaa-aa');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const keyId = (name: string) => ({ curve: { bls12_381_g2: null }, name });
const FEE = VETKD_KEYS.dfx_test_key.fee;

type Relay = Awaited<ReturnType<typeof setupRelay>>;

async function publicKey(relay: Relay, context: string, name = 'dfx_test_key', canisterId?: Principal): Promise<Uint8Array> {
    const args: VetKdPublicKeyArgs = { canister_id: canisterId ? [canisterId] : [], context: utf8(context), key_id: keyId(name) };
    const out = await relay.call<VetKdPublicKeyResult>('vetkd_public_key', ManagementMethods.vetkd_public_key, args);
    if (!('value' in out)) throw new Error(`vetkd_public_key rejected: ${out.message}`);
    return out.value.public_key;
}

async function deriveKey(relay: Relay, tsk: TransportSecretKey, context: string, input: Uint8Array, attach = FEE, name = 'dfx_test_key') {
    const args: VetKdDeriveKeyArgs = { input, context: utf8(context), transport_public_key: tsk.publicKeyBytes(), key_id: keyId(name) };
    return relay.call<VetKdDeriveKeyResult>('vetkd_derive_key', ManagementMethods.vetkd_derive_key, args, attach);
}

describe('vetKD called by a canister', () => {
    let pic: PocketIc;
    let relay: Relay;

    beforeAll(async () => {
        pic = await PocketIc.create();
        relay = await setupRelay(pic, OWNER);
    });

    it('returns the canister\'s derived public key, which the library derives from the master key the same way', async () => {
        const dpk = await publicKey(relay, 'files');
        const master = MasterPublicKey.deserialize(pic.replica.vetkdKeys.masterPublicKey('dfx_test_key'));
        const canisterKey = master.deriveCanisterKey(relay.canisterId.toUint8Array());
        expect(Buffer.from(dpk).toString('hex')).toBe(Buffer.from(canisterKey.deriveSubKey(utf8('files')).publicKeyBytes()).toString('hex'));
        // An empty context is the canister key itself; another canister's key can be asked for by id.
        expect(await publicKey(relay, '')).toEqual(canisterKey.publicKeyBytes());
        expect(await publicKey(relay, 'files', 'dfx_test_key', OWNER)).toEqual(master.deriveCanisterKey(OWNER.toUint8Array()).deriveSubKey(utf8('files')).publicKeyBytes());
    });

    it('charges nothing for a public key: attached cycles all come back', async () => {
        const args: VetKdPublicKeyArgs = { canister_id: [], context: utf8('files'), key_id: keyId('key_1') };
        expect(await relay.call('vetkd_public_key', ManagementMethods.vetkd_public_key, args, 5_000n)).toMatchObject({ refunded: 5_000n });
    });

    it('keeps the three key ids distinct', async () => {
        const keys = await Promise.all(['dfx_test_key', 'test_key_1', 'key_1'].map((name) => publicKey(relay, 'files', name)));
        expect(new Set(keys.map((k) => Buffer.from(k).toString('hex'))).size).toBe(3);
    });

    it('derives an encrypted vetKey that decryptAndVerify accepts, charging the fee and refunding the rest', async () => {
        const tsk = TransportSecretKey.random();
        const dpk = DerivedPublicKey.deserialize(await publicKey(relay, 'files'));
        const before = await pic.getCyclesBalance(relay.canisterId);
        const out = await deriveKey(relay, tsk, 'files', utf8('alice'), FEE + 12_345n);
        if (!('value' in out)) throw new Error(out.message);
        expect(out.value.encrypted_key.length).toBe(192);
        expect(out.refunded).toBe(12_345n);
        expect(before - (await pic.getCyclesBalance(relay.canisterId))).toBeGreaterThanOrEqual(FEE);
        const vetKey = EncryptedVetKey.deserialize(out.value.encrypted_key).decryptAndVerify(tsk, dpk, utf8('alice'));

        // Same inputs, same vetKey (the encryption is fresh each time).
        const again = await deriveKey(relay, tsk, 'files', utf8('alice'));
        if (!('value' in again)) throw new Error(again.message);
        expect(again.value.encrypted_key).not.toEqual(out.value.encrypted_key);
        expect(EncryptedVetKey.deserialize(again.value.encrypted_key).decryptAndVerify(tsk, dpk, utf8('alice')).signatureBytes()).toEqual(vetKey.signatureBytes());
    });

    it('opens IBE: data encrypted to an identity under the derived public key decrypts with that identity\'s vetKey only', async () => {
        const dpk = DerivedPublicKey.deserialize(await publicKey(relay, 'files'));
        const reader = Principal.fromText('2vxsx-fae');
        const sealed = IbeCiphertext.encrypt(dpk, IbeIdentity.fromPrincipal(reader), utf8('the data key'), IbeSeed.random()).serialize();

        const tsk = TransportSecretKey.random();
        const out = await deriveKey(relay, tsk, 'files', reader.toUint8Array());
        if (!('value' in out)) throw new Error(out.message);
        const vetKey = EncryptedVetKey.deserialize(out.value.encrypted_key).decryptAndVerify(tsk, dpk, reader.toUint8Array());
        expect(new TextDecoder().decode(IbeCiphertext.deserialize(sealed).decrypt(vetKey))).toBe('the data key');

        const other = await deriveKey(relay, tsk, 'files', utf8('someone else'));
        if (!('value' in other)) throw new Error(other.message);
        const otherKey = EncryptedVetKey.deserialize(other.value.encrypted_key).decryptAndVerify(tsk, dpk, utf8('someone else'));
        expect(() => IbeCiphertext.deserialize(sealed).decrypt(otherKey)).toThrow();
    });

    it('fails verification for another input, another context, another transport key', async () => {
        const tsk = TransportSecretKey.random();
        const dpk = DerivedPublicKey.deserialize(await publicKey(relay, 'files'));
        const out = await deriveKey(relay, tsk, 'files', utf8('alice'));
        if (!('value' in out)) throw new Error(out.message);
        const ek = EncryptedVetKey.deserialize(out.value.encrypted_key);
        expect(() => ek.decryptAndVerify(tsk, dpk, utf8('bob'))).toThrow('Invalid VetKey');
        const photos = DerivedPublicKey.deserialize(await publicKey(relay, 'photos'));
        expect(() => ek.decryptAndVerify(tsk, photos, utf8('alice'))).toThrow('Invalid VetKey');
        expect(() => ek.decryptAndVerify(TransportSecretKey.random(), dpk, utf8('alice'))).toThrow('Invalid VetKey');
    });

    it('binds every vetKey to its caller: another canister asking for the same context and input gets a key useless under this canister\'s public key', async () => {
        const other = await setupRelay(pic, OWNER);
        const mine = DerivedPublicKey.deserialize(await publicKey(relay, 'files'));
        // Asking for this canister's public key by id is allowed (it is public), but derivation always uses the caller.
        expect(await publicKey(other, 'files', 'dfx_test_key', relay.canisterId)).toEqual(mine.publicKeyBytes());
        const tsk = TransportSecretKey.random();
        const out = await deriveKey(other, tsk, 'files', utf8('alice'));
        if (!('value' in out)) throw new Error(out.message);
        const ek = EncryptedVetKey.deserialize(out.value.encrypted_key);
        expect(() => ek.decryptAndVerify(tsk, mine, utf8('alice'))).toThrow('Invalid VetKey');
        ek.decryptAndVerify(tsk, DerivedPublicKey.deserialize(await publicKey(other, 'files')), utf8('alice'));
    });

    // A canister sees a system reject as `ICxxxx: <text>` (a routing failure has no code, so no prefix).
    it('refuses too few cycles with the IC\'s message and refunds them all; key_1 costs the fiduciary subnet\'s fee', async () => {
        const tsk = TransportSecretKey.random();
        expect(await deriveKey(relay, tsk, 'files', utf8('alice'), FEE - 1n)).toEqual({
            rejectCode: 4,
            refunded: FEE - 1n,
            message: `IC0406: vetkd_derive_key request sent with ${FEE - 1n} cycles, but ${FEE} cycles are required.`
        });
        expect(VETKD_KEYS.key_1.fee).toBe(26_153_846_153n);
        const short = await deriveKey(relay, tsk, 'files', utf8('alice'), FEE, 'key_1');
        expect(short).toMatchObject({ rejectCode: 4, message: `IC0406: vetkd_derive_key request sent with ${FEE} cycles, but 26153846153 cycles are required.` });
        expect(await deriveKey(relay, tsk, 'files', utf8('alice'), 26_153_846_153n, 'key_1')).toMatchObject({ refunded: 0n });
    });

    it('tells a canister the fee through ic0.cost_vetkd_derive_key', async () => {
        expect(await relay.cost('dfx_test_key')).toEqual({ code: 0, fee: FEE });
        expect(await relay.cost('test_key_1')).toEqual({ code: 0, fee: 10_000_000_000n });
        expect(await relay.cost('key_1')).toEqual({ code: 0, fee: 26_153_846_153n });
        expect((await relay.cost('key_1', 1)).code).toBe(1);
        expect((await relay.cost('nope')).code).toBe(2);
        expect((await relay.cost('constructor')).code).toBe(2);
    });

    it('refuses an invalid transport key and an unknown key id as the IC does', async () => {
        const bad: VetKdDeriveKeyArgs = { input: utf8('a'), context: utf8('files'), transport_public_key: new Uint8Array(48), key_id: keyId('dfx_test_key') };
        expect(await relay.call('vetkd_derive_key', ManagementMethods.vetkd_derive_key, bad, FEE)).toEqual({
            rejectCode: 4,
            refunded: FEE,
            message: 'IC0406: The provided transport public key is invalid.'
        });
        const unknown = await deriveKey(relay, TransportSecretKey.random(), 'files', utf8('a'), FEE, 'nope');
        expect(unknown).toEqual({
            rejectCode: 3,
            refunded: FEE,
            message:
                'Unable to route management canister request vetkd_derive_key: ChainKeyError("Requested unknown or disabled threshold key: vetkd:Bls12_381_G2:nope, existing enabled keys: [vetkd:Bls12_381_G2:dfx_test_key, vetkd:Bls12_381_G2:key_1, vetkd:Bls12_381_G2:test_key_1]")'
        });
        const args: VetKdPublicKeyArgs = { canister_id: [], context: new Uint8Array(), key_id: keyId('nope') };
        expect(await relay.call('vetkd_public_key', ManagementMethods.vetkd_public_key, args)).toMatchObject({
            rejectCode: 3,
            message: expect.stringContaining('Requested unknown threshold key: vetkd:Bls12_381_G2:nope, existing keys: [')
        });
    });

    it('refuses ingress callers (IC0406)', async () => {
        for (const method of ['vetkd_public_key', 'vetkd_derive_key'] as const) {
            const arg =
                method === 'vetkd_public_key'
                    ? { canister_id: [], context: new Uint8Array(), key_id: keyId('dfx_test_key') }
                    : { input: new Uint8Array(), context: new Uint8Array(), transport_public_key: TransportSecretKey.random().publicKeyBytes(), key_id: keyId('dfx_test_key') };
            const call = pic.updateCall({ canisterId: MGMT, method, arg: new Uint8Array(IDL.encode(ManagementMethods[method].args, [arg])), sender: OWNER });
            await expect(call).rejects.toThrow(CanisterCallError);
            await expect(call).rejects.toMatchObject({ rejectCode: 4, errorCode: 406, rejectMessage: `Only canisters can call ic00 method ${method}` });
        }
    });
});

describe('vetKD from an Azle canister (the probe fixture), directly and over the IC HTTP interface', () => {
    // The in-process replica (a real PocketIC would need a subnet holding vetKD keys, which createPic does not set up).
    let pic: PocketIc;
    let probe: Actor<ProbeService>;
    let probeId: Principal;
    let host: string;
    let close: () => Promise<void>;

    beforeAll(async () => {
        pic = await PocketIc.create();
        await pic.setTime(Date.now());
        ({ actor: probe, canisterId: probeId } = await pic.setupCanister<ProbeService>({ idlFactory: probeIdl, wasm: PROBE_WASM, arg: probeArg('vetkd') }));
        ({ host, close } = await serveIcApi(pic.replica));
    });
    afterAll(async () => {
        await close();
    });

    it('gets its public key and an encrypted vetKey that @dfinity/vetkeys verifies; too few cycles come back as a reject', async () => {
        const dpkOut = await probe.vetkd_public_key(utf8('files'), 'test_key_1');
        if (!('Ok' in dpkOut)) throw new Error(dpkOut.Err.message);
        const master = MasterPublicKey.deserialize(pic.replica.vetkdKeys.masterPublicKey('test_key_1'));
        expect(dpkOut.Ok).toEqual(master.deriveCanisterKey(probeId.toUint8Array()).deriveSubKey(utf8('files')).publicKeyBytes());
        const dpk = DerivedPublicKey.deserialize(dpkOut.Ok);
        const tsk = TransportSecretKey.random();
        const ek = await probe.vetkd_derive_key(utf8('alice'), utf8('files'), tsk.publicKeyBytes(), 'test_key_1', VETKD_KEYS.test_key_1.fee);
        if (!('Ok' in ek)) throw new Error(ek.Err.message);
        EncryptedVetKey.deserialize(ek.Ok).decryptAndVerify(tsk, dpk, utf8('alice'));
        expect(await probe.vetkd_derive_key(utf8('alice'), utf8('files'), tsk.publicKeyBytes(), 'test_key_1', 1n)).toEqual({
            Err: { code: 4, message: `IC0406: vetkd_derive_key request sent with 1 cycles, but ${VETKD_KEYS.test_key_1.fee} cycles are required.` }
        });
    });

    it('serves the canister\'s vetKD calls to an agent, and refuses the agent\'s own call to the management canister with a 400', async () => {
        const agent = await HttpAgent.create({ host, identity: Ed25519KeyIdentity.generate(utf8('vetkd-agent'.padEnd(32, '.'))), shouldFetchRootKey: true });
        const remote = AgentActor.createActor<ProbeService>(probeIdl, { agent, canisterId: probeId });
        const dpkOut = await remote.vetkd_public_key(utf8('files'), 'dfx_test_key');
        if (!('Ok' in dpkOut)) throw new Error(dpkOut.Err.message);
        const tsk = TransportSecretKey.random();
        const ek = await remote.vetkd_derive_key(utf8('bob'), utf8('files'), tsk.publicKeyBytes(), 'dfx_test_key', FEE);
        if (!('Ok' in ek)) throw new Error(ek.Err.message);
        EncryptedVetKey.deserialize(ek.Ok).decryptAndVerify(tsk, DerivedPublicKey.deserialize(dpkOut.Ok), utf8('bob'));

        // No retries of the refused request, to keep the spec fast.
        const refused = await HttpAgent.create({ host, identity: Ed25519KeyIdentity.generate(utf8('vetkd-agent'.padEnd(32, '.'))), shouldFetchRootKey: true, retryTimes: 0 });
        const management = AgentActor.createActor<{ vetkd_public_key: (a: VetKdPublicKeyArgs) => Promise<VetKdPublicKeyResult> }>(
            ({ IDL: I }) => I.Service({ vetkd_public_key: I.Func([VetKdPublicKeyArgs], [VetKdPublicKeyResult], []) }),
            { agent: refused, canisterId: MGMT, effectiveCanisterId: probeId }
        );
        // Refused before it becomes a message (the IC too refuses subnet-only methods at the boundary).
        await expect(management.vetkd_public_key({ canister_id: [], context: new Uint8Array(), key_id: keyId('dfx_test_key') })).rejects.toThrow(
            /Status: 400[\s\S]*vetkd_public_key/
        );
    });
});

describe('vetKD master keys kept in a state directory', () => {
    let dir: string;
    beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), 'silo-vetkd-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('are made once (mode 0600) and give the same derived keys after a restart', async () => {
        const first = new PocketIc(new Replica({ vetkd: VetKdKeys.load(dir) }));
        const relay1 = await setupRelay(first, OWNER);
        const tsk = TransportSecretKey.random();
        const out = await deriveKey(relay1, tsk, 'files', utf8('alice'));
        if (!('value' in out)) throw new Error(out.message);
        const dpk1 = await publicKey(relay1, 'files');
        expect(statSync(join(dir, VETKD_KEYS_FILE)).mode & 0o777).toBe(0o600);

        // A new process on the same directory: same master keys, so the old vetKey still verifies.
        const second = new PocketIc(new Replica({ vetkd: VetKdKeys.load(dir) }));
        const relay2 = await setupRelay(second, OWNER);
        expect(relay2.canisterId.toText()).toBe(relay1.canisterId.toText());
        expect(await publicKey(relay2, 'files')).toEqual(dpk1);
        EncryptedVetKey.deserialize(out.value.encrypted_key).decryptAndVerify(tsk, DerivedPublicKey.deserialize(await publicKey(relay2, 'files')), utf8('alice'));

        // Another directory is another network, with other keys; the in-memory default is not either.
        const elsewhere = mkdtempSync(join(tmpdir(), 'silo-vetkd-'));
        try {
            expect(VetKdKeys.load(elsewhere).masterPublicKey('key_1')).not.toEqual(VetKdKeys.load(dir).masterPublicKey('key_1'));
        } finally {
            rmSync(elsewhere, { recursive: true, force: true });
        }
        expect(VetKdKeys.fromSeed('in-memory replica').masterPublicKey('key_1')).not.toEqual(VetKdKeys.load(dir).masterPublicKey('key_1'));
    });

    it('refuses a damaged key file instead of replacing it', () => {
        const damaged = mkdtempSync(join(tmpdir(), 'silo-vetkd-'));
        try {
            const file = join(damaged, VETKD_KEYS_FILE);
            VetKdKeys.load(damaged);
            const saved = JSON.parse(readFileSync(file, 'utf8'));
            writeFileSync(file, JSON.stringify({ ...saved, key_1: 'zz' }));
            expect(() => VetKdKeys.load(damaged)).toThrow(/does not hold the vetKD master keys \(no 32-byte hex secret for key_1\)/);
            expect(JSON.parse(readFileSync(file, 'utf8')).key_1).toBe('zz');
        } finally {
            rmSync(damaged, { recursive: true, force: true });
        }
    });
});
