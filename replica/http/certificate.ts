/**
 * Certified state: the replica's state tree (`/canister`, `/request_status`, `/subnet`, `/time`) built
 * from the live replica, signed with the replica's BLS key, and cut into certificates that reveal the
 * requested paths, exactly as `@dfinity/agent` verifies them after `fetchRootKey()`.
 *
 * One signature certifies one state: certificates of an unchanged state within `REUSE_NS` share it
 * (the IC signs once per round, ~1 s), so bursts of reads cost one BLS signature, not one each.
 */
import { Cbor } from '@dfinity/agent';
import { lebEncode } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { concatBytes } from '../../shared/bytes';
import type { Canister } from '../canister';
import type { Replica } from '../replica';
import { readSections, SectionId, WasmReader } from '../wasm/binary';
import type { CompiledModule } from '../wasm/prepare';
import { Concat, Forest, hex, Leaf, revealPaths, type HashTree, type StateNode } from './hash_tree';
import type { ReplicaKeys } from './keys';

/** How long a signed state may be reused for an unchanged state (ns). */
const REUSE_NS = 1_000_000_000n;

const encoder = new TextEncoder();
const STATE_ROOT_SEPARATOR = Uint8Array.of(13, ...encoder.encode('ic-state-root'));

/** The canister id range this subnet certifies: every opaque canister id (8 bytes then 0x01 0x01). */
export const CANISTER_RANGE: readonly [Principal, Principal] = [
    Principal.fromUint8Array(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 1, 1)),
    Principal.fromUint8Array(Uint8Array.of(255, 255, 255, 255, 255, 255, 255, 255, 1, 1))
];

export function inCanisterRange(id: Principal): boolean {
    return CANISTER_RANGE[0].ltEq(id) && CANISTER_RANGE[1].gtEq(id);
}

/** What `/request_status/<id>` holds for a call made through the HTTP interface. */
export type RequestStatus =
    | { status: 'received' | 'processing' | 'done' }
    | { status: 'replied'; reply: Uint8Array }
    | { status: 'rejected'; rejectCode: number; rejectMessage: string; errorCode?: string };

function requestStatusNode(s: RequestStatus): Forest {
    const entries: Record<string, StateNode> = { status: new Leaf(encoder.encode(s.status)) };
    if (s.status === 'replied') entries.reply = new Leaf(s.reply);
    if (s.status === 'rejected') {
        entries.reject_code = new Leaf(lebEncode(s.rejectCode));
        entries.reject_message = new Leaf(encoder.encode(s.rejectMessage));
        if (s.errorCode !== undefined) entries.error_code = new Leaf(encoder.encode(s.errorCode));
    }
    return Forest.of(entries);
}

interface CanisterEntry {
    certified: Uint8Array;
    controllers: string;
    module: Uint8Array | null;
    node: Forest;
}

interface SignedState {
    time: bigint;
    canisters: Forest;
    requests: Concat;
    root: Forest;
    signature: Uint8Array;
}

export class StateCertifier {
    private readonly subnet: Forest;
    private readonly canisterEntries = new Map<string, CanisterEntry>();
    private canisters: Forest = new Forest([]);
    /** Request statuses in 256 parts by the first byte of the request id: a new status rehashes its part only. */
    private readonly statuses = Array.from({ length: 256 }, () => new Map<string, { id: Uint8Array; node: Forest }>());
    private readonly statusParts: (Forest | null)[] = new Array(256).fill(null);
    private requests: Concat | null = null;
    private signed: SignedState | null = null;
    /** Signatures made so far (for tests and benchmarks). */
    signatures = 0;

    constructor(
        readonly replica: Replica,
        readonly keys: ReplicaKeys
    ) {
        const ranges = Cbor.encode([[CANISTER_RANGE[0].toUint8Array(), CANISTER_RANGE[1].toUint8Array()]]);
        this.subnet = new Forest([
            [
                keys.subnetId.toUint8Array(),
                Forest.of({
                    canister_ranges: new Leaf(ranges),
                    node: new Forest([[keys.nodeId.toUint8Array(), Forest.of({ public_key: new Leaf(keys.nodeKey) })]]),
                    public_key: new Leaf(keys.rootKey)
                })
            ]
        ]);
    }

    /**
     * A certifier for `replica`, installed as its `dataCertificate` hook so that queries, whether they
     * come over HTTP or in process (an HTTP gateway calling `replica.query`), get certificates.
     */
    static attach(replica: Replica, keys: ReplicaKeys): StateCertifier {
        const certifier = new StateCertifier(replica, keys);
        replica.dataCertificate = (id) => certifier.dataCertificate(id);
        return certifier;
    }

    /** Sets (or with `null`, removes) the status of a request; the next certificate includes it. */
    setRequestStatus(requestId: Uint8Array, status: RequestStatus | null): void {
        const key = hex(requestId);
        const part = requestId[0];
        if (status === null) this.statuses[part].delete(key);
        else this.statuses[part].set(key, { id: requestId, node: requestStatusNode(status) });
        this.statusParts[part] = null;
        this.requests = null;
    }

    /**
     * A certificate (CBOR, as `read_state` returns it) revealing `paths` and `/time` of the current state.
     * `pruneNodes` hides `/subnet/<id>/node`, for read_state requests whose effective canister id is not
     * in this subnet's range.
     */
    certificate(paths: readonly (readonly Uint8Array[])[], pruneNodes = false): Uint8Array {
        const state = this.current();
        let reveal = revealPaths([...paths, [encoder.encode('time')]]);
        if (pruneNodes) reveal = this.withoutNodes(reveal);
        const tree: HashTree = state.root.witness(reveal);
        return Cbor.encode({ tree, signature: state.signature });
    }

    /** The certificate `ic0.data_certificate_copy` gives a query of `canisterId`: its certified data and the time. */
    dataCertificate(canisterId: Principal): Uint8Array {
        return this.certificate([[encoder.encode('canister'), canisterId.toUint8Array(), encoder.encode('certified_data')]]);
    }

    /** The signed current state: reused while nothing changed and it is recent, else rebuilt and signed. */
    private current(): SignedState {
        const canisters = this.canisterForest();
        const requests = (this.requests ??= this.requestForest());
        const now = this.replica.time;
        const previous = this.signed;
        if (previous !== null && previous.canisters === canisters && previous.requests === requests && now - previous.time < REUSE_NS) return previous;
        const root = Forest.of({ canister: canisters, request_status: requests, subnet: this.subnet, time: new Leaf(lebEncode(now)) });
        const signature = this.keys.signBls(concatBytes([STATE_ROOT_SEPARATOR, root.hash]));
        this.signatures += 1;
        this.signed = { time: now, canisters, requests, root, signature };
        return this.signed;
    }

    private requestForest(): Concat {
        const parts: Forest[] = [];
        for (let part = 0; part < 256; part++) {
            if (this.statuses[part].size === 0) continue;
            parts.push((this.statusParts[part] ??= new Forest([...this.statuses[part].values()].map((s) => [s.id, s.node]))));
        }
        return new Concat(parts);
    }

    /** `/canister`, rebuilt only when some canister's certified data, controllers or module changed. */
    private canisterForest(): Forest {
        let changed = this.canisterEntries.size !== this.replica.canisters.size;
        for (const [id, canister] of this.replica.canisters) {
            const entry = this.canisterEntries.get(id);
            if (entry !== undefined && entry.certified === canister.certifiedData && entry.module === moduleHash(canister) && entry.controllers === controllersKey(canister)) continue;
            this.canisterEntries.set(id, canisterEntry(canister));
            changed = true;
        }
        if (!changed) return this.canisters;
        for (const id of [...this.canisterEntries.keys()]) if (!this.replica.canisters.has(id)) this.canisterEntries.delete(id);
        this.canisters = new Forest([...this.canisterEntries].map(([id, e]) => [Principal.fromText(id).toUint8Array(), e.node]));
        return this.canisters;
    }

    private withoutNodes(reveal: ReturnType<typeof revealPaths>): ReturnType<typeof revealPaths> {
        const subnetLabel = encoder.encode('subnet');
        const sid = this.keys.subnetId.toUint8Array();
        const only = (labels: string[]) => new Map(labels.map((l) => [hex(encoder.encode(l)), { label: encoder.encode(l), below: true as const }]));
        const root = reveal === true ? new Map([[hex(subnetLabel), { label: subnetLabel, below: true as ReturnType<typeof revealPaths> }]]) : reveal;
        const subnet = root.get(hex(subnetLabel));
        if (subnet === undefined) return root;
        if (subnet.below === true) subnet.below = new Map([[hex(sid), { label: sid, below: only(['canister_ranges', 'public_key']) }]]);
        const ours = subnet.below.get(hex(sid));
        if (ours !== undefined) {
            if (ours.below === true) ours.below = only(['canister_ranges', 'public_key']);
            else ours.below.delete(hex(encoder.encode('node')));
        }
        return root;
    }
}

function moduleHash(canister: Canister): Uint8Array | null {
    return canister.module?.moduleHash ?? null;
}

function controllersKey(canister: Canister): string {
    return canister.controllers.map((c) => c.toText()).join(',');
}

/** A module's `icp:public <name>` and `icp:private <name>` custom sections, by name. */
export interface MetadataSection {
    content: Uint8Array;
    visibility: 'public' | 'private';
}

const metadataCache = new WeakMap<CompiledModule, Map<string, MetadataSection>>();

export function canisterMetadata(module: CompiledModule): Map<string, MetadataSection> {
    let metadata = metadataCache.get(module);
    if (metadata !== undefined) return metadata;
    metadata = new Map();
    for (const section of readSections(module.original)) {
        if (section.id !== SectionId.custom) continue;
        const reader = new WasmReader(section.body);
        const name = new TextDecoder().decode(reader.slice(reader.u32()));
        const match = /^icp:(public|private) (.+)$/s.exec(name);
        if (match !== null) metadata.set(match[2], { content: section.body.subarray(reader.offset), visibility: match[1] as 'public' | 'private' });
    }
    metadataCache.set(module, metadata);
    return metadata;
}

function canisterEntry(canister: Canister): CanisterEntry {
    const module = moduleHash(canister);
    const entries: Record<string, StateNode> = {
        certified_data: new Leaf(canister.certifiedData),
        controllers: new Leaf(Cbor.encode(canister.controllers.map((c) => c.toUint8Array())))
    };
    if (module !== null) entries.module_hash = new Leaf(module);
    if (canister.module !== null) {
        const metadata = canisterMetadata(canister.module);
        if (metadata.size > 0) entries.metadata = new Forest([...metadata].map(([name, section]) => [encoder.encode(name), new Leaf(section.content)]));
    }
    return { certified: canister.certifiedData, module, controllers: controllersKey(canister), node: Forest.of(entries) };
}
