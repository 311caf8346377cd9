/**
 * Silo bucket canister: holds chunks in a StableBTreeMap, in 64 KiB pieces. Clients write their
 * session's chunks here directly; the index (its only privileged caller) opens, seals, verifies, commits and deletes sessions.
 */
import { call, certifiedDataSet, dataCertificate, init, inspectMessage, msgArgData, msgCaller, msgMethodName, postUpgrade, setTimer, StableBTreeMap, time, trap } from 'azle';

import { DELETE_BATCH_CHUNKS } from '../../shared/constants';
import { bytesSerializer, candidSerializer, idIndexKey, idIndexPieceKey, u64Key, u8Key } from '../../shared/stable';
import { candidQuery, candidUpdate } from '../runtime/endpoints';
import { decodeCandid } from '../../shared/candid_codec';
import { bucketMethods as b } from '../../shared/idl';
import { AssetMeta as AssetMetaRecord, BucketInitArgs } from '../../shared/types';
import type {
    AssetMeta,
    BucketStats,
    HttpRequest,
    HttpResponse,
    DeleteProgress,
    HashChunkResult,
    SessionActivity,
    UploadStatus,
    BucketInitArgs as InitArgsT,
    CommitSessionArgs as CommitArgsT,
    HashChunkArgs as HashArgsT,
    OpenSessionArgs as OpenArgsT,
    Result as ResultT,
    VerificationPlan,
    VerifyProgress
} from '../../shared/types';
import { commitWithMeta, forgetMeta, putAssetMeta, setUrlSecret } from './assets';
import * as certify from './certify';
import { httpRequest } from './http';
import { inspectBucketMessage } from './inspect';
import * as logic from './logic';
import { BucketMemory } from './memory';
import { type BucketSession, BucketSessionRecord, type BucketState, type Env } from './state';
import * as verify from './verify';

/** Set only in the test build `bucket_faulty`: makes c2c_hash_chunk trap, to test failures mid-finish. */
const FAULT = process.env.SILO_FAULT_INJECTION ?? '';

const state: BucketState = {
    meta: new StableBTreeMap<number, Uint8Array>(BucketMemory.meta, u8Key, bytesSerializer),
    sessions: new StableBTreeMap<bigint, BucketSession>(BucketMemory.sessions, u64Key, candidSerializer(BucketSessionRecord)),
    chunks: new StableBTreeMap<[bigint, number], Uint8Array>(BucketMemory.chunks, idIndexKey, bytesSerializer),
    pieces: new StableBTreeMap<[bigint, number, number], Uint8Array>(BucketMemory.pieces, idIndexPieceKey, bytesSerializer),
    presence: new StableBTreeMap<[bigint, number], Uint8Array>(BucketMemory.presence, idIndexKey, bytesSerializer),
    assets: new StableBTreeMap<bigint, AssetMeta>(BucketMemory.assetMeta, u64Key, candidSerializer(AssetMetaRecord)),
    certNodes: new StableBTreeMap<[bigint, number], Uint8Array>(BucketMemory.certNodes, idIndexKey, bytesSerializer),
    digests: new StableBTreeMap<[bigint, number], Uint8Array>(BucketMemory.chunkDigests, idIndexKey, bytesSerializer),
    certJobs: new StableBTreeMap<bigint, Uint8Array>(BucketMemory.certJobs, u64Key, bytesSerializer)
};

/** Publishes the certification tree's root, and keeps a timer running while certification work is queued. */
let certTimer = false;
function certified(): void {
    certifiedDataSet(certify.certification(state).rootHash());
    if (certTimer || !certify.pending(state)) return;
    certTimer = true;
    setTimer(0, () => {
        certTimer = false;
        certify.step(state);
        certified();
    });
}

const verification: verify.VerifyState = {
    plans: new StableBTreeMap<bigint, verify.PlanRecord>(BucketMemory.plans, u64Key, candidSerializer(verify.PlanRecord)),
    checkpoints: new StableBTreeMap<[bigint, number], Uint8Array>(BucketMemory.checkpoints, idIndexKey, bytesSerializer)
};

const verifyPorts: verify.VerifyPorts = {
    call: (verifier, method, arg) => call(verifier, method, { raw: true, args: arg }),
    schedule: (seconds, run) => void setTimer(seconds, run)
};

function env(): Env {
    return { caller: msgCaller(), now: time() };
}

/** c2c_* methods answer only the index; anyone else gets Unauthorized. */
function fromIndex<T>(method: string, run: () => ResultT<T>): ResultT<T> {
    if (msgCaller().toText() !== logic.indexPrincipal(state).toText()) {
        return { Err: { Unauthorized: `${method} may be called only by the index canister` } };
    }
    return run();
}

export default class {
    @init([BucketInitArgs])
    init(args: InitArgsT): void {
        logic.initialize(state, args.index);
        certify.setUpCertification(state);
        certified();
    }

    /** Takes the init argument too (Azle requires it); the index of a bucket never changes. */
    @postUpgrade([BucketInitArgs])
    postUpgrade(args: InitArgsT): void {
        const refusal = logic.checkLayout(state) ?? logic.checkIndex(state, args.index);
        if (refusal !== null) trap(refusal);
        // The tree is in stable memory: only the fixed response sets are checked (a few paths), nothing per asset.
        certify.setUpCertification(state);
        certify.startBackfill(state);
        certified();
    }

    @candidQuery(b.http_request)
    http_request(request: HttpRequest): HttpResponse {
        return httpRequest(state, { now: time(), certificate: dataCertificate() }, request);
    }

    /** Drops ingress calls that could only fail (see inspect.ts); manual: the argument is decoded only if needed. */
    @inspectMessage({ manual: true })
    inspect_message(): boolean {
        const arg = msgArgData();
        const reason = inspectBucketMessage(state, msgCaller(), msgMethodName(), arg.length, () => decodeCandid(b.put_chunk.argTypes, arg) as [bigint, number]);
        return reason === null;
    }

    @candidUpdate(b.put_chunk)
    put_chunk(sessionId: bigint, index: number, bytes: Uint8Array): ResultT<null> {
        const refused = verify.refusePut(verification, sessionId, index);
        if (refused !== null) return refused;
        const result = logic.putChunk(state, env(), sessionId, index, bytes);
        if ('Ok' in result) verify.afterPut(state, verification, verifyPorts, sessionId, index);
        return result;
    }

    @candidQuery(b.upload_status)
    upload_status(sessionId: bigint): ResultT<UploadStatus> {
        return logic.uploadStatus(state, env(), sessionId, logic.indexPrincipal(state));
    }

    @candidQuery(b.get_chunk)
    get_chunk(assetId: bigint, index: number): ResultT<Uint8Array> {
        return logic.getChunk(state, env(), assetId, index);
    }

    @candidQuery(b.stats)
    stats(): BucketStats {
        return logic.stats(state);
    }

    @candidUpdate(b.c2c_open_session)
    c2c_open_session(args: OpenArgsT): ResultT<null> {
        return fromIndex('c2c_open_session', () => logic.openSession(state, env(), args));
    }

    @candidUpdate(b.c2c_seal_session)
    c2c_seal_session(sessionId: bigint): ResultT<null> {
        return fromIndex('c2c_seal_session', () => verify.takeMismatch(state, verification, sessionId) ?? logic.sealSession(state, sessionId));
    }

    @candidUpdate(b.c2c_reopen_session)
    c2c_reopen_session(sessionId: bigint, from: number, dropChunk: boolean): ResultT<null> {
        return fromIndex('c2c_reopen_session', () => {
            const result = logic.reopenSession(state, sessionId, from, dropChunk);
            if ('Ok' in result && dropChunk) verify.unverify(verification, sessionId, from);
            return result;
        });
    }

    @candidUpdate(b.c2c_hash_chunk)
    c2c_hash_chunk(args: HashArgsT): ResultT<HashChunkResult> {
        if (FAULT === 'trap_on_hash') trap(`fault injection: c2c_hash_chunk traps (chunk ${args.index})`);
        return fromIndex('c2c_hash_chunk', () => logic.hashChunk(state, args));
    }

    @candidUpdate(b.c2c_commit_session)
    c2c_commit_session(args: CommitArgsT): ResultT<null> {
        return fromIndex('c2c_commit_session', () => {
            const result = commitWithMeta(state, args);
            if ('Ok' in result) verify.forget(verification, args.session_id);
            certified();
            return result;
        });
    }

    @candidUpdate(b.c2c_delete)
    c2c_delete(id: bigint): ResultT<DeleteProgress> {
        return fromIndex('c2c_delete', () => {
            forgetMeta(state, id);
            certified();
            verify.forget(verification, id);
            const progress = logic.deleteChunks(state, id);
            if ('Err' in progress) return progress;
            // The asset's certified responses left the tree above; their map's nodes go a batch at a time.
            const nodes = certify.destroyResponses(state, id, 4 * DELETE_BATCH_CHUNKS);
            return { Ok: { remaining: progress.Ok.remaining + nodes } };
        });
    }

    @candidUpdate(b.c2c_put_asset_meta)
    c2c_put_asset_meta(metas: AssetMeta[]): ResultT<number> {
        return fromIndex('c2c_put_asset_meta', () => {
            const result = putAssetMeta(state, metas);
            certified();
            return result;
        });
    }

    @candidUpdate(b.c2c_set_url_secret)
    c2c_set_url_secret(secret: Uint8Array): ResultT<null> {
        return fromIndex('c2c_set_url_secret', () => setUrlSecret(state, secret));
    }

    @candidUpdate(b.c2c_plan_verification)
    c2c_plan_verification(sessionId: bigint, plan: VerificationPlan): ResultT<null> {
        return fromIndex('c2c_plan_verification', () => verify.planVerification(state, verification, sessionId, plan));
    }

    @candidUpdate(b.c2c_verify_session)
    async c2c_verify_session(sessionId: bigint): Promise<ResultT<VerifyProgress>> {
        const refused = fromIndex<VerifyProgress>('c2c_verify_session', () => ({ Ok: { no_plan: null } }));
        if ('Err' in refused) return refused;
        return verify.verifySession(state, verification, verifyPorts, sessionId);
    }

    @candidQuery(b.c2c_session_activity)
    c2c_session_activity(ids: BigUint64Array): ResultT<SessionActivity[]> {
        return fromIndex('c2c_session_activity', () => ({ Ok: logic.sessionActivity(state, ids) }));
    }
}
