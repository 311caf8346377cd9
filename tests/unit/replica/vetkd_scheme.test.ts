/**
 * The replica's vetKD scheme against the vectors published with the scheme (dfinity/vetkeys:
 * frontend/ic_vetkeys/src/utils/utils.test.ts and backend/rs/ic_vetkeys/tests/utils.rs), and against
 * `@dfinity/vetkeys` itself for what has no published vector (the server side needs a master secret key,
 * which no published vector reveals).
 */
import { DerivedPublicKey, EncryptedVetKey, IbeCiphertext, IbeIdentity, IbeSeed, MasterPublicKey, TransportSecretKey, verifyBlsSignature } from '@dfinity/vetkeys';
import { bls12_381 } from '@noble/curves/bls12-381';
import { describe, expect, it } from 'vitest';

import {
    augmentedHashToG1,
    decryptVetKey,
    deriveCanisterKey,
    deriveContextKey,
    derivePublicKey,
    encryptVetKey,
    G1Point,
    G2Point,
    hashToScalar,
    masterKey,
    parseTransportPublicKey,
    vetKey
} from '../../../replica/vetkd/scheme';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

const MASTER = '9183b871aa141d15ba2efc5bc58a49cb6a167741364804617f48dfe11e0285696b7018f172dad1a87ed81abf27ea4c320995041e2ee4a47b2226a2439d92a38557a7e2acc72fd157283b20f1f37ba872be235214c6a9cbba1eb2ef39deec72a5';
const CANISTER_KEY = 'af78a908589d332fc8b9d042807c483e73872e2aea7620bdb985b9289d5a99ebfd5ac0ec4844a4c542f6d0f12a716d941674953cef4f38dde601ce9792db8832557eaa051733c5541fa5017465d69b62cc4d93f2079fb8c050b4bd735ef75859';
const CANISTER_CONTEXT_KEY = 'a20125b8cdfc57f71b6f67e557e82c1307c1af9f728573f3b682f3b1816684f3f6aed5d8dd40a309b457a25dab7d8a1416fc0e0973000321c0c1dd844d80a5708e81fdd8338ea6433f175992fa05ef343b1e7f89a09f3b5b7c0766ccb3c624cd';
const DPK = '972c4c6cc184b56121a1d27ef1ca3a2334d1a51be93573bd18e168f78f8fe15ce44fb029ffe8e9c3ee6bea2660f4f35e0774a35a80d6236c050fd8f831475b5e145116d3e83d26c533545f64b08464e4bcc755f990a381efa89804212d4eef5f';

describe('vetKD scheme: published vectors', () => {
    it('hashes to a scalar as RFC 9380 hash_to_field (the vetkeys QUUX vectors)', () => {
        const dst = 'QUUX-V01-CS02-with-BLS12381SCALAR_XMD:SHA-256_SSWU_RO_';
        expect(hashToScalar(new Uint8Array(), dst).toString(16)).toBe('3b3fdf74b194c0a0f683d67a312a4e72d663d74b8478dc7b56be41e0ce11caa1');
        expect(hashToScalar(bytes('616263'), dst).toString(16)).toBe('47e7a8839695a3df27f202cf71e295a8554b47cef75c1e316b1865317720e188');
    });

    it('derives the canister key, then the context key, from a master public key', () => {
        const mpk = G2Point.fromHex(MASTER);
        expect(hex(derivePublicKey(mpk, utf8('test-canister-id'), new Uint8Array()).toRawBytes(true))).toBe(CANISTER_KEY);
        expect(hex(derivePublicKey(mpk, utf8('test-canister-id'), utf8('test-context')).toRawBytes(true))).toBe(CANISTER_CONTEXT_KEY);
    });

    it('derives a context key from a canister key (second-level vector), an empty context changing nothing', () => {
        const canister = { secret: 1n, public: G2Point.fromHex('8bf165ea580742abf5fd5123eb848aa116dcf75c3ddb3cd3540c852cf99f0c5394e72dfc2f25dbcb5f9220f251cd04040a508a0bcb8b2543908d6626b46f09d614c924c5deb63a9949338ae4f4ac436bd77f8d0a392fd29de0f392a009fa61f3') };
        expect(hex(deriveContextKey(canister, utf8('test-context')).public.toRawBytes(true))).toBe(
            '80b4f1e11766d32bed0ea4e8b05e82bf84519de4a63eca0213d9e3603a946ea2968150882d1e9508701f34048fcec80919b4f493a2a254fc13dc956f1d82c6b8e641f962e1c0342c95eb58e168327d5e51e9337627ac9f1aa93d2e3058a1ff09'
        );
        expect(deriveContextKey(canister, new Uint8Array())).toBe(canister);
    });

    it('hashes (dpk, message) to G1 with the augmented BLS domain separator', () => {
        const pk = G2Point.fromHex('80e38f040fae321c75cf8faf8c6e9500c92b7cac022ca3eb48fb01c8e91d8c2bc806c2665ed28a0a8c87a4bff717dd3c0c4eb57ad635bc582f89c171b8478f2fe1b806c3faeed7133b13141aaf4a65aa0c5d7902dc80102e91e6f73fe56fa34f');
        expect(hex(augmentedHashToG1(pk, bytes('25138dfc69267bd861d8ad9f05b9')).toRawBytes(true))).toBe('8e946e53188c951301b895c228c48cdeebf008d0fbc5b0aa8bff07a30926fb166485137dc372983433032673f74c24e6');
    });

    it('decrypts the published encrypted key to the published vetKey, and refuses another input', () => {
        const tsk = BigInt('0x167b736e44a1c134bd46ca834220c75c186768612568ac264a01554c46633e76');
        expect(hex(G1Point.BASE.multiply(tsk).toRawBytes(true))).toBe('911969d56f42875d37a92d7eaa5d43293eff9f9a20ba4c60523e70a695eaeadeb721659b52a49d74e67841ad19033a12');
        const ek = bytes(
            'b1a13757eaae15a3c8884fc1a3453f8a29b88984418e65f1bd21042ce1d6809b2f8a49f7326c1327f2a3921e8ff1d6c3adde2a801f1f88de98ccb40c62e366a279e7aec5875a0ce2f2a9f3e109d9cb193f0197eadb2c5f5568ee4d6a87e115910662e01e604087246be8b081fc6b8a06b4b0100ed1935d8c8d18d9f70d61718c5dba23a641487e72b3b25884eeede8feb3c71599bfbcebe60d29408795c85b4bdf19588c034d898e7fc513be8dbd04cac702a1672f5625f5833d063b05df7503'
        );
        const key = decryptVetKey(ek, tsk, G2Point.fromHex(DPK), utf8('message'));
        expect(key && hex(key)).toBe('987db5406ce297e729c8564a106dc896943b00216a095fe9c5d32a16a330c02eb80e6f468ede83cde5462b5145b58f65');
        expect(decryptVetKey(ek, tsk, G2Point.fromHex(DPK), utf8('messagf'))).toBeNull();
    });
});

describe('vetKD scheme: the server side, checked by @dfinity/vetkeys', () => {
    const master = masterKey(0x1234567890abcdefn);
    const canisterId = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);

    it('derives secret keys whose public keys are the public derivation (and the library agrees)', () => {
        const canister = deriveCanisterKey(master, canisterId);
        const derived = deriveContextKey(canister, utf8('ctx'));
        expect(G2Point.BASE.multiply(canister.secret).equals(canister.public)).toBe(true);
        expect(G2Point.BASE.multiply(derived.secret).equals(derived.public)).toBe(true);
        expect(derived.public.equals(derivePublicKey(master.public, canisterId, utf8('ctx')))).toBe(true);
        const library = MasterPublicKey.deserialize(master.public.toRawBytes(true)).deriveCanisterKey(canisterId).deriveSubKey(utf8('ctx'));
        expect(hex(library.publicKeyBytes())).toBe(hex(derived.public.toRawBytes(true)));
    });

    it('encrypts a vetKey that decryptAndVerify accepts for its input only, and that opens IBE to that identity', () => {
        const derived = deriveContextKey(deriveCanisterKey(master, canisterId), utf8('ctx'));
        const tsk = TransportSecretKey.random();
        const tpk = parseTransportPublicKey(tsk.publicKeyBytes())!;
        const ek = EncryptedVetKey.deserialize(encryptVetKey(derived, tpk, utf8('alice')));
        const dpk = DerivedPublicKey.deserialize(derived.public.toRawBytes(true));
        const key = ek.decryptAndVerify(tsk, dpk, utf8('alice'));
        expect(hex(key.signatureBytes())).toBe(hex(vetKey(derived, utf8('alice')).toRawBytes(true)));
        expect(verifyBlsSignature(dpk, utf8('alice'), key.signatureBytes())).toBe(true);
        expect(() => ek.decryptAndVerify(tsk, dpk, utf8('bob'))).toThrow('Invalid VetKey');
        expect(() => ek.decryptAndVerify(TransportSecretKey.random(), dpk, utf8('alice'))).toThrow('Invalid VetKey');

        const sealed = IbeCiphertext.encrypt(dpk, IbeIdentity.fromBytes(utf8('alice')), utf8('data key'), IbeSeed.random());
        expect(new TextDecoder().decode(IbeCiphertext.deserialize(sealed.serialize()).decrypt(key))).toBe('data key');
    });

    it('accepts only compressed G1 points in the subgroup as transport keys', () => {
        const good = TransportSecretKey.random().publicKeyBytes();
        expect(parseTransportPublicKey(good)).not.toBeNull();
        expect(parseTransportPublicKey(good.subarray(0, 47))).toBeNull();
        expect(parseTransportPublicKey(bls12_381.G1.ProjectivePoint.BASE.toRawBytes(false))).toBeNull();
        // The identity is valid (as on the IC): the vetKey then travels unencrypted, for the canister's own use.
        const identity = parseTransportPublicKey(bls12_381.G1.ProjectivePoint.ZERO.toRawBytes(true))!;
        expect(identity.equals(G1Point.ZERO)).toBe(true);
        const derived = deriveContextKey(deriveCanisterKey(master, canisterId), utf8('ctx'));
        expect(hex(encryptVetKey(derived, identity, utf8('x')).subarray(144))).toBe(hex(vetKey(derived, utf8('x')).toRawBytes(true)));
        const offCurve = new Uint8Array(good);
        offCurve[47] ^= 1;
        expect(parseTransportPublicKey(offCurve)).toBeNull();
        expect(parseTransportPublicKey(new Uint8Array(48))).toBeNull();
    });
});
