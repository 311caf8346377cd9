/**
 * The index's side of per-chunk verification (issue 14): which verifier canister it trusts (checked
 * against a module hash), the plan it hands a bucket when a session opens, and how finish_upload collects
 * the result.
 *
 * One verifier serves the whole deployment: the index creates buckets on its own subnet, the verifier is
 * stateless, and at ~110 instructions per byte one canister hashes ~18 MB per 2 B-instruction round, more
 * than a bucket can read back and send in the same time; a second copy per bucket would double the
 * canisters to fund and watch without making anything faster.
 *
 * Trust: the index accepts a verifier only when `canister_status` (the index must be a controller) shows
 * the module hash the controller named, and checks it again before committing any session the verifier
 * vouched for. A verifier whose module changed is dropped, and the session is verified by hashing in the
 * bucket instead; an unreachable verifier makes finish_upload answer BucketUnavailable (the client retries,
 * verification resumes where it stopped). Nothing commits on a verifier's word that was not checked.
 */
import type { Principal } from '@dfinity/principal';

import { toHex } from '../../shared/sha256';
import type { KvMap } from '../../shared/stable';
import type { Result, SiloError, VerifierInfo as VerifierInfoT } from '../../shared/types';
import type { Ports, SessionRecord } from './state';
import { describeError } from './errors';

/** The registered verifier, under key 0 (IndexState.verifier). */
export type VerifierStore = KvMap<number, VerifierInfoT>;
const KEY = 0;

export function currentVerifier(store: VerifierStore): VerifierInfoT | null {
    return store.get(KEY) ?? null;
}

/** Registers (after checking its module hash) or clears the verifier; cleared, buckets hash in-canister. */
export async function setVerifier(store: VerifierStore, ports: Ports, info: [] | [VerifierInfoT]): Promise<Result<null>> {
    const wanted = info[0];
    if (wanted === undefined) {
        store.remove(KEY);
        return { Ok: null };
    }
    if (wanted.module_hash.length !== 32) return { Err: { InvalidArgument: 'module_hash must be the 32-byte SHA-256 of the verifier module' } };
    let actual: Uint8Array | null;
    try {
        actual = await ports.management.moduleHash(wanted.canister);
    } catch (error) {
        return { Err: { InvalidArgument: `cannot read the module hash of ${wanted.canister.toText()} (the index must be one of its controllers): ${describeError(error)}` } };
    }
    if (actual === null || toHex(actual) !== toHex(wanted.module_hash)) {
        return { Err: { InvalidArgument: `verifier ${wanted.canister.toText()} runs module ${actual === null ? 'none' : toHex(actual)}, not ${toHex(wanted.module_hash)}` } };
    }
    store.insert(KEY, { canister: wanted.canister, module_hash: wanted.module_hash });
    return { Ok: null };
}

/**
 * Hands the session's bucket a plan when the client sent checkpoints and a verifier is registered. A
 * failure leaves the session without a plan: finish_upload then verifies it sequentially, as before.
 */
export async function planSession(store: VerifierStore, ports: Ports, session: SessionRecord, checkpoints: Uint8Array[] | undefined): Promise<void> {
    const verifier = currentVerifier(store);
    if (verifier === null || checkpoints === undefined || session.chunk_count === 0) return;
    try {
        await ports.bucket.planVerification(session.bucket, session.session_id, { verifier: verifier.canister, sha256: session.sha256, checkpoints });
    } catch {
        // Sequential verification remains.
    }
}

export type Collected = { done: true } | { fallback: string } | { error: SiloError; mismatch?: number } | { lost: SiloError };

/**
 * finish_upload's per-chunk path: asks the bucket (which the index has sealed) until every chunk is
 * verified, then checks that the verifier that did it is the registered one and still runs its module.
 * `reclaim` re-checks the finish lock after each await.
 */
export async function collectVerification(
    store: VerifierStore,
    ports: Ports,
    session: SessionRecord,
    reclaim: () => { ok: true; session: SessionRecord } | { ok: false; error: SiloError }
): Promise<Collected> {
    const unavailable = (reason: string): SiloError => ({ BucketUnavailable: { bucket: session.bucket, reason } });
    // Each round verifies a batch of chunks or waits for those in flight; a bound keeps a confused bucket from looping.
    const rounds = Math.ceil(session.chunk_count / 4) + 4;
    for (let round = 0; round < rounds; round++) {
        let progress;
        try {
            progress = await ports.bucket.verifySession(session.bucket, session.session_id);
        } catch (error) {
            const claim = reclaim();
            return claim.ok ? { error: unavailable(describeError(error)) } : { lost: claim.error };
        }
        const claim = reclaim();
        if (!claim.ok) return { lost: claim.error };
        if ('Err' in progress) return { error: progress.Err };
        const p = progress.Ok;
        if ('no_plan' in p) return { fallback: 'the session has no verification plan' };
        if ('mismatch' in p) return { error: { ChecksumMismatch: { chunk_index: p.mismatch } }, mismatch: p.mismatch };
        if ('unavailable' in p) return { error: unavailable(`verifier: ${p.unavailable}`) };
        if ('pending' in p) continue;
        return checkVerifier(store, ports, p.done.verifier, reclaim, unavailable);
    }
    return { fallback: `verification made no progress in ${rounds} rounds` };
}

async function checkVerifier(
    store: VerifierStore,
    ports: Ports,
    used: Principal,
    reclaim: () => { ok: boolean; error?: SiloError },
    unavailable: (reason: string) => SiloError
): Promise<Collected> {
    const registered = currentVerifier(store);
    if (registered === null || registered.canister.toText() !== used.toText()) return { fallback: `verifier ${used.toText()} is no longer the registered one` };
    let actual: Uint8Array | null;
    try {
        actual = await ports.management.moduleHash(used);
    } catch (error) {
        const claim = reclaim();
        return claim.ok ? { error: unavailable(`cannot check the verifier's module: ${describeError(error)}`) } : { lost: claim.error! };
    }
    const claim = reclaim();
    if (!claim.ok) return { lost: claim.error! };
    const now = currentVerifier(store);
    if (actual === null || now === null || toHex(actual) !== toHex(registered.module_hash) || now.canister.toText() !== used.toText()) {
        // Refuse this verifier from now on; this session is verified by hashing in the bucket instead.
        if (now !== null && now.canister.toText() === used.toText()) store.remove(KEY);
        return { fallback: `verifier ${used.toText()} no longer runs module ${toHex(registered.module_hash)}` };
    }
    return { done: true };
}
