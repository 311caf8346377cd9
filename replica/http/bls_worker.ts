/**
 * BLS signature verification on a worker thread. One verification (a pairing, in JavaScript) takes
 * ~25 ms on an idle core, and a request signed with a canister signature (Internet Identity's) needs
 * one or more whatever its signature turns out to be worth: on the event loop, a stream of such
 * requests of a kilobyte each would hold every other client up. The worker keeps the loop free; the
 * verifications queue there instead.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { bls12_381 } = require(workerData.noble);
parentPort.on('message', ({ id, pk, sig, msg }) => {
    let ok = false;
    try {
        ok = bls12_381.verifyShortSignature(sig, msg, pk);
    } catch {
        ok = false;
    }
    parentPort.postMessage({ id, ok });
});
`;

let worker: Worker | undefined;
let next = 0;
const waiting = new Map<number, { resolve: (ok: boolean) => void; reject: (error: Error) => void }>();

function start(): Worker {
    const noble = createRequire(import.meta.url).resolve('@noble/curves/bls12-381');
    const created = new Worker(WORKER, { eval: true, workerData: { noble } });
    created.unref(); // kept alive only while a verification is pending
    created.on('message', ({ id, ok }: { id: number; ok: boolean }) => {
        waiting.get(id)?.resolve(ok);
        waiting.delete(id);
        if (waiting.size === 0) created.unref();
    });
    const fail = (error: Error) => {
        for (const { reject } of waiting.values()) reject(error);
        waiting.clear();
        if (worker === created) worker = undefined;
    };
    created.on('error', fail);
    created.on('exit', (code) => fail(new Error(`the BLS worker exited (${code})`)));
    return created;
}

/** `@dfinity/agent`'s `blsVerify` (a G1 short signature under a G2 key), computed on a worker thread. */
export function blsVerifyOffThread(pk: Uint8Array, sig: Uint8Array, msg: Uint8Array): Promise<boolean> {
    worker ??= start();
    const id = next++;
    return new Promise((resolve, reject) => {
        if (waiting.size === 0) worker!.ref();
        waiting.set(id, { resolve, reject });
        worker!.postMessage({ id, pk, sig, msg });
    });
}
