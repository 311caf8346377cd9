/** Identities from PEM files: dfx's secp256k1 keys and Ed25519 PKCS#8 keys. */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

import type { Identity } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';

import { InvalidArgumentError } from './errors';

/** DER prefix of an Ed25519 private key in PKCS#8 (RFC 8410); the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

function pemBody(pem: string, label: string): Uint8Array | null {
    const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
    return match ? new Uint8Array(Buffer.from(match[1].replace(/\s+/g, ''), 'base64')) : null;
}

/** Reads an identity from a PEM file (`dfx identity export` output, or an Ed25519 PKCS#8 key). */
export async function identityFromPem(text: string, source = 'the PEM'): Promise<Identity> {
    const der = pemBody(text, 'PRIVATE KEY');
    if (der !== null && der.length === 48 && ED25519_PKCS8_PREFIX.every((b, i) => der[i] === b)) {
        return Ed25519KeyIdentity.fromSecretKey(der.subarray(16));
    }
    const unreadable = (why: string) =>
        new InvalidArgumentError(`${source} holds no private key Silo can read (${why}): use a secp256k1 ('EC PRIVATE KEY') or Ed25519 PKCS#8 ('PRIVATE KEY') PEM, e.g. from \`dfx identity export\`.`);
    if (text.includes('EC PRIVATE KEY') || der !== null) {
        // secp256k1 support is loaded only when such a key is used.
        const { Secp256k1KeyIdentity } = await import('@dfinity/identity-secp256k1');
        try {
            return Secp256k1KeyIdentity.fromPem(text);
        } catch (error) {
            // Any other key type (RSA, P-256, Ed448...) fails inside the library: say what is accepted.
            throw unreadable(`not secp256k1 or Ed25519: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`);
        }
    }
    throw unreadable('no PEM private key block found');
}

export async function loadIdentity(path: string): Promise<Identity> {
    if (!existsSync(path)) throw new InvalidArgumentError(`Identity file ${path} does not exist.`);
    return identityFromPem(readFileSync(path, 'utf8'), path);
}

/** A new Ed25519 key as PKCS#8 PEM. */
export function newEd25519Pem(): string {
    const der = Buffer.concat([ED25519_PKCS8_PREFIX, randomBytes(32)]);
    const lines = der.toString('base64').match(/.{1,64}/g)!.join('\n');
    return `-----BEGIN PRIVATE KEY-----\n${lines}\n-----END PRIVATE KEY-----\n`;
}
