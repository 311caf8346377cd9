/**
 * The IC HTTP interface (issue 11): update calls and queries per second through `@dfinity/agent` (default
 * settings: certificates and query signatures verified) against a local server on the replica, next to
 * the same calls made in process, in the same run. Sequential calls show one client's latency; calls kept
 * in flight in parallel show what the server sustains (the rounds of one turn share one BLS signature).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Actor, HttpAgent, type ActorSubclass } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';

import { PocketIc } from '../replica';
import { createIcApi } from '../replica/http';
import { MAX_CHUNK_SIZE } from '../shared/constants';
import { idlFactory, type ProbeService } from '../tests/fixtures/probe/idl';
import { probeArg, PROBE_WASM } from '../tests/replica/probe';
import { ms, table, type Log } from './report';

/** Calls per second of `count` calls made by `call`, `parallel` at a time. */
async function rate(count: number, parallel: number, call: () => Promise<unknown>): Promise<{ perSecond: number; each: number }> {
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
        Array.from({ length: parallel }, async () => {
            while (next++ < count) await call();
        })
    );
    const seconds = (performance.now() - t0) / 1000;
    return { perSecond: count / seconds, each: (seconds * 1000 * parallel) / count };
}

export async function httpBench(log: Log = console.log): Promise<void> {
    const pic = await PocketIc.create();
    await pic.setTime(Date.now());
    const { canisterId } = await pic.setupCanister<ProbeService>({ idlFactory, wasm: PROBE_WASM, arg: probeArg('bench') });
    const api = createIcApi(pic.replica);
    const server = createServer(async (req, res) => {
        if (!(await api(req, res))) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const agent = await HttpAgent.create({ host, identity: Ed25519KeyIdentity.generate(new Uint8Array(32).fill(3)), shouldFetchRootKey: true });
    const actor: ActorSubclass<ProbeService> = Actor.createActor(idlFactory, { agent, canisterId });
    const none = new Uint8Array(IDL.encode([], []));
    // Time the server spends signing certificates (BLS), to tell it from the agent's verification.
    let signingMs = 0;
    const signBls = api.keys.signBls.bind(api.keys);
    api.keys.signBls = (message) => {
        const t = performance.now();
        const signature = signBls(message);
        signingMs += performance.now() - t;
        return signature;
    };

    // Warm-up: module caches, the agent's subnet keys, noble's precomputations.
    for (let i = 0; i < 5; i++) {
        await pic.updateCall({ canisterId, method: 'inc', arg: none });
        await actor.inc();
        await actor.get();
    }

    const inProcessUpdates = await rate(100, 1, () => pic.updateCall({ canisterId, method: 'inc', arg: none }));
    const inProcessQueries = await rate(300, 1, () => pic.queryCall({ canisterId, method: 'get', arg: none }));
    const signaturesBefore = api.certifier.signatures;
    signingMs = 0;
    const httpUpdates = await rate(20, 1, () => actor.inc());
    const signaturesPerUpdate = (api.certifier.signatures - signaturesBefore) / 20;
    const signingPerUpdate = signingMs / 20;
    const httpQueries = await rate(100, 1, () => actor.get());
    const parallelBefore = api.certifier.signatures;
    const httpUpdatesParallel = await rate(32, 8, () => actor.inc());
    const parallelSignatures = (api.certifier.signatures - parallelBefore) / 32;
    const httpQueriesParallel = await rate(200, 8, () => actor.get());
    // A chunk-sized argument: what an upload's put_chunk calls carry.
    const chunk = new Uint8Array(MAX_CHUNK_SIZE).fill(7);
    const putArg = new Uint8Array(IDL.encode([IDL.Nat64, IDL.Vec(IDL.Nat8)], [1n, chunk]));
    const inProcessPuts = await rate(10, 1, () => pic.updateCall({ canisterId, method: 'put', arg: putArg }));
    const httpPuts = await rate(10, 1, () => actor.put(1n, chunk));

    server.close();
    await pic.tearDown();

    const row = (name: string, r: { perSecond: number; each: number }, base?: number) => [name, r.perSecond.toFixed(1), ms(r.each), base === undefined ? '' : `${(base / r.perSecond).toFixed(1)}x`];
    table(log, ['calls (probe inc / get)', 'per second', 'each', 'in-process / this'], [
        row('update, in process', inProcessUpdates),
        row('update, HTTP agent, 1 in flight', httpUpdates, inProcessUpdates.perSecond),
        row('update, HTTP agent, 8 in flight', httpUpdatesParallel, inProcessUpdates.perSecond),
        row('query, in process', inProcessQueries),
        row('query, HTTP agent, 1 in flight', httpQueries, inProcessQueries.perSecond),
        row('query, HTTP agent, 8 in flight', httpQueriesParallel, inProcessQueries.perSecond),
        row('1.9 MB put, in process', inProcessPuts),
        row('1.9 MB put, HTTP agent, 1 in flight', httpPuts, inProcessPuts.perSecond)
    ]);
    log(`  BLS signatures per update call: ${signaturesPerUpdate.toFixed(2)} with 1 in flight (${ms(signingPerUpdate)} of signing each), ${parallelSignatures.toFixed(2)} with 8 (one per certified state).`);
    log('  The agent verifies each update certificate (BLS, @noble/curves) and each query signature (Ed25519) in the same process.');
}
