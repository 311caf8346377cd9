/**
 * The replica's vetKD master keys: one BLS12-381 secret scalar per key id (`dfx_test_key`, `test_key_1`,
 * `key_1`, each distinct), with the cycles fee `vetkd_derive_key` charges for it on the IC.
 *
 * A network keeps its master keys in `<stateDir>/vetkd_keys.json` (mode 0600), made once and reused, so
 * derived keys (and anything encrypted to them) survive restarts, as the root key in `ic_keys.json` does.
 * An in-memory replica without a state directory derives them from a seed instead (deterministic tests).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { VETKD_DERIVE_KEY_FEES, type VetKdKeyName, vetkdDeriveKeyFee } from '../../shared/management';
import { CURVE_ORDER, type KeyPair, masterKey } from './scheme';

/**
 * The key ids and what a `vetkd_derive_key` with each costs on the IC (`shared/management.ts`):
 * `key_1` lives on the 34-node fiduciary subnet (26_153_846_153 cycles), `test_key_1` on a 13-node
 * subnet, and `dfx_test_key` is the local development key (13-node fee, as dfx and PocketIC charge it).
 */
export const VETKD_KEYS: Record<VetKdKeyName, { fee: bigint }> = Object.fromEntries(
    Object.entries(VETKD_DERIVE_KEY_FEES).map(([name, fee]) => [name, { fee }])
) as Record<VetKdKeyName, { fee: bigint }>;
export type { VetKdKeyName };
export const VETKD_KEY_NAMES = Object.keys(VETKD_KEYS) as VetKdKeyName[];

export const VETKD_KEYS_FILE = 'vetkd_keys.json';

/** What `vetkd_derive_key` with key `name` costs, or undefined for a key id no network holds. */
export const vetkdFee = vetkdDeriveKeyFee;

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
        // Written whole, synced, then renamed into place (and the directory synced): after a crash the file
        // is either absent (new keys next time, nothing was derived from these yet) or complete.
        const keys = VetKdKeys.generate();
        const temp = `${file}.tmp-${process.pid}`;
        const fd = openSync(temp, 'w', 0o600);
        try {
            writeSync(fd, JSON.stringify(keys.serialize()));
            fsyncSync(fd);
        } finally {
            closeSync(fd);
        }
        renameSync(temp, file);
        const dir = openSync(stateDir, 'r');
        try {
            fsyncSync(dir);
        } finally {
            closeSync(dir);
        }
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
