/**
 * A Merkle map kept in a stable map: a crit-bit (PATRICIA) tree over byte-string labels of at most 32
 * bytes, each leaf `labeled(label, <subtree>)` and each inner node a `fork`. In-order its leaves are sorted
 * by label, so the tree *is* an IC hash tree's labeled level (interface specification, "Certification"):
 * its root hash is what the labeled level reduces to, and a witness for one label is that label's path
 * with every other branch pruned — a path as long as the tree is deep, ~log2(n) + 2 for n labels.
 *
 * Inner nodes store both children's ids and hashes, so an insert, an update or a removal reads and writes
 * the nodes on one path and computes as many hashes (never O(n)), and a witness reads one path (two for a
 * proof of absence: the neighbours on either side of the missing label).
 *
 * Several maps share one store: a map is a namespace (u64), its nodes keys `(namespace, node id)`; node 0
 * is the map's header (root id, next id, count, root hash). Node ids are not reused; `destroy` removes a
 * map's nodes a bounded batch at a time.
 */
import { concatBytes } from '../bytes';
import { sha256 } from '../sha256';
import type { KvMap } from '../stable';
import { readU32, writeU32 } from '../stable';
import type { HashTree } from '../certification';

export type NodeStore = KvMap<[bigint, number], Uint8Array>;

/** Longest label a map holds (a response hash; asset ids are at most 20 digits). */
export const MAX_LABEL_BYTES = 32;

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const domain = (name: string): Uint8Array => concatBytes([Uint8Array.of(name.length), utf8(name)]);
const FORK = domain('ic-hashtree-fork');
const LABELED = domain('ic-hashtree-labeled');
const LEAF = domain('ic-hashtree-leaf');

export const forkHash = (left: Uint8Array, right: Uint8Array): Uint8Array => sha256(concatBytes([FORK, left, right]));
export const labeledHash = (label: Uint8Array, sub: Uint8Array): Uint8Array => sha256(concatBytes([LABELED, label, sub]));
export const leafHash = (value: Uint8Array): Uint8Array => sha256(concatBytes([LEAF, value]));

interface Header {
    root: number;
    next: number;
    count: number;
    rootHash: Uint8Array;
    /** While destroying: nodes below this id are gone. */
    cleared: number;
}

interface LeafNode {
    kind: 'leaf';
    label: Uint8Array;
    /** The label padded with zero bytes to 32 (labels hold no trailing zero bytes that matter: see `padded`). */
    key: Uint8Array;
    sub: Uint8Array;
}

interface ForkNode {
    kind: 'fork';
    bit: number;
    ids: [number, number];
    hashes: [Uint8Array, Uint8Array];
}

type TreeNode = LeafNode | ForkNode;

function padded(label: Uint8Array): Uint8Array {
    const key = new Uint8Array(MAX_LABEL_BYTES);
    key.set(label.subarray(0, MAX_LABEL_BYTES));
    return key;
}

const bitAt = (key: Uint8Array, bit: number): 0 | 1 => ((key[bit >> 3] >> (7 - (bit & 7))) & 1) as 0 | 1;

/** The first bit where the keys differ, or -1 when they are equal. */
function critBit(a: Uint8Array, b: Uint8Array): number {
    for (let i = 0; i < MAX_LABEL_BYTES; i++) {
        const x = a[i] ^ b[i];
        if (x !== 0) return i * 8 + Math.clz32(x) - 24;
    }
    return -1;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

function encodeNode(node: TreeNode): Uint8Array {
    if (node.kind === 'leaf') {
        const out = new Uint8Array(2 + node.label.length + 32);
        out[0] = 1;
        out[1] = node.label.length;
        out.set(node.label, 2);
        out.set(node.sub, 2 + node.label.length);
        return out;
    }
    const out = new Uint8Array(3 + 2 * 36);
    out[0] = 2;
    out[1] = node.bit >> 8;
    out[2] = node.bit & 0xff;
    for (let c = 0; c < 2; c++) {
        writeU32(out, 3 + c * 36, node.ids[c]);
        out.set(node.hashes[c], 7 + c * 36);
    }
    return out;
}

function decodeNode(bytes: Uint8Array): TreeNode {
    if (bytes[0] === 1) {
        const label = bytes.slice(2, 2 + bytes[1]);
        return { kind: 'leaf', label, key: padded(label), sub: bytes.slice(2 + bytes[1], 34 + bytes[1]) };
    }
    return {
        kind: 'fork',
        bit: (bytes[1] << 8) | bytes[2],
        ids: [readU32(bytes, 3), readU32(bytes, 39)],
        hashes: [bytes.slice(7, 39), bytes.slice(43, 75)]
    };
}

const nodeHash = (node: TreeNode): Uint8Array => (node.kind === 'leaf' ? labeledHash(node.label, node.sub) : forkHash(node.hashes[0], node.hashes[1]));

/** What to reveal under a label a witness shows: its subtree (a witness of it), or only its hash (pruned). */
export type Reveal = HashTree | 'pruned';

export class MerkleMap {
    constructor(
        private readonly store: NodeStore,
        readonly namespace: bigint
    ) {}

    private header(): Header {
        const bytes = this.store.get([this.namespace, 0]);
        if (bytes === undefined) return { root: 0, next: 1, count: 0, rootHash: new Uint8Array(32), cleared: 0 };
        return { root: readU32(bytes, 0), next: readU32(bytes, 4), count: readU32(bytes, 8), cleared: readU32(bytes, 12), rootHash: bytes.slice(16, 48) };
    }

    private saveHeader(header: Header): void {
        const out = new Uint8Array(48);
        writeU32(out, 0, header.root);
        writeU32(out, 4, header.next);
        writeU32(out, 8, header.count);
        writeU32(out, 12, header.cleared);
        out.set(header.rootHash, 16);
        this.store.insert([this.namespace, 0], out);
    }

    private node(id: number): TreeNode {
        const bytes = this.store.get([this.namespace, id]);
        if (bytes === undefined) throw new Error(`invariant broken: Merkle map ${this.namespace} has no node ${id}`);
        return decodeNode(bytes);
    }

    private save(id: number, node: TreeNode): void {
        this.store.insert([this.namespace, id], encodeNode(node));
    }

    /** The hash of the fork tree of all labels, or null when the map is empty (an empty level has no fork tree). */
    rootHash(): Uint8Array | null {
        const header = this.header();
        return header.root === 0 ? null : header.rootHash;
    }

    size(): number {
        return this.header().count;
    }

    /** The nodes from the root towards `key`: the forks passed (with the direction taken) and the leaf reached. */
    private descend(header: Header, key: Uint8Array): { ids: number[]; forks: ForkNode[]; dirs: (0 | 1)[]; leafId: number; leaf: LeafNode } {
        const ids: number[] = [];
        const forks: ForkNode[] = [];
        const dirs: (0 | 1)[] = [];
        let id = header.root;
        let node = this.node(id);
        while (node.kind === 'fork') {
            const dir = bitAt(key, node.bit);
            ids.push(id);
            forks.push(node);
            dirs.push(dir);
            id = node.ids[dir];
            node = this.node(id);
        }
        return { ids, forks, dirs, leafId: id, leaf: node };
    }

    /** Rewrites the forks on a path bottom-up with a new child at its end, and the header with the new root. */
    private propagate(header: Header, ids: number[], forks: ForkNode[], dirs: (0 | 1)[], childId: number, childHash: Uint8Array): void {
        for (let j = forks.length - 1; j >= 0; j--) {
            forks[j].ids[dirs[j]] = childId;
            forks[j].hashes[dirs[j]] = childHash;
            this.save(ids[j], forks[j]);
            childId = ids[j];
            childHash = nodeHash(forks[j]);
        }
        header.root = childId;
        header.rootHash = childHash;
        this.saveHeader(header);
    }

    get(label: Uint8Array): Uint8Array | undefined {
        const header = this.header();
        if (header.root === 0) return undefined;
        const { leaf } = this.descend(header, padded(label));
        return same(leaf.label, label) ? leaf.sub : undefined;
    }

    /** Sets the subtree hash under `label` (inserting the label or replacing its subtree). */
    set(label: Uint8Array, sub: Uint8Array): void {
        if (label.length > MAX_LABEL_BYTES || label.length === 0) throw new Error(`a Merkle map label has 1 to ${MAX_LABEL_BYTES} bytes, not ${label.length}`);
        // Shorter labels are compared zero-padded: a trailing zero would make two labels one key.
        if (label.length < MAX_LABEL_BYTES && label[label.length - 1] === 0) throw new Error('a Merkle map label shorter than 32 bytes may not end with a zero byte');
        const header = this.header();
        const leaf: LeafNode = { kind: 'leaf', label: label.slice(), key: padded(label), sub: sub.slice() };
        if (header.root === 0) {
            const id = header.next++;
            this.save(id, leaf);
            header.count = 1;
            this.propagate(header, [], [], [], id, nodeHash(leaf));
            return;
        }
        const path = this.descend(header, leaf.key);
        const crit = critBit(leaf.key, path.leaf.key);
        if (crit < 0) {
            this.save(path.leafId, leaf);
            this.propagate(header, path.ids, path.forks, path.dirs, path.leafId, nodeHash(leaf));
            return;
        }
        // The new fork goes above the first node of the path that tests a later bit than `crit`.
        let k = path.forks.findIndex((f) => f.bit > crit);
        if (k < 0) k = path.forks.length;
        const siblingId = k < path.ids.length ? path.ids[k] : path.leafId;
        const siblingHash = k === 0 ? header.rootHash : path.forks[k - 1].hashes[path.dirs[k - 1]];
        const leafId = header.next++;
        const forkId = header.next++;
        const dir = bitAt(leaf.key, crit);
        const leafH = nodeHash(leaf);
        const fork: ForkNode = {
            kind: 'fork',
            bit: crit,
            ids: dir === 1 ? [siblingId, leafId] : [leafId, siblingId],
            hashes: dir === 1 ? [siblingHash, leafH] : [leafH, siblingHash]
        };
        this.save(leafId, leaf);
        this.save(forkId, fork);
        header.count += 1;
        this.propagate(header, path.ids.slice(0, k), path.forks.slice(0, k), path.dirs.slice(0, k), forkId, nodeHash(fork));
    }

    /** Removes a label; false when it was not there. */
    remove(label: Uint8Array): boolean {
        const header = this.header();
        if (header.root === 0 || label.length > MAX_LABEL_BYTES) return false;
        const path = this.descend(header, padded(label));
        if (!same(path.leaf.label, label)) return false;
        this.store.remove([this.namespace, path.leafId]);
        header.count -= 1;
        if (path.forks.length === 0) {
            header.root = 0;
            header.rootHash = new Uint8Array(32);
            this.saveHeader(header);
            return true;
        }
        const last = path.forks.length - 1;
        const parent = path.forks[last];
        const other = (1 - path.dirs[last]) as 0 | 1;
        this.store.remove([this.namespace, path.ids[last]]);
        this.propagate(header, path.ids.slice(0, last), path.forks.slice(0, last), path.dirs.slice(0, last), parent.ids[other], parent.hashes[other]);
        return true;
    }

    /**
     * Removes up to `budget` nodes of the map (after which the map must not be used); returns how many
     * node ids are left to clear (0 when the map is gone).
     */
    destroy(budget: number): number {
        const bytes = this.store.get([this.namespace, 0]);
        if (bytes === undefined) return 0;
        const header = this.header();
        let id = Math.max(header.cleared, 1);
        for (const end = Math.min(header.next, id + budget); id < end; id++) this.store.remove([this.namespace, id]);
        if (id >= header.next) {
            this.store.remove([this.namespace, 0]);
            return 0;
        }
        header.cleared = id;
        this.saveHeader(header);
        return header.next - id;
    }

    /** Directions from node `id` to its leftmost (0) or rightmost (1) leaf. */
    private edge(id: number, side: 0 | 1, prefix: (0 | 1)[]): (0 | 1)[] {
        const dirs = [...prefix];
        for (let node = this.node(id); node.kind === 'fork'; node = this.node(node.ids[side])) dirs.push(side);
        return dirs;
    }

    /**
     * A witness of the map: the paths to the `present` labels, each with its subtree as given, and proofs
     * that the `absent` labels are not there (their neighbours' labels, subtrees pruned); all else pruned.
     * The map must not be empty. A label asked as absent that is present is revealed (pruned below).
     */
    witness(present: { label: Uint8Array; sub: Reveal }[], absent: Uint8Array[] = []): HashTree {
        const header = this.header();
        if (header.root === 0) throw new Error('invariant broken: a witness of an empty Merkle map');
        const reveals: { dirs: (0 | 1)[]; sub: Reveal }[] = [];
        for (const { label, sub } of present) {
            const path = this.descend(header, padded(label));
            if (!same(path.leaf.label, label)) throw new Error(`invariant broken: label ${new TextDecoder().decode(label)} is not in Merkle map ${this.namespace}`);
            reveals.push({ dirs: path.dirs, sub });
        }
        for (const label of absent) {
            const key = padded(label);
            const path = this.descend(header, key);
            const crit = critBit(key, path.leaf.key);
            if (crit < 0) {
                reveals.push({ dirs: path.dirs, sub: 'pruned' });
                continue;
            }
            let k = path.forks.findIndex((f) => f.bit > crit);
            if (k < 0) k = path.forks.length;
            const prefix = path.dirs.slice(0, k);
            const at = k < path.ids.length ? path.ids[k] : path.leafId;
            const side = bitAt(key, crit);
            // The label sorts after everything under `at` (side 1) or before it (side 0): reveal the nearest
            // leaf there, and the nearest on the other side, under the deepest fork where the path turned.
            reveals.push({ dirs: this.edge(at, side === 1 ? 1 : 0, prefix), sub: 'pruned' });
            const turn = prefix.lastIndexOf(side === 1 ? 0 : 1);
            if (turn >= 0) {
                const fork = path.forks[turn];
                const other = (1 - prefix[turn]) as 0 | 1;
                reveals.push({ dirs: this.edge(fork.ids[other], side === 1 ? 0 : 1, [...prefix.slice(0, turn), other]), sub: 'pruned' });
            }
        }
        return this.build(header.root, header.rootHash, 0, reveals);
    }

    private build(id: number, hash: Uint8Array, depth: number, reveals: { dirs: (0 | 1)[]; sub: Reveal }[]): HashTree {
        if (reveals.length === 0) return { kind: 'pruned', hash };
        const node = this.node(id);
        if (node.kind === 'leaf') {
            const shown = reveals.find((r) => r.sub !== 'pruned')?.sub;
            return { kind: 'labeled', label: node.label, tree: shown !== undefined && shown !== 'pruned' ? shown : { kind: 'pruned', hash: node.sub } };
        }
        const left = reveals.filter((r) => r.dirs[depth] === 0);
        const right = reveals.filter((r) => r.dirs[depth] === 1);
        return { kind: 'fork', left: this.build(node.ids[0], node.hashes[0], depth + 1, left), right: this.build(node.ids[1], node.hashes[1], depth + 1, right) };
    }

    /** Depth of the deepest path (for the bench): reads every node. */
    depth(): number {
        const header = this.header();
        if (header.root === 0) return 0;
        const walk = (id: number): number => {
            const node = this.node(id);
            return node.kind === 'leaf' ? 0 : 1 + Math.max(walk(node.ids[0]), walk(node.ids[1]));
        };
        return walk(header.root);
    }
}
