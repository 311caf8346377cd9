/**
 * The IC's vetKD scheme on BLS12-381 (G2 public keys, G1 vetKeys), as the management canister's
 * `vetkd_public_key` and `vetkd_derive_key` compute it and as `@dfinity/vetkeys` / `ic-vetkeys` verify it.
 *
 * Key derivation is additive in two steps, each offset a hash of the parent public key and a label:
 *
 *   canister key:  δ₁ = H("ic-vetkd-bls12-381-g2-canister-id", lp(mpk) ‖ lp(canister id))
 *                  pk₁ = mpk + δ₁·G₂,   sk₁ = msk + δ₁
 *   context key:   δ₂ = H("ic-vetkd-bls12-381-g2-context", lp(pk₁) ‖ lp(context))   (only if context ≠ ∅)
 *                  dpk = pk₁ + δ₂·G₂,   dsk = sk₁ + δ₂
 *
 * where lp(x) is x prefixed with its length as 8 big-endian bytes, public keys are compressed G2 points
 * (96 bytes) and H is RFC 9380 hash_to_field into the scalar field (expand_message_xmd, SHA-256, k = 128).
 *
 * The vetKey for `input` is the augmented BLS signature k = dsk·H₁(dpk ‖ input) (hash-to-G1 with DST
 * `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_AUG_`). It leaves the replica encrypted to the caller's transport
 * key tpk (a G1 point) as EK = (c₁, c₂, c₃) = (r·G₁, r·G₂, r·tpk + k) for a fresh random r: the receiver
 * checks e(c₁, G₂) = e(G₁, c₂), recovers k = c₃ − tsk·c₁ and verifies k as a signature under dpk.
 *
 * On the IC the master secret key exists only as threshold shares and EK is combined from the nodes'
 * encrypted shares; the combined EK has exactly this form, so a single holder of msk produces the same
 * bytes a client sees from mainnet (up to r).
 */
import { bls12_381 } from '@noble/curves/bls12-381';
import { hash_to_field } from '@noble/curves/abstract/hash-to-curve';
import { sha256 } from '@noble/hashes/sha2';

import { concatBytes } from '../../shared/bytes';

const G1 = bls12_381.G1.ProjectivePoint;
const G2 = bls12_381.G2.ProjectivePoint;
type G1Point = InstanceType<typeof G1>;
type G2Point = InstanceType<typeof G2>;

/** The order of G1 and G2 (the scalar field's modulus). */
export const CURVE_ORDER: bigint = bls12_381.params.r;

export const G1_BYTES = 48;
export const G2_BYTES = 96;
/** Bytes of an encrypted key: c₁ (G1) ‖ c₂ (G2) ‖ c₃ (G1). */
export const ENCRYPTED_KEY_BYTES = G1_BYTES + G2_BYTES + G1_BYTES;

export const CANISTER_ID_DST = 'ic-vetkd-bls12-381-g2-canister-id';
export const CONTEXT_DST = 'ic-vetkd-bls12-381-g2-context';
export const AUGMENTED_HASH_DST = 'BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_AUG_';

/** `bytes` prefixed with its length as a 64-bit big-endian integer. */
function lengthPrefixed(bytes: Uint8Array): Uint8Array {
    const out = new Uint8Array(8 + bytes.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(bytes.length));
    out.set(bytes, 8);
    return out;
}

/** RFC 9380 hash_to_field into the scalar field (one element): expand_message_xmd with SHA-256, k = 128. */
export function hashToScalar(input: Uint8Array, dst: string): bigint {
    return hash_to_field(input, 1, { DST: dst, p: CURVE_ORDER, m: 1, k: 128, expand: 'xmd', hash: sha256 })[0]![0]!;
}

const mod = (x: bigint): bigint => ((x % CURVE_ORDER) + CURVE_ORDER) % CURVE_ORDER;

/** A secret scalar and its public key, one step of the derivation. */
export interface KeyPair {
    secret: bigint;
    public: G2Point;
}

function offset(parent: G2Point, label: Uint8Array, dst: string): bigint {
    return hashToScalar(concatBytes([lengthPrefixed(parent.toRawBytes(true)), lengthPrefixed(label)]), dst);
}

/** The master key pair of a secret scalar (1 ≤ msk < r). */
export function masterKey(secret: bigint): KeyPair {
    if (secret <= 0n || secret >= CURVE_ORDER) throw new RangeError('a vetKD master secret key must be a nonzero scalar below the curve order');
    return { secret, public: G2.BASE.multiply(secret) };
}

/** The canister's key: the first derivation step, from the master key and the canister id's bytes. */
export function deriveCanisterKey(master: KeyPair, canisterId: Uint8Array): KeyPair {
    const delta = offset(master.public, canisterId, CANISTER_ID_DST);
    return { secret: mod(master.secret + delta), public: master.public.add(G2.BASE.multiply(delta)) };
}

/** The context's key under a canister key; an empty context leaves the key as it is. */
export function deriveContextKey(canister: KeyPair, context: Uint8Array): KeyPair {
    if (context.length === 0) return canister;
    const delta = offset(canister.public, context, CONTEXT_DST);
    return { secret: mod(canister.secret + delta), public: canister.public.add(G2.BASE.multiply(delta)) };
}

/** Public-only derivation (what `vetkd_public_key` returns for any canister, and what clients recompute). */
export function derivePublicKey(masterPublic: G2Point, canisterId: Uint8Array, context: Uint8Array): G2Point {
    let key = masterPublic.add(G2.BASE.multiply(offset(masterPublic, canisterId, CANISTER_ID_DST)));
    if (context.length > 0) key = key.add(G2.BASE.multiply(offset(key, context, CONTEXT_DST)));
    return key;
}

/** H₁(dpk ‖ message): the point an augmented BLS signature by dpk signs. */
export function augmentedHashToG1(derivedPublic: G2Point, message: Uint8Array): G1Point {
    const hashed = bls12_381.G1.hashToCurve(concatBytes([derivedPublic.toRawBytes(true), message]), { DST: AUGMENTED_HASH_DST });
    return G1.fromAffine(hashed.toAffine());
}

/** The vetKey (unencrypted): dsk·H₁(dpk ‖ input), 48 bytes compressed. Only tests should ever need it. */
export function vetKey(derived: KeyPair, input: Uint8Array): G1Point {
    return augmentedHashToG1(derived.public, input).multiply(derived.secret);
}

/**
 * The transport public key as a point, or null if the bytes are not a compressed G1 point in the
 * prime-order subgroup (the IC's `is_valid_transport_public_key_encoding`: 48 bytes, on the curve,
 * torsion-free). The identity is valid, as on the IC: it encrypts to nobody, so c₃ is the vetKey itself,
 * which is how a canister obtains a vetKey for its own use (ic-vetkeys' `sign_with_bls`).
 */
export function parseTransportPublicKey(bytes: Uint8Array): G1Point | null {
    if (bytes.length !== G1_BYTES) return null;
    try {
        const point = G1.fromHex(bytes);
        point.assertValidity();
        return point;
    } catch {
        return null;
    }
}

/** A random nonzero scalar from the platform's CSPRNG. */
export function randomScalar(): bigint {
    return bls12_381.G1.normPrivateKeyToScalar(bls12_381.utils.randomPrivateKey());
}

/**
 * EK = r·G₁ ‖ r·G₂ ‖ (r·tpk + dsk·H₁(dpk ‖ input)), 192 bytes: the encrypted vetKey of `input` under the
 * derived key, for the holder of the transport secret key. `r` is fresh per call unless a test fixes it.
 */
export function encryptVetKey(derived: KeyPair, transportPublic: G1Point, input: Uint8Array, r: bigint = randomScalar()): Uint8Array {
    const c1 = G1.BASE.multiply(r);
    const c2 = G2.BASE.multiply(r);
    const c3 = transportPublic.multiply(r).add(vetKey(derived, input));
    return concatBytes([c1.toRawBytes(true), c2.toRawBytes(true), c3.toRawBytes(true)]);
}

/**
 * Recovers and verifies the vetKey in `encrypted` (the client's side; tests use it to check the server's).
 * Null when the ciphertext is malformed or the recovered key is not dpk's signature of `input`.
 */
export function decryptVetKey(encrypted: Uint8Array, transportSecret: bigint, derivedPublic: G2Point, input: Uint8Array): Uint8Array | null {
    if (encrypted.length !== ENCRYPTED_KEY_BYTES) return null;
    let c1: G1Point, c2: G2Point, c3: G1Point;
    try {
        c1 = G1.fromHex(encrypted.subarray(0, G1_BYTES));
        c2 = G2.fromHex(encrypted.subarray(G1_BYTES, G1_BYTES + G2_BYTES));
        c3 = G1.fromHex(encrypted.subarray(G1_BYTES + G2_BYTES));
    } catch {
        return null;
    }
    const Fp12 = bls12_381.fields.Fp12;
    const sameR = bls12_381.pairingBatch([
        { g1: c1, g2: G2.BASE.negate() },
        { g1: G1.BASE, g2: c2 }
    ]);
    if (!Fp12.eql(sameR, Fp12.ONE)) return null;
    const key = c3.subtract(c1.multiply(transportSecret));
    const valid = bls12_381.pairingBatch([
        { g1: key, g2: G2.BASE.negate() },
        { g1: augmentedHashToG1(derivedPublic, input), g2: derivedPublic }
    ]);
    return Fp12.eql(valid, Fp12.ONE) ? key.toRawBytes(true) : null;
}

export { G1 as G1Point, G2 as G2Point };
