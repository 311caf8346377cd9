/**
 * Tokens in the URLs of private assets: `<expiry seconds>.<hex HMAC-SHA256>` over (asset id, expiry),
 * keyed with a per-bucket secret the index generated with `raw_rand` and gave the bucket. The index mints
 * them for an asset's owner (`asset_url`); the bucket checks them against `time()` in `http_request`.
 * A token is a bearer secret: whoever holds the URL reads the asset until it expires.
 */
import { Sha256, toHex } from './sha256';
import { writeU64 } from './stable';

/** Query parameter that carries the token. */
export const TOKEN_PARAM = 'token';
/** Bytes of a bucket's URL secret. */
export const URL_SECRET_BYTES = 32;
/** Longest a token may live (30 days) and its default (1 hour). */
export const MAX_URL_TTL_SECONDS = 30 * 24 * 3600;
export const DEFAULT_URL_TTL_SECONDS = 3600;

const BLOCK = 64;
/** Domain separation: a MAC of this scheme cannot be mistaken for any other use of the key. */
const DOMAIN = new TextEncoder().encode('silo-asset-url-v1');

/** HMAC-SHA256 (RFC 2104) over the shared SHA-256, the one both canisters already carry. */
export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
    const block = new Uint8Array(BLOCK);
    block.set(key.length > BLOCK ? new Sha256().update(key).digest() : key);
    const pad = (byte: number) => block.map((b) => b ^ byte);
    const inner = new Sha256().update(pad(0x36)).update(message).digest();
    return new Sha256().update(pad(0x5c)).update(inner).digest();
}

function tokenMac(secret: Uint8Array, assetId: bigint, expiresAtSeconds: bigint): string {
    const message = new Uint8Array(DOMAIN.length + 16);
    message.set(DOMAIN);
    writeU64(message, DOMAIN.length, assetId);
    writeU64(message, DOMAIN.length + 8, expiresAtSeconds);
    return toHex(hmacSha256(secret, message));
}

export function mintUrlToken(secret: Uint8Array, assetId: bigint, expiresAtSeconds: bigint): string {
    return `${expiresAtSeconds}.${tokenMac(secret, assetId, expiresAtSeconds)}`;
}

export type TokenCheck = 'valid' | 'expired' | 'invalid';

/** Checks a token for `assetId` at `nowSeconds`. The MAC is compared in constant time. */
export function checkUrlToken(secret: Uint8Array, assetId: bigint, token: string, nowSeconds: bigint): TokenCheck {
    const match = /^(\d{1,20})\.([0-9a-f]{64})$/.exec(token);
    if (match === null) return 'invalid';
    const expiresAt = BigInt(match[1]);
    if (expiresAt >= 1n << 64n) return 'invalid';
    const expected = tokenMac(secret, assetId, expiresAt);
    let diff = 0;
    for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ match[2].charCodeAt(i);
    if (diff !== 0) return 'invalid';
    return expiresAt > nowSeconds ? 'valid' : 'expired';
}
