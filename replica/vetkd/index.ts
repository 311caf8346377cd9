/**
 * vetKD in the management canister: `vetkd_public_key` and `vetkd_derive_key` as the IC answers them,
 * on the master keys of `keys.ts` with the scheme of `scheme.ts`.
 *
 * What the IC checks, in its order, and how it words a refusal:
 * - both methods are refused as ingress (`management.ts`, "Only canisters can call ic00 method ...");
 * - a key id the network does not hold cannot be routed: reject code 3 (DestinationInvalid) without an
 *   error code, "Unable to route management canister request <method>: ChainKeyError(...)";
 * - `vetkd_derive_key`: a transport key that is not a valid compressed G1 point is IC0406, then the fee:
 *   fewer attached cycles than the key's fee is IC0406 "vetkd_derive_key request sent with N cycles, but
 *   F cycles are required."; the fee is burned and the rest of the attached cycles refunded;
 * - `vetkd_public_key` is free (all attached cycles refunded) and answers for any canister id.
 */
import type { Principal } from '@dfinity/principal';

import type { VetKdDeriveKeyArgs, VetKdKeyId, VetKdPublicKeyArgs } from '../../shared/management';
import { ErrorCode, RejectCode, UserError } from '../errors';
import type { Response } from '../execution';
import { VETKD_KEY_NAMES, vetkdFee, type VetKdKeys } from './keys';
import { deriveCanisterKey, deriveContextKey, derivePublicKey, encryptVetKey, type KeyPair, parseTransportPublicKey } from './scheme';

export { VETKD_KEY_NAMES, VETKD_KEYS, VETKD_KEYS_FILE, type VetKdKeyName, vetkdFee, VetKdKeys } from './keys';

/** A reply (with what to refund of the attached cycles), a user error, or a system reject without an error code. */
export type VetKdOutcome = { reply: unknown[]; refund: bigint } | UserError | { reject: Response };

/** The IC's rendering of a vetKD key id (`MasterPublicKeyId` Display). */
const keyIdText = (name: string): string => `vetkd:Bls12_381_G2:${name}`;
const heldKeys = (): string => `[${[...VETKD_KEY_NAMES].sort().map(keyIdText).join(', ')}]`;

export class VetKd {
    constructor(readonly keys: VetKdKeys) {}

    private master(method: string, keyId: VetKdKeyId): KeyPair | { reject: Response } {
        const key = this.keys.key(keyId.name);
        if (key !== undefined) return key;
        const reason =
            method === 'vetkd_public_key'
                ? `Requested unknown threshold key: ${keyIdText(keyId.name)}, existing keys: ${heldKeys()}`
                : `Requested unknown or disabled threshold key: ${keyIdText(keyId.name)}, existing enabled keys: ${heldKeys()}`;
        return {
            reject: {
                type: 'reject',
                code: RejectCode.DestinationInvalid,
                message: `Unable to route management canister request ${method}: ChainKeyError(${JSON.stringify(reason)})`
            }
        };
    }

    publicKey(caller: Principal, args: VetKdPublicKeyArgs, cycles: bigint): VetKdOutcome {
        const master = this.master('vetkd_public_key', args.key_id);
        if ('reject' in master) return master;
        const canisterId = args.canister_id[0] ?? caller;
        const key = derivePublicKey(master.public, canisterId.toUint8Array(), args.context);
        return { reply: [{ public_key: key.toRawBytes(true) }], refund: cycles };
    }

    deriveKey(caller: Principal, args: VetKdDeriveKeyArgs, cycles: bigint): VetKdOutcome {
        const master = this.master('vetkd_derive_key', args.key_id);
        if ('reject' in master) return master;
        const transport = parseTransportPublicKey(args.transport_public_key);
        if (transport === null) return new UserError(ErrorCode.CanisterRejectedMessage, 'The provided transport public key is invalid.');
        const fee = vetkdFee(args.key_id.name)!;
        if (cycles < fee) {
            return new UserError(ErrorCode.CanisterRejectedMessage, `vetkd_derive_key request sent with ${cycles} cycles, but ${fee} cycles are required.`);
        }
        const derived = deriveContextKey(deriveCanisterKey(master, caller.toUint8Array()), args.context);
        return { reply: [{ encrypted_key: encryptVetKey(derived, transport, args.input) }], refund: cycles - fee };
    }
}
