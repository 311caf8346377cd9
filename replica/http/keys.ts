/**
 * The replica's keys: a BLS12-381 key pair whose public key is the root of trust (`/api/v2/status`
 * serves it; certificates are signed with it, with no delegation, as a single-subnet development IC
 * does), and the Ed25519 key of the subnet's one node, which signs query responses.
 *
 * Generated once and kept in `<stateDir>/ic_keys.json` (mode 0600) when a state directory is given, so
 * agents that fetched the root key keep verifying across restarts.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign as nodeSign, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { Principal } from '@dfinity/principal';
import { bls12_381 } from '@noble/curves/bls12-381';

import { concatBytes } from '../../shared/bytes';

/** DER prefix of a BLS12-381 G2 public key (OIDs 1.3.6.1.4.1.44668.5.3.1.2.1 and 1.3.6.1.4.1.44668.5.3.2.1). */
export const BLS_DER_PREFIX = Buffer.from('308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100', 'hex');
/** DER prefix of an Ed25519 public key (RFC 8410). */
export const ED25519_DER_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** PKCS#8 prefix of an Ed25519 private key seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export const KEYS_FILE = 'ic_keys.json';

/** The secret material, as kept on disk. */
export interface ReplicaKeySecrets {
    /** BLS12-381 secret scalar, 32 bytes. */
    bls: Uint8Array;
    /** Ed25519 seed of the node key, 32 bytes. */
    node: Uint8Array;
}

export class ReplicaKeys {
    /** The root key, DER-encoded (what `/api/v2/status` reports and agents verify certificates with). */
    readonly rootKey: Uint8Array;
    /** The subnet's id: the self-authenticating principal of its public key (which agent-js assumes without a delegation). */
    readonly subnetId: Principal;
    /** The node's public key, DER-encoded (44 bytes), as listed at `/subnet/<id>/node/<node>/public_key`. */
    readonly nodeKey: Uint8Array;
    readonly nodeId: Principal;
    private readonly nodePrivate: KeyObject;

    constructor(private readonly secrets: ReplicaKeySecrets) {
        this.rootKey = concatBytes([BLS_DER_PREFIX, bls12_381.getPublicKeyForShortSignatures(secrets.bls)]);
        this.subnetId = Principal.selfAuthenticating(this.rootKey);
        this.nodePrivate = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, secrets.node]), format: 'der', type: 'pkcs8' });
        this.nodeKey = new Uint8Array(createPublicKey(this.nodePrivate).export({ format: 'der', type: 'spki' }));
        this.nodeId = Principal.selfAuthenticating(this.nodeKey);
    }

    static generate(): ReplicaKeys {
        return new ReplicaKeys({ bls: bls12_381.utils.randomPrivateKey(), node: new Uint8Array(randomBytes(32)) });
    }

    /** The keys kept in `stateDir`, created there on first use; fresh keys (not kept) without a directory. */
    static load(stateDir?: string): ReplicaKeys {
        if (stateDir === undefined) return ReplicaKeys.generate();
        const file = join(stateDir, KEYS_FILE);
        if (existsSync(file)) {
            try {
                const saved = JSON.parse(readFileSync(file, 'utf8')) as { bls: string; node: string };
                const secrets = { bls: Buffer.from(saved.bls, 'hex'), node: Buffer.from(saved.node, 'hex') };
                if (secrets.bls.length !== 32 || secrets.node.length !== 32) throw new Error('keys must be 32 bytes each');
                return new ReplicaKeys(secrets);
            } catch (error) {
                throw new Error(`${file} does not hold the replica's keys (${(error as Error).message}); remove it to make new ones (agents then fetch the new root key)`);
            }
        }
        const keys = ReplicaKeys.generate();
        const temp = `${file}.tmp`;
        writeFileSync(temp, JSON.stringify({ bls: Buffer.from(keys.secrets.bls).toString('hex'), node: Buffer.from(keys.secrets.node).toString('hex') }), { mode: 0o600 });
        renameSync(temp, file);
        return keys;
    }

    /** BLS signature (48 bytes, G1) of `message`, as certificates carry it. */
    signBls(message: Uint8Array): Uint8Array {
        return bls12_381.signShortSignature(message, this.secrets.bls);
    }

    /** The node's Ed25519 signature of `message` (query responses). */
    signNode(message: Uint8Array): Uint8Array {
        return new Uint8Array(nodeSign(null, message, this.nodePrivate));
    }
}
