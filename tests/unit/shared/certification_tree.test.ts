/**
 * The stable Merkle maps (shared/certification/tree.ts) and the HTTP certification layout built on them
 * (shared/certification/http.ts), checked against independent code: @dfinity/agent reconstructs and looks
 * up the witnesses with the IC's hash-tree rules, and @dfinity/response-verification verifies responses
 * certified with a BLS-signed certificate of the in-process replica's state.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

import { type HashTree as AgentTree, lookup_path, LookupPathStatus, reconstruct } from '@dfinity/agent';
import { decode } from '@dfinity/cbor';
import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import { ReplicaKeys, StateCertifier } from '../../../replica/http';
import { encodeTree, type HashTree, treeHash } from '../../../shared/certification';
import { assetLabel, certificateHeaders, exprPath, HttpCertification, responseHash, type Target } from '../../../shared/certification/http';
import { leafHash, MerkleMap, type NodeStore } from '../../../shared/certification/tree';
import { bytesSerializer, idIndexKey, MemoryMap } from '../../../shared/stable';

const verifier = createRequire(import.meta.url)('@dfinity/response-verification') as typeof import('@dfinity/response-verification');
const utf8 = (s: string) => new TextEncoder().encode(s);
const sha = (b: Uint8Array | string) => new Uint8Array(createHash('sha256').update(b).digest());
const store = (): NodeStore => new MemoryMap(idIndexKey, bytesSerializer);
const agentTree = (tree: HashTree) => decode(encodeTree(tree)) as AgentTree;

/** A seeded generator, so the random label sets are the same on every run. */
function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
        s = (s * 1664525 + 1013904223) >>> 0;
        return s;
    };
}

/**
 * The interface specification's label lookup in a witness (as the replica's and response-verification's
 * Rust code do it; the agent's JavaScript compares labels bytewise wrongly, so it is not used for absence).
 */
function lookupLabel(tree: HashTree, label: Uint8Array): 'found' | 'absent' | 'unknown' | 'less' | 'greater' {
    switch (tree.kind) {
        case 'labeled': {
            const c = Buffer.compare(Buffer.from(label), Buffer.from(tree.label));
            return c === 0 ? 'found' : c > 0 ? 'greater' : 'less';
        }
        case 'fork': {
            const left = lookupLabel(tree.left, label);
            if (left === 'greater' || left === 'unknown') {
                const right = lookupLabel(tree.right, label);
                return right === 'less' ? (left === 'greater' ? 'absent' : 'unknown') : right;
            }
            return left;
        }
        case 'pruned':
            return 'unknown';
        default:
            return 'absent';
    }
}
const absentAtTop = (r: ReturnType<typeof lookupLabel>) => (r === 'less' || r === 'greater' ? 'absent' : r);

describe('Merkle map', () => {
    it('keeps its labels sorted and every label found, whatever the insertion order, through removals', async () => {
        const next = rng(7);
        const map = new MerkleMap(store(), 5n);
        const labels = new Map<string, Uint8Array>();
        for (let i = 0; i < 400; i++) {
            const label = i % 3 === 0 ? utf8(String(next() % 100_000)) : sha(String(next()));
            const sub = sha(`sub ${i}`);
            map.set(label, leafHash(sub));
            labels.set(Buffer.from(label).toString('hex'), sub);
        }
        let removed = 0;
        for (const key of [...labels.keys()].filter((_, i) => i % 4 === 0)) {
            expect(map.remove(Buffer.from(key, 'hex'))).toBe(true);
            labels.delete(key);
            removed++;
        }
        expect(removed).toBeGreaterThan(50);
        expect(map.size()).toBe(labels.size);
        expect(map.remove(utf8('not there'))).toBe(false);
        for (const [key, sub] of labels) {
            const label = new Uint8Array(Buffer.from(key, 'hex'));
            expect(map.get(label)).toEqual(leafHash(sub));
            const witness = map.witness([{ label, sub: { kind: 'leaf', value: sub } }]);
            // The witness reconstructs to the map's root, and the agent finds the label in it.
            expect(Buffer.from(await reconstruct(agentTree(witness)))).toEqual(Buffer.from(map.rootHash()!));
            const found = lookup_path([label], agentTree(witness));
            expect(found.status).toBe(LookupPathStatus.Found);
            expect(Buffer.from((found as { value: Uint8Array }).value)).toEqual(Buffer.from(sub));
        }
    });

    it('proves absence: a missing label between, before and after the present ones looks up Absent', async () => {
        const map = new MerkleMap(store(), 1n);
        for (const id of [1, 2, 3, 10, 11, 20, 100, 1000, 7, 70, 700]) map.set(utf8(String(id)), sha(String(id)));
        map.set(utf8('<*>'), sha('wild'));
        for (const missing of ['0', '12', '15', '5', '71', '701', '8', '9999', '<$>', '', 'zzz', '1000000', '01']) {
            const label = utf8(missing);
            const witness = map.witness([], [label]);
            expect(Buffer.from(await reconstruct(agentTree(witness)))).toEqual(Buffer.from(map.rootHash()!));
            expect(absentAtTop(lookupLabel(witness, label)), missing).toBe('absent');
        }
    });

    it('an update rewrites one path: a thousand labels cost a few dozen node writes', () => {
        const inner = store();
        let writes = 0;
        const counting: NodeStore = Object.assign(Object.create(inner), { insert: (k: [bigint, number], v: Uint8Array) => (writes++, inner.insert(k, v)) });
        const map = new MerkleMap(counting, 9n);
        for (let i = 1; i <= 1000; i++) map.set(utf8(String(i)), sha(String(i)));
        writes = 0;
        map.set(utf8('1001'), sha('x'));
        expect(writes).toBeLessThan(40);
        expect(map.depth()).toBeLessThan(30);
    });

    it('destroy removes every node in bounded batches', () => {
        const nodes = store();
        const map = new MerkleMap(nodes, 3n);
        for (let i = 0; i < 100; i++) map.set(sha(String(i)), sha('v'));
        const other = new MerkleMap(nodes, 4n);
        other.set(utf8('keep'), sha('k'));
        let left = map.destroy(50);
        expect(left).toBeGreaterThan(0);
        while (left > 0) left = map.destroy(50);
        expect(nodes.len()).toBe(2); // the other map's header and leaf
        expect(other.get(utf8('keep'))).toEqual(sha('k'));
    });
});

// ---------------------------------------------------------------- the HTTP layout, end to end

const canister = Principal.fromText('rrkah-fqaaa-aaaaa-aaaaq-cai');
const keys = ReplicaKeys.generate();

function certificateFor(data: Uint8Array, time: bigint): Uint8Array {
    const replica = { time, canisters: new Map([[canister.toText(), { certifiedData: data, module: null, controllers: [] }]]) };
    return new StateCertifier(replica as never, keys).dataCertificate(canister);
}

interface Resp {
    status: number;
    headers: [string, string][];
    body: Uint8Array;
}

function certify(cert: HttpCertification, target: Target, response: Resp, time: bigint): Resp {
    const hash = responseHash(response.status, response.headers, sha(response.body));
    const headers = certificateHeaders(certificateFor(cert.rootHash(), time), () => cert.witness(target, hash), exprPath(target));
    return { ...response, headers: [...response.headers, ...headers] };
}

function verify(path: string, response: Resp, time: bigint) {
    return verifier.verifyRequestResponsePair(
        { method: 'GET', url: path, headers: [], body: new Uint8Array(), certificate_version: 2 } as never,
        { status_code: response.status, headers: response.headers, body: response.body },
        canister.toUint8Array(),
        time,
        BigInt(5 * 60) * 1_000_000_000n,
        keys.rootKey,
        2
    );
}

describe('HTTP certification layout', () => {
    const time = 1_700_000_000_000_000_000n;
    const notFound: Resp = { status: 404, headers: [['Content-Type', 'text/plain']], body: utf8('not found\n') };
    const unknown: Resp = { status: 404, headers: [['Content-Type', 'text/plain']], body: utf8('no such asset\n') };
    const chunk = (i: number): Resp => ({
        status: 206,
        headers: [['Content-Type', 'video/mp4'], ['Content-Range', `bytes ${i * 4}-${i * 4 + 3}/40`], ['Content-Length', '4'], ['ETag', '"e"'], ['Content-Disposition', 'inline']],
        body: Uint8Array.of(i, i, i, i)
    });

    function setUp(): HttpCertification {
        const cert = new HttpCertification(store());
        cert.setFixed([responseHash(404, notFound.headers, sha(notFound.body))], [responseHash(404, unknown.headers, sha(unknown.body))]);
        for (const id of [1n, 2n, 10n, 33n]) {
            for (let i = 0; i < 10; i++) {
                const r = chunk(i);
                cert.addResponse(id, responseHash(r.status, r.headers, sha(r.body)));
            }
            cert.publish(id);
        }
        return cert;
    }

    it('every chunk of a published asset verifies at /a/<id> and /a/<id>/<name>, with the body covered', () => {
        const cert = setUp();
        for (const [path, exact] of [['/a/10', true], ['/a/10/clip.mp4', false], ['/a/10/', false]] as const) {
            for (const i of [0, 5, 9]) {
                const response = certify(cert, { kind: 'asset', id: 10n, exact }, chunk(i), time);
                const info = verify(path, response, time);
                expect(info.verificationVersion).toBe(2);
                expect(info.response?.statusCode).toBe(206);
                // Every header is certified (a gateway answers with the certified ones only).
                const certified = info.response!.headers.map(([n]) => n.toLowerCase());
                expect(certified).toEqual(expect.arrayContaining(['content-range', 'content-disposition', 'etag', 'content-type', 'ic-certificate']));
            }
        }
    });

    it('a flipped body byte, another status, a changed or an added header fails', () => {
        const cert = setUp();
        const good = certify(cert, { kind: 'asset', id: 2n, exact: false }, chunk(3), time);
        const body = good.body.slice();
        body[1] ^= 1;
        expect(() => verify('/a/2/x', { ...good, body }, time)).toThrow();
        expect(() => verify('/a/2/x', { ...good, status: 200 }, time)).toThrow();
        expect(() => verify('/a/2/x', { ...good, headers: good.headers.map(([n, v]) => [n, n === 'Content-Range' ? 'bytes 0-3/40' : v] as [string, string]) }, time)).toThrow();
        expect(() => verify('/a/2/x', { ...good, headers: good.headers.map(([n, v]) => [n, n === 'Content-Disposition' ? 'attachment' : v] as [string, string]) }, time)).toThrow();
        expect(() => verify('/a/2/x', { ...good, headers: [...good.headers, ['Location', 'https://evil.example/']] }, time)).toThrow();
        expect(() => verify('/a/2/x', good, time)).not.toThrow();
        // Asset 2's response is not asset 1's, nor at another path.
        expect(() => verify('/a/1/x', good, time)).toThrow();
    });

    it('unknown ids answer from /a/<*> with a proof of absence; other paths from /<*>', () => {
        const cert = setUp();
        for (const path of ['/a/3', '/a/0', '/a/100/x.bin', '/a/99999999999999999999', '/a/1x']) {
            const segment = utf8(decodeURIComponent(path.split('/')[2]));
            const response = certify(cert, { kind: 'unknown', absent: [segment, new Uint8Array()] }, unknown, time);
            expect(verify(path, response, time).response?.statusCode, path).toBe(404);
        }
        expect(verify('/a', certify(cert, { kind: 'unknown', absent: [utf8('<$>')] }, unknown, time), time).response?.statusCode).toBe(404);
        expect(verify('/a/', certify(cert, { kind: 'unknown', absent: [new Uint8Array()] }, unknown, time), time).response?.statusCode).toBe(404);
        for (const path of ['/', '/favicon.ico', '/b/1', '/zzz']) {
            expect(verify(path, certify(cert, { kind: 'global' }, notFound, time), time).response?.statusCode, path).toBe(404);
        }
        // A published asset cannot be denied with the unknown-id 404: its path is in the tree.
        expect(() => verify('/a/10', certify(cert, { kind: 'unknown', absent: [utf8('10'), new Uint8Array()] }, unknown, time), time)).toThrow();
    });

    it('unpublishing takes the asset out in one path: its responses no longer verify', () => {
        const cert = setUp();
        const before = cert.rootHash();
        expect(cert.unpublish(33n)).toBe(true);
        expect(cert.isPublished(33n)).toBe(false);
        expect(Buffer.from(cert.rootHash())).not.toEqual(Buffer.from(before));
        const hash = responseHash(206, chunk(0).headers, sha(chunk(0).body));
        expect(() => cert.witness({ kind: 'asset', id: 33n, exact: true }, hash)).toThrow(/not in Merkle map/);
        expect(verify('/a/33', certify(cert, { kind: 'unknown', absent: [assetLabel(33n), new Uint8Array()] }, unknown, time), time).response?.statusCode).toBe(404);
        expect(treeHash(cert.witness({ kind: 'global' }, responseHash(404, notFound.headers, sha(notFound.body))))).toEqual(cert.rootHash());
    });
});
