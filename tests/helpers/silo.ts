/** Deploys Silo (index and buckets, from the real Wasm) on a test replica, and drives uploads. */
import { readFileSync } from 'node:fs';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import type { Principal } from '@dfinity/principal';

import { bucketInitArg, indexInitArg, uploadBucketModule } from '../../client/deploy';
import { bucketIdlFactory, indexIdlFactory } from '../../shared/idl';
import { sha256 } from '../../shared/sha256';
import type { Asset, ConfigUpdate, UploadTicket, Visibility } from '../../shared/types';
import type { Actor } from '../../replica';
import { split } from './bytes';
import { canisterWasm, type TestPic } from './pic';
import { unwrap } from './result';

export type Service = Record<string, (...args: any[]) => Promise<any>>;

/** A deterministic identity per name. */
export function identity(name: string): Ed25519KeyIdentity {
    const seed = new Uint8Array(32);
    new TextEncoder().encodeInto(name.padEnd(32, '.'), seed);
    return Ed25519KeyIdentity.generate(seed);
}

export const ADMIN = identity('admin').getPrincipal();

export interface Silo {
    pic: TestPic;
    indexId: Principal;
    /** Actor on the index as `ADMIN` (a controller). */
    admin: Actor<Service>;
    buckets: Principal[];
    /** The verifier canister, when deployed with `verifier: true`. */
    verifierId?: Principal;
    /** An actor on the index for a user. */
    index(user: Ed25519KeyIdentity): Actor<Service>;
    bucket(id: Principal, user: Ed25519KeyIdentity): Actor<Service>;
}

export async function deploySilo(
    pic: TestPic,
    options: { config?: Partial<ConfigUpdate>; buckets?: number; bucketCapacity?: bigint; bucketWasm?: string; verifier?: boolean } = {}
): Promise<Silo> {
    const indexId = await pic.createCanister({ sender: ADMIN, controllers: [ADMIN], cycles: 100_000_000_000_000n });
    // Specs use small chunks to get many of them cheaply: allow them (the default minimum is 64 KiB).
    await pic.installCode({ canisterId: indexId, wasm: canisterWasm('index'), arg: indexInitArg({ min_chunk_size: [64], ...options.config }), sender: ADMIN });
    const admin = pic.createActor<Service>(indexIdlFactory, indexId);
    admin.setPrincipal(ADMIN);
    const verifierId = options.verifier === true ? await deployVerifier(pic, indexId, admin) : undefined;
    const buckets: Principal[] = [];
    for (let i = 0; i < (options.buckets ?? 1); i++) {
        buckets.push(await deployBucket(pic, indexId, options.bucketWasm ?? canisterWasm('bucket')));
        unwrap(await admin.admin_register_bucket(buckets[i], options.bucketCapacity === undefined ? [] : [options.bucketCapacity]));
    }
    return {
        pic,
        indexId,
        admin,
        buckets,
        verifierId,
        index(user) {
            const actor = pic.createActor<Service>(indexIdlFactory, indexId);
            actor.setIdentity(user);
            return actor;
        },
        bucket(id, user) {
            const actor = pic.createActor<Service>(bucketIdlFactory, id);
            actor.setIdentity(user);
            return actor;
        }
    };
}

/** The verifier canister, controlled by the admin and the index, registered with the index by its module hash. */
export async function deployVerifier(pic: TestPic, indexId: Principal, admin: Actor<Service>): Promise<Principal> {
    const id = await pic.createCanister({ sender: ADMIN, controllers: [ADMIN, indexId], cycles: 100_000_000_000_000n });
    // Installed uncompressed (it is 6 KB): its module hash is then the SHA-256 of these bytes on any replica.
    const wasm = new Uint8Array(readFileSync(canisterWasm('verifier').replace(/\.gz$/, '')));
    await pic.installCode({ canisterId: id, wasm, sender: ADMIN });
    unwrap(await admin.admin_set_verifier([{ canister: id, module_hash: sha256(wasm) }]));
    return id;
}

/** A bucket controlled by the admin and the index, with the index as its only writer. */
export async function deployBucket(pic: TestPic, indexId: Principal, wasm: string): Promise<Principal> {
    const id = await pic.createCanister({ sender: ADMIN, controllers: [ADMIN, indexId], cycles: 100_000_000_000_000n });
    await pic.installCode({ canisterId: id, wasm, arg: bucketInitArg(indexId), sender: ADMIN });
    return id;
}

/** Gives the index the bucket module so it can create buckets itself. */
export async function storeBucketWasm(silo: Silo): Promise<void> {
    await uploadBucketModule(silo.admin, new Uint8Array(readFileSync(canisterWasm('bucket'))));
}

export { bytes, split } from './bytes';
export { unwrap } from './result';

export interface UploadOptions {
    chunkSize?: number;
    checkpoints?: boolean;
    visibility?: Visibility;
    name?: string;
    contentType?: string;
}

export function beginArgs(data: Uint8Array, options: UploadOptions = {}) {
    const chunkSize = options.chunkSize ?? 1024;
    return {
        name: options.name ?? 'data.bin',
        content_type: options.contentType ?? 'application/octet-stream',
        size: BigInt(data.length),
        sha256: sha256(data),
        chunk_size: chunkSize,
        visibility: options.visibility ?? { private: null },
        checkpoints: options.checkpoints === false ? [] : [split(data, chunkSize).checkpoints]
    };
}

/** begin_upload, then put the chunks (all of them, or those `only` names), without finishing. */
export async function stage(silo: Silo, user: Ed25519KeyIdentity, data: Uint8Array, options: UploadOptions & { only?: number[] } = {}) {
    const index = silo.index(user);
    const ticket = unwrap<UploadTicket>(await index.begin_upload(beginArgs(data, options)));
    const bucket = silo.bucket(ticket.bucket, user);
    const { chunks } = split(data, ticket.chunk_size);
    for (const i of options.only ?? chunks.keys()) unwrap(await bucket.put_chunk(ticket.session_id, i, chunks[i]));
    return { index, bucket, ticket, chunks };
}

/** begin, put every chunk, finish: the whole protocol as a client runs it. */
export async function upload(silo: Silo, user: Ed25519KeyIdentity, data: Uint8Array, options: UploadOptions = {}): Promise<{ ticket: UploadTicket; asset: Asset }> {
    const { index, ticket } = await stage(silo, user, data, options);
    const asset = unwrap<Asset>(await index.finish_upload(ticket.session_id));
    return { ticket, asset };
}

export async function download(silo: Silo, user: Ed25519KeyIdentity, asset: Asset): Promise<Uint8Array> {
    const bucket = silo.bucket(asset.bucket, user);
    const out = new Uint8Array(Number(asset.size));
    for (let i = 0; i < asset.chunk_count; i++) {
        out.set(unwrap<Uint8Array>(await bucket.get_chunk(asset.id, i)), i * asset.chunk_size);
    }
    return out;
}

/** Upgrades the index to the built module (settings unchanged). */
export async function upgradeIndex(silo: Silo): Promise<void> {
    await silo.pic.upgradeCanister({ canisterId: silo.indexId, wasm: canisterWasm('index'), arg: indexInitArg(), sender: ADMIN });
}

/** Upgrades a bucket to `wasm` (the built bucket module by default). */
export async function upgradeBucket(silo: Silo, bucket: Principal, wasm = canisterWasm('bucket')): Promise<void> {
    await silo.pic.upgradeCanister({ canisterId: bucket, wasm, arg: bucketInitArg(silo.indexId), sender: ADMIN });
}
