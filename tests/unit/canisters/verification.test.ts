/**
 * Per-chunk verification (canisters/bucket/verify.ts, canisters/index/verification.ts) without a replica:
 * the harness runs the index and bucket logic with a verifier modelled by shared/sha256.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { registerBucket } from '../../../canisters/index/buckets';
import { beginUpload, finishUpload } from '../../../canisters/index/uploads';
import { setVerifier } from '../../../canisters/index/verification';
import { Principal } from '@dfinity/principal';
import type { UploadTicket } from '../../../shared/types';
import { ADMIN, ALICE, bytes, Gate, split, unwrap, World } from './harness';

const CHUNK = 256;
const VERIFIER = Principal.fromText('aaaaa-aa');
const MODULE = new Uint8Array(32).fill(7);

async function setUp(data: Uint8Array): Promise<{ world: World; ticket: UploadTicket; chunks: Uint8Array[] }> {
    const world = new World();
    unwrap(registerBucket(world.state, world.env(ADMIN), world.addBucket(), 1_000_000n, false));
    world.moduleHashes.set(VERIFIER.toText(), MODULE);
    unwrap(await setVerifier(world.state.verifier!, world.ports, [{ canister: VERIFIER, module_hash: MODULE }]));
    const { checkpoints, digest, chunks } = split(data, CHUNK);
    const ticket = unwrap(
        await beginUpload(world.state, world.env(ALICE), world.ports, {
            name: 'f',
            content_type: 'application/octet-stream',
            size: BigInt(data.length),
            sha256: digest,
            chunk_size: CHUNK,
            visibility: { private: null },
            checkpoints: [checkpoints]
        })
    );
    return { world, ticket, chunks };
}

const verifierCalls = (world: World) => world.calls.filter((c) => c.method.startsWith('verifier.')).length;

describe('per-chunk verification', () => {
    it('refuses a verifier whose module hash differs, or that it cannot inspect', async () => {
        const world = new World();
        world.moduleHashes.set(VERIFIER.toText(), MODULE);
        expect(await setVerifier(world.state.verifier!, world.ports, [{ canister: VERIFIER, module_hash: new Uint8Array(32) }])).toMatchObject({ Err: { InvalidArgument: expect.stringContaining('runs module') } });
        const other = Principal.fromText('2vxsx-fae');
        expect(await setVerifier(world.state.verifier!, world.ports, [{ canister: other, module_hash: MODULE }])).toMatchObject({ Err: { InvalidArgument: expect.stringContaining('none') } });
        expect(Number(world.state.verifier!.len())).toBe(0);
    });

    it('verifies each chunk once, in timers after the puts; finish makes no further verifier call', async () => {
        const data = bytes(5 * CHUNK + 17, 3);
        const { world, ticket, chunks } = await setUp(data);
        chunks.forEach((c, i) => unwrap(world.put(ALICE, ticket.bucket, ticket.session_id, i, c)));
        expect(verifierCalls(world)).toBe(0);
        await world.runTimers();
        expect(verifierCalls(world)).toBe(6);
        const asset = unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id));
        expect(asset.sha256).toEqual(split(data, CHUNK).digest);
        expect(verifierCalls(world)).toBe(6);
        // Each chunk's own digest came back with its verification: the certified responses use it.
        const bucket = world.bucket(ticket.bucket);
        chunks.forEach((c, i) => expect(bucket.digests.get([ticket.session_id, i]), `chunk ${i}`).toEqual(new Uint8Array(createHash('sha256').update(c).digest())));
    });

    it('a chunk rewritten before verification loses its digest; the new bytes get theirs', async () => {
        const data = bytes(2 * CHUNK, 4);
        const { world, ticket, chunks } = await setUp(data);
        const bucket = world.bucket(ticket.bucket);
        bucket.digests.insert([ticket.session_id, 0], new Uint8Array(32));
        unwrap(world.put(ALICE, ticket.bucket, ticket.session_id, 0, chunks[0]));
        expect(bucket.digests.get([ticket.session_id, 0])).toBeUndefined();
    });

    it('a chunk rewritten while its verification is in flight is verified again, from the new bytes', async () => {
        const data = bytes(3 * CHUNK, 4);
        const { world, ticket, chunks } = await setUp(data);
        const wrong = chunks[0].slice();
        wrong[5] ^= 1;
        unwrap(world.put(ALICE, ticket.bucket, ticket.session_id, 0, wrong));
        const gate = new Gate();
        world.holds.set('verifier.absorb_chunk', gate);
        const timers = world.runTimers();
        await new Promise((r) => setTimeout(r, 0));
        // The wrong bytes are with the verifier; the client replaces them before it answers.
        unwrap(world.put(ALICE, ticket.bucket, ticket.session_id, 0, chunks[0]));
        gate.open();
        await timers;
        await world.runTimers();
        chunks.slice(1).forEach((c, i) => unwrap(world.put(ALICE, ticket.bucket, ticket.session_id, i + 1, c)));
        const asset = unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id));
        expect(asset.size).toBe(BigInt(data.length));
    });

    it('an unreachable verifier: finish answers BucketUnavailable and commits nothing; later it completes', async () => {
        const data = bytes(2 * CHUNK + 1, 5);
        const { world, ticket, chunks } = await setUp(data);
        world.verifierDown.add(VERIFIER.toText());
        chunks.forEach((c, i) => unwrap(world.put(ALICE, ticket.bucket, ticket.session_id, i, c)));
        await world.runTimers();
        const failed = await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id);
        expect(failed).toMatchObject({ Err: { BucketUnavailable: { reason: expect.stringContaining('out of cycles') } } });
        expect(Number(world.state.assets.len())).toBe(0);
        world.verifierDown.clear();
        unwrap(await finishUpload(world.state, world.env(ALICE), world.ports, ticket.session_id));
        expect(Number(world.state.assets.len())).toBe(1);
    });
});
