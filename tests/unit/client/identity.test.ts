import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import { describe, expect, it } from 'vitest';

import { InvalidArgumentError } from '../../../client/errors';
import { identityFromPem, newEd25519Pem } from '../../../client/identity';

describe('identities from PEM', () => {
    it('reads the Ed25519 PKCS#8 keys it writes, giving the same principal every time', async () => {
        const pem = newEd25519Pem();
        expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
        const a = await identityFromPem(pem);
        const b = await identityFromPem(pem);
        expect(a.getPrincipal().toText()).toBe(b.getPrincipal().toText());
        expect(a.getPrincipal().isAnonymous()).toBe(false);
        expect((await identityFromPem(newEd25519Pem())).getPrincipal().toText()).not.toBe(a.getPrincipal().toText());
    });

    it('reads a secp256k1 key in the SEC1 form dfx exports', async () => {
        const secret = new Uint8Array(32).fill(7);
        const key = Secp256k1KeyIdentity.fromSecretKey(secret);
        const pub = new Uint8Array(key.getPublicKey().toRaw());
        // SEC1 ECPrivateKey (RFC 5915) on secp256k1, as `dfx identity export` prints it.
        const der = Buffer.concat([
            Buffer.from('30740201010420', 'hex'),
            secret,
            Buffer.from('a00706052b8104000aa144034200', 'hex'),
            pub
        ]);
        const pem = `-----BEGIN EC PRIVATE KEY-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END EC PRIVATE KEY-----\n`;
        expect((await identityFromPem(pem)).getPrincipal().toText()).toBe(key.getPrincipal().toText());
    });

    it('names what it cannot read', async () => {
        await expect(identityFromPem('not a key', 'me.pem')).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(identityFromPem('not a key', 'me.pem')).rejects.toThrow(/me.pem holds no private key/);
    });
});
