/**
 * Per-chunk verification through the verifier canister, on the replica with the real index, bucket and
 * verifier modules: chunks verified as they arrive (read back in a later message), mismatches dropped and
 * repaired, verified chunks frozen, an unreachable verifier waited for, a verifier whose module changed
 * refused (the session then verified in-canister), the sequential path without checkpoints, and a bucket
 * upgrade in the middle of verifications.
 */
import { readFileSync } from 'node:fs';

import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { bucketIdlFactory, bucketMethods, indexIdlFactory } from '../../shared/idl';
import { sha256 } from '../../shared/sha256';
import type { Asset, Result } from '../../shared/types';
import { setupForwarder } from '../helpers/forwarder';
import { canisterWasm, createPic, type TestPic } from '../helpers/pic';
import { ADMIN, bytes, deploySilo, download, identity, type Service, type Silo, stage, unwrap, upgradeBucket, upgradeIndex, upload } from '../helpers/silo';

const CHUNK = 4096;
const user = identity('verify-user');
let pic: TestPic;
let silo: Silo;
/** Executions of each verifier method, and the bucket's c2c_hash_chunk (the in-canister path). */
let seen: Record<string, number>;

function watch(id: Principal, name: string): void {
    pic.replica!.getCanister(id.toText())!.observer = (_c, exec) => {
        const method = `${name}.${exec.options.method ?? exec.callContext?.method ?? exec.kind}`;
        seen[method] = (seen[method] ?? 0) + 1;
    };
}

beforeEach(async () => {
    pic = await createPic();
    silo = await deploySilo(pic, { verifier: true });
    seen = {};
    watch(silo.verifierId!, 'verifier');
    watch(silo.buckets[0], 'bucket');
});
afterEach(() => pic.tearDown());

const errOf = (r: Result<unknown>): string => ('Err' in r ? Object.keys(r.Err)[0] : 'Ok');

describe('per-chunk verification', () => {
    it('verifies each chunk soon after it is stored, so finish only collects the result', async () => {
        const data = bytes(6 * CHUNK + 1000, 21);
        const { index, ticket } = await stage(silo, user, data, { chunkSize: CHUNK });
        await pic.tick(5);
        // Six full chunks hashed to their checkpoints, the last one finished to the digest, before any finish.
        expect(seen['verifier.absorb_chunk']).toBe(6);
        expect(seen['verifier.digest_chunk']).toBe(1);
        const asset = unwrap<Asset>(await index.finish_upload(ticket.session_id));
        expect(seen['bucket.c2c_hash_chunk'] ?? 0).toBe(0);
        expect(seen['verifier.absorb_chunk']).toBe(6);
        expect(await download(silo, user, asset)).toEqual(data);
    });

    it('verifies whatever is left at finish, even when no timer ran', async () => {
        const data = bytes(9 * CHUNK, 22);
        const { asset } = await upload(silo, user, data, { chunkSize: CHUNK });
        expect(seen['verifier.absorb_chunk']).toBe(8);
        expect(seen['verifier.digest_chunk']).toBe(1);
        expect(await download(silo, user, asset)).toEqual(data);
    });

    it('drops a chunk that does not match its checkpoint, reports it, and commits once it is sent right', async () => {
        const data = bytes(4 * CHUNK + 10, 23);
        const { index, bucket, ticket, chunks } = await stage(silo, user, data, { chunkSize: CHUNK, only: [0, 2, 3, 4] });
        const wrong = chunks[1].slice();
        wrong[100] ^= 1;
        unwrap(await bucket.put_chunk(ticket.session_id, 1, wrong));
        await pic.tick(5);
        const first = await index.finish_upload(ticket.session_id);
        expect(first).toEqual({ Err: { ChecksumMismatch: { chunk_index: 1 } } });
        // Verified chunks are frozen; the dropped one may be sent again.
        expect(errOf(await bucket.put_chunk(ticket.session_id, 0, chunks[0]))).toBe('SessionClosed');
        unwrap(await bucket.put_chunk(ticket.session_id, 1, chunks[1]));
        const asset = unwrap<Asset>(await index.finish_upload(ticket.session_id));
        expect(await download(silo, user, asset)).toEqual(data);
    });

    it('a wrong last chunk fails the declared digest', async () => {
        const data = bytes(2 * CHUNK + 100, 24);
        const { index, bucket, ticket, chunks } = await stage(silo, user, data, { chunkSize: CHUNK, only: [0, 1] });
        const wrong = chunks[2].slice();
        wrong[0] ^= 0xff;
        unwrap(await bucket.put_chunk(ticket.session_id, 2, wrong));
        expect(await index.finish_upload(ticket.session_id)).toEqual({ Err: { ChecksumMismatch: { chunk_index: 2 } } });
        unwrap(await bucket.put_chunk(ticket.session_id, 2, chunks[2]));
        expect(await download(silo, user, unwrap<Asset>(await index.finish_upload(ticket.session_id)))).toEqual(data);
    });

    it('a stopped verifier makes finish wait (BucketUnavailable); verification resumes when it is back', async () => {
        await pic.stopCanister({ canisterId: silo.verifierId!, sender: ADMIN });
        const data = bytes(3 * CHUNK + 5, 25);
        const { index, ticket } = await stage(silo, user, data, { chunkSize: CHUNK });
        await pic.tick(3);
        expect(errOf(await index.finish_upload(ticket.session_id))).toBe('BucketUnavailable');
        // Nothing was committed on the way.
        expect(errOf(await silo.index(user).get_asset(ticket.session_id))).not.toBe('Ok');
        await pic.startCanister({ canisterId: silo.verifierId!, sender: ADMIN });
        const asset = unwrap<Asset>(await index.finish_upload(ticket.session_id));
        expect(await download(silo, user, asset)).toEqual(data);
    });

    it('refuses to register a verifier whose module hash differs', async () => {
        const result = await silo.admin.admin_set_verifier([{ canister: silo.verifierId!, module_hash: new Uint8Array(32) }]);
        expect(errOf(result)).toBe('InvalidArgument');
        // Not a controller: inspect_message drops the call.
        await expect(silo.index(user).admin_set_verifier([])).rejects.toThrow();
    });

    it('a verifier whose module changed is dropped and the session is verified in the bucket instead', async () => {
        const data = bytes(3 * CHUNK + 7, 26);
        const { index, ticket } = await stage(silo, user, data, { chunkSize: CHUNK });
        await pic.tick(5);
        // Same code, one more custom section: a different module hash than the one registered.
        const original = readFileSync(canisterWasm('verifier').replace(/\.gz$/, ''));
        const changed = new Uint8Array([...original, 0, 4, 3, 0x78, 0x79, 0x7a]);
        expect(sha256(changed)).not.toEqual(sha256(original));
        await pic.reinstallCode({ canisterId: silo.verifierId!, wasm: changed, sender: ADMIN });
        const asset = unwrap<Asset>(await index.finish_upload(ticket.session_id));
        expect(seen['bucket.c2c_hash_chunk']).toBeGreaterThan(0);
        expect(await silo.admin.verifier()).toEqual([]);
        expect(await download(silo, user, asset)).toEqual(data);
    });

    it('without checkpoints, finish verifies sequentially in the bucket', async () => {
        const data = bytes(2 * CHUNK + 3, 27);
        const { asset } = await upload(silo, user, data, { chunkSize: CHUNK, checkpoints: false });
        expect(seen['verifier.absorb_chunk'] ?? 0).toBe(0);
        expect(seen['bucket.c2c_hash_chunk']).toBeGreaterThan(0);
        expect(await download(silo, user, asset)).toEqual(data);
    });

    it('a bucket upgrade while verifications are queued or in flight loses nothing', async () => {
        const data = bytes(5 * CHUNK + 9, 28);
        const { index, ticket } = await stage(silo, user, data, { chunkSize: CHUNK });
        // One round: the timer read chunks back and sent them; the verifier has not answered yet.
        await pic.tick(1);
        await upgradeBucket(silo, silo.buckets[0]);
        watch(silo.buckets[0], 'bucket');
        await pic.tick(5);
        const asset = unwrap<Asset>(await index.finish_upload(ticket.session_id));
        expect(await download(silo, user, asset)).toEqual(data);
    });

    it('upgrades of the index and a reinstall of the verifier mid-upload keep verification correct', async () => {
        const data = bytes(4 * CHUNK + 3, 30);
        const { index, ticket } = await stage(silo, user, data, { chunkSize: CHUNK });
        // One round: verifications are on their way to the verifier when it is reinstalled (same module).
        await pic.tick(1);
        const module = new Uint8Array(readFileSync(canisterWasm('verifier').replace(/\.gz$/, '')));
        await pic.reinstallCode({ canisterId: silo.verifierId!, wasm: module, sender: ADMIN });
        await upgradeIndex(silo);
        await pic.tick(5);
        expect((await silo.admin.verifier())[0]?.canister.toText()).toBe(silo.verifierId!.toText());
        const asset = unwrap<Asset>(await index.finish_upload(ticket.session_id));
        expect(seen['bucket.c2c_hash_chunk'] ?? 0).toBe(0);
        expect(await download(silo, user, asset)).toEqual(data);
    });

    it('finish racing a timer-started verification of the same chunk still gets its answer', async () => {
        const data = bytes(3 * CHUNK + 11, 29);
        const { ticket, chunks } = await stage(silo, user, data, { chunkSize: CHUNK, only: [0, 1, 2] });
        await pic.tick(5);
        const bucket = pic.createDeferredActor<Service>(bucketIdlFactory, ticket.bucket);
        bucket.setIdentity(user);
        const index = pic.createDeferredActor<Service>(indexIdlFactory, silo.indexId);
        index.setIdentity(user);
        const put = await bucket.put_chunk(ticket.session_id, 3, chunks[3]);
        // The timer reads chunk 3 back and calls the verifier in the same rounds as finish seals and verifies.
        const finish = await index.finish_upload(ticket.session_id);
        unwrap(await put());
        const asset = unwrap<Asset>(await finish());
        // Both the timer and finish sent chunk 3: the race this spec is about did happen.
        expect(seen['verifier.digest_chunk']).toBe(2);
        expect(await download(silo, user, asset)).toEqual(data);
    });

    it('only the index may call c2c_plan_verification and c2c_verify_session', async () => {
        // By ingress, inspect_message drops them; from another canister, the methods answer Unauthorized.
        const bucket = silo.bucket(silo.buckets[0], user);
        await expect(bucket.c2c_verify_session(1n)).rejects.toThrow();
        const forwarder = await setupForwarder(pic);
        const reply = await forwarder.call(silo.buckets[0], 'c2c_verify_session', new Uint8Array(IDL.encode(bucketMethods.c2c_verify_session.argTypes, [1n])));
        expect(errOf(IDL.decode(bucketMethods.c2c_verify_session.retTypes, reply)[0] as never)).toBe('Unauthorized');
        const plan = { verifier: silo.verifierId!, sha256: new Uint8Array(32), checkpoints: [] };
        const planReply = await forwarder.call(silo.buckets[0], 'c2c_plan_verification', new Uint8Array(IDL.encode(bucketMethods.c2c_plan_verification.argTypes, [1n, plan])));
        expect(errOf(IDL.decode(bucketMethods.c2c_plan_verification.retTypes, planReply)[0] as never)).toBe('Unauthorized');
    });
});
