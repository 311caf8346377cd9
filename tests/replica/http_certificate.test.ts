/**
 * Certified state: certificates the replica signs verify with `@dfinity/agent`'s own `Certificate`
 * against the replica's root key, reveal what was asked (and prove absence of what is not there), and
 * `ic0.data_certificate_copy` gives a query its canister's certified data in such a certificate.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Certificate, Cbor, lookup_path, LookupPathStatus, lookupResultToBuffer, reconstruct } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { beforeAll, describe, expect, it } from 'vitest';

import { PocketIc } from '../../replica';
import { StateCertifier } from '../../replica/http/certificate';
import { Concat, Forest, Leaf, revealPaths } from '../../replica/http/hash_tree';
import { bytes } from '../helpers/bytes';
import { ReplicaKeys } from '../../replica/http/keys';
import { CERTIFIED_WAT, wat } from './wat';

const text = (s: string) => new TextEncoder().encode(s);

describe('hash tree', () => {
    it('matches the interface specification example (root hash, pruning, absence)', async () => {
        // ─┬╴ "a" ─┬─ "x" ─╴"hello" / └╴ "y" ─╴"world"; ├╴ "b" ──╴ "good"; ├╴ "c"; └╴ "d" ──╴ "morning"
        const tree = Forest.of({
            a: Forest.of({ x: new Leaf(text('hello')), y: new Leaf(text('world')) }),
            b: new Leaf(text('good')),
            c: Forest.of({}),
            d: new Leaf(text('morning'))
        });
        const full = tree.witness(true);
        expect(Buffer.from(await reconstruct(full as never)).toString('hex')).toBe(Buffer.from(tree.hash).toString('hex'));
        const pruned = tree.witness(revealPaths([[text('a'), text('y')], [text('ax')], [text('d')]]));
        expect(Buffer.from(await reconstruct(pruned as never))).toEqual(Buffer.from(tree.hash));
        expect(lookup_path(['a', 'y'], pruned as never)).toEqual({ status: LookupPathStatus.Found, value: text('world') });
        expect(lookup_path(['ax'], pruned as never).status).toBe(LookupPathStatus.Absent);
        expect(lookup_path(['d'], pruned as never)).toEqual({ status: LookupPathStatus.Found, value: text('morning') });
        expect(lookup_path(['b'], pruned as never).status).toBe(LookupPathStatus.Unknown);
        expect(lookup_path(['e'], pruned as never).status).toBe(LookupPathStatus.Absent);
    });

    it('keeps a large map in parts: same lookups, absence proven across part boundaries', async () => {
        const labels = Array.from({ length: 300 }, (_, i) => bytes(32, i + 1));
        const byFirst = new Map<number, [Uint8Array, Leaf][]>();
        for (const l of labels) byFirst.set(l[0], [...(byFirst.get(l[0]) ?? []), [l, new Leaf(l.subarray(0, 4))]]);
        const parts = [...byFirst.keys()].sort((a, b) => a - b).map((k) => new Forest(byFirst.get(k)!));
        const map = new Concat(parts);
        const absent = [new Uint8Array(32), new Uint8Array(32).fill(255), ...Array.from({ length: 40 }, (_, i) => bytes(32, 1000 + i))];
        // Right after the last label of a part: the absence proof needs the next part's first label.
        for (const p of parts) absent.push(Uint8Array.of(...p.labels[p.size - 1].subarray(0, 31), p.labels[p.size - 1][31] + 1));
        const probes = [...labels.slice(0, 20), ...absent];
        const witness = map.witness(revealPaths(probes.map((l) => [l])));
        expect(Buffer.from(await reconstruct(witness as never))).toEqual(Buffer.from(map.hash));
        for (const l of labels.slice(0, 20)) expect(lookup_path([l], witness as never)).toEqual({ status: LookupPathStatus.Found, value: l.subarray(0, 4) });
        for (const l of absent) if (!labels.some((x) => Buffer.from(x).equals(Buffer.from(l)))) expect(lookup_path([l], witness as never).status).toBe(LookupPathStatus.Absent);
        expect(Buffer.from(await reconstruct(map.witness(true) as never))).toEqual(Buffer.from(map.hash));
    });
});

describe('certificates', () => {
    let pic: PocketIc;
    let keys: ReplicaKeys;
    let certifier: StateCertifier;
    let canisterId: Principal;

    beforeAll(async () => {
        pic = await PocketIc.create();
        keys = ReplicaKeys.generate();
        certifier = StateCertifier.attach(pic.replica, keys);
        canisterId = await pic.createCanister();
        await pic.installCode({ canisterId, wasm: await wat(CERTIFIED_WAT) });
        // Certificates carry the replica's time; agents accept only times near their clock.
        await pic.setTime(Date.now());
    });

    const verify = (certificate: Uint8Array, rootKey = keys.rootKey) =>
        Certificate.create({ certificate, rootKey, canisterId, disableTimeVerification: false });

    it('certify the time, the canister and the subnet, verified by the agent', async () => {
        const cert = await verify(
            certifier.certificate([
                [text('canister'), canisterId.toUint8Array(), text('controllers')],
                [text('canister'), canisterId.toUint8Array(), text('module_hash')],
                [text('subnet')]
            ])
        );
        const controllers = Cbor.decode<Uint8Array[]>(lookupResultToBuffer(cert.lookup_path(['canister', canisterId.toUint8Array(), 'controllers']))!);
        expect(controllers.map((c) => Principal.fromUint8Array(c).toText())).toEqual([Principal.anonymous().toText()]);
        const moduleHash = cert.lookup_path(['canister', canisterId.toUint8Array(), 'module_hash']);
        expect(lookupResultToBuffer(moduleHash)).toEqual(pic.replica.getCanister(canisterId)!.module!.moduleHash);
        const subnetKey = cert.lookup_path(['subnet', keys.subnetId.toUint8Array(), 'public_key']);
        expect(lookupResultToBuffer(subnetKey)).toEqual(keys.rootKey);
        const nodeKey = cert.lookup_path(['subnet', keys.subnetId.toUint8Array(), 'node', keys.nodeId.toUint8Array(), 'public_key']);
        expect(lookupResultToBuffer(nodeKey)).toEqual(keys.nodeKey);
        // What was not asked for is pruned, not found. (agent-js 3's label comparison is not lexicographic, so it
        // may call a pruned label Absent rather than Unknown; the Rust verifiers say Unknown.)
        expect(cert.lookup_path(['canister', canisterId.toUint8Array(), 'certified_data']).status).not.toBe(LookupPathStatus.Found);
    });

    it('fail verification when the tree, the signature or the key is not the replica’s', async () => {
        const good = certifier.certificate([[text('canister'), canisterId.toUint8Array(), text('module_hash')]]);
        const decoded = Cbor.decode<{ tree: unknown; signature: Uint8Array }>(good);
        const badSignature = new Uint8Array(decoded.signature);
        badSignature[5] ^= 1;
        await expect(verify(Cbor.encode({ tree: decoded.tree, signature: badSignature }))).rejects.toThrow();
        // Another module hash in the same tree.
        const tamper = (t: any): any => (t[0] === 3 ? [3, t[1].map((b: number, i: number) => (i === 0 ? b ^ 1 : b))] : t.map((x: any) => (Array.isArray(x) ? tamper(x) : x)));
        await expect(verify(Cbor.encode({ tree: tamper(decoded.tree), signature: decoded.signature }))).rejects.toThrow(/signature/i);
        await expect(verify(good, ReplicaKeys.generate().rootKey)).rejects.toThrow(/signature/i);
    });

    it('give queries their certified data through ic0.data_certificate_copy, and nothing to updates', async () => {
        await pic.updateCall({ canisterId, method: 'set', arg: text('certified!') });
        const raw = await pic.queryCall({ canisterId, method: 'cert' });
        const cert = await verify(raw);
        expect(lookupResultToBuffer(cert.lookup_path(['canister', canisterId.toUint8Array(), 'certified_data']))).toEqual(text('certified!'));
        // In replicated mode (a query called as an update) no certificate is present.
        expect(await pic.updateCall({ canisterId, method: 'cert' })).toEqual(new Uint8Array());
        // Without a certifier, the replica certifies nothing.
        pic.replica.dataCertificate = null;
        expect(await pic.queryCall({ canisterId, method: 'cert' })).toEqual(new Uint8Array());
        pic.replica.dataCertificate = (id) => certifier.dataCertificate(id);
    });

    it('sign an unchanged state once and a changed state again', async () => {
        const before = certifier.signatures;
        certifier.certificate([]);
        certifier.certificate([]);
        expect(certifier.signatures - before).toBeLessThanOrEqual(1);
        await pic.updateCall({ canisterId, method: 'set', arg: text('again') });
        const after = certifier.signatures;
        const cert = await verify(certifier.dataCertificate(canisterId));
        expect(certifier.signatures).toBe(after + 1);
        expect(lookupResultToBuffer(cert.lookup_path(['canister', canisterId.toUint8Array(), 'certified_data']))).toEqual(text('again'));
    });

    it('keep the replica keys in the state directory', () => {
        const dir = mkdtempSync(join(tmpdir(), 'silo-keys-'));
        const first = ReplicaKeys.load(dir);
        const second = ReplicaKeys.load(dir);
        expect(second.rootKey).toEqual(first.rootKey);
        expect(second.nodeKey).toEqual(first.nodeKey);
        expect(ReplicaKeys.load(mkdtempSync(join(tmpdir(), 'silo-keys-'))).rootKey).not.toEqual(first.rootKey);
    });
});
