/**
 * The replica's vetKD master keys: one BLS12-381 secret scalar per key id (`dfx_test_key`, `test_key_1`,
 * `key_1`, each distinct), with the cycles fee `vetkd_derive_key` charges for it on the IC.
 *
 * A network keeps its master keys in `<stateDir>/vetkd_keys.json` (mode 0600), made once and reused, so
 * derived keys (and anything encrypted to them) survive restarts, as the root key in `ic_keys.json` does.
 * An in-memory replica without a state directory derives them from a seed instead (deterministic tests).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { CURVE_ORDER, type KeyPair, masterKey } from './scheme';

/** The vetKD fee on a 13-node subnet (dfinity/ic `VETKD_FEE`), scaled by the size of the subnet holding the key. */
const VETKD_FEE_13_NODES = 10_000_000_000n;
const scaledFee = (nodes: bigint): bigint => (VETKD_FEE_13_NODES * nodes) / 13n;

/**
 * The key ids and what a `vetkd_derive_key` with each costs on the IC: `key_1` lives on the 34-node
 * fiduciary subnet (26_153_846_153 cycles), `test_key_1` on a 13-node subnet, and `dfx_test_key` is the
 * local development key (13-node fee, as dfx and PocketIC charge it).
 */
export const VETKD_KEYS = {
    dfx_test_key: { fee: scaledFee(13n) },
    test_key_1: { fee: scaledFee(13n) },
    key_1: { fee: scaledFee(34n) }
} as const;
export type VetKdKeyName = keyof typeof VETKD_KEYS;
export const VETKD_KEY_NAMES = Object.keys(VETKD_KEYS) as VetKdKeyName[];

export const VETKD_KEYS_FILE = 'vetkd_keys.json';

/** A scalar in [1, r) from 64 bytes (uniform enough: the bias is below 2^-250). */
function scalarFrom(bytes: Uint8Array): bigint {
    return (BigInt(`0x${Buffer.from(bytes).toString('hex')}`) % (CURVE_ORDER - 1n)) + 1n;
}

export class VetKdKeys {
    private readonly keys: Map<VetKdKeyName, KeyPair>;

    private constructor(secrets: Record<VetKdKeyName, bigint>) {
        this.keys = new Map(VETKD_KEY_NAMES.map((name) => [name, masterKey(secrets[name])]));
    }

    /** Master keys derived from `seed` (same seed, same keys): for in-memory replicas and tests. */
    static fromSeed(seed: string): VetKdKeys {
        const secret = (name: string): bigint =>
            scalarFrom(createHash('sha512').update(`silo replica vetkd master key\0${seed}\0${name}`).digest());
        return new VetKdKeys(Object.fromEntries(VETKD_KEY_NAMES.map((n) => [n, secret(n)])) as Record<VetKdKeyName, bigint>);
    }

    /** Fresh random master keys (not kept). */
    static generate(): VetKdKeys {
        return new VetKdKeys(Object.fromEntries(VETKD_KEY_NAMES.map((n) => [n, scalarFrom(randomBytes(64))])) as Record<VetKdKeyName, bigint>);
    }

    /**
     * The master keys kept in `stateDir`, made there on first use. A file that does not hold them is an
     * error, never silently replaced: new master keys would make every derived key, and so every file
     * encrypted to one, unrecoverable.
     */
    static load(stateDir: string): VetKdKeys {
        const file = join(stateDir, VETKD_KEYS_FILE);
        if (existsSync(file)) {
            try {
                const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
                const secrets = Object.fromEntries(
                    VETKD_KEY_NAMES.map((name) => {
                        const value = saved[name];
                        if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) throw new Error(`no 32-byte hex secret for ${name}`);
                        const secret = BigInt(`0x${value}`);
                        if (secret === 0n || secret >= CURVE_ORDER) throw new Error(`the secret for ${name} is not a valid scalar`);
                        return [name, secret];
                    })
                ) as Record<VetKdKeyName, bigint>;
                return new VetKdKeys(secrets);
            } catch (error) {
                throw new Error(
                    `${file} does not hold the vetKD master keys (${(error as Error).message}); restore it from a backup: making new keys loses every key derived from the old ones`
                );
            }
        }
        const keys = VetKdKeys.generate();
        const temp = `${file}.tmp`;
        writeFileSync(temp, JSON.stringify(keys.serialize()), { mode: 0o600 });
        renameSync(temp, file);
        return keys;
    }

    private serialize(): Record<VetKdKeyName, string> {
        return Object.fromEntries([...this.keys].map(([name, key]) => [name, key.secret.toString(16).padStart(64, '0')])) as Record<VetKdKeyName, string>;
    }

    /** The master key pair of `name`, or undefined for a key id this network does not hold. */
    key(name: string): KeyPair | undefined {
        return this.keys.get(name as VetKdKeyName);
    }

    /** The master public key of `name` (96 bytes, compressed G2), as `MasterPublicKey.deserialize` reads it. */
    masterPublicKey(name: VetKdKeyName): Uint8Array {
        return this.keys.get(name)!.public.toRawBytes(true);
    }
}
