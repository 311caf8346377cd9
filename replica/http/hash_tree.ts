/**
 * The system state tree as the interface specification's hash trees: labeled forests and leaves whose
 * hashes are computed once and kept, and witnesses that reveal the requested paths and prune the rest.
 *
 * A `Forest` is immutable: the certifier builds a new one when the state under it changes, so the
 * hashes of everything that did not change are reused. Witnesses prove absence as the IC's do: a
 * requested label that is not there is bracketed by its revealed neighbours (with pruned subtrees).
 */
import { createHash } from 'node:crypto';

import { compare } from '@dfinity/candid';

/** A hash tree as `@dfinity/agent` decodes it: [0] empty, [1, l, r] fork, [2, label, t], [3, value], [4, hash]. */
export type HashTree =
    | [0]
    | [1, HashTree, HashTree]
    | [2, Uint8Array, HashTree]
    | [3, Uint8Array]
    | [4, Uint8Array];

/** What to reveal below a node: everything (`true`), or the listed labels (hex) with what to reveal below each. */
export type Reveal = true | Map<string, { label: Uint8Array; below: Reveal }>;

const encoder = new TextEncoder();

function domainSeparator(s: string): Uint8Array {
    const bytes = encoder.encode(s);
    return Uint8Array.of(bytes.length, ...bytes);
}

const EMPTY = domainSeparator('ic-hashtree-empty');
const FORK = domainSeparator('ic-hashtree-fork');
const LABELED = domainSeparator('ic-hashtree-labeled');
const LEAF = domainSeparator('ic-hashtree-leaf');

function sha256(...parts: Uint8Array[]): Uint8Array {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
}

export const EMPTY_HASH = sha256(EMPTY);

export function forkHash(left: Uint8Array, right: Uint8Array): Uint8Array {
    return sha256(FORK, left, right);
}

export function labeledHash(label: Uint8Array, sub: Uint8Array): Uint8Array {
    return sha256(LABELED, label, sub);
}

export function leafHash(value: Uint8Array): Uint8Array {
    return sha256(LEAF, value);
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** A node of the state tree. */
export interface StateNode {
    /** The root hash of this node's hash tree (`reconstruct` of its full witness). */
    readonly hash: Uint8Array;
    /** A hash tree with the same root hash revealing `reveal` and pruning the rest. */
    witness(reveal: Reveal): HashTree;
}

export class Leaf implements StateNode {
    readonly hash: Uint8Array;
    constructor(readonly value: Uint8Array) {
        this.hash = leafHash(value);
    }
    witness(): HashTree {
        return [3, this.value];
    }
}

/** A range of a forest's labeled children, in the balanced fork tree the forest hashes as. */
interface Span {
    lo: number;
    hi: number;
    hash: Uint8Array;
    left?: Span;
    right?: Span;
}

/** Children under strictly increasing labels. */
export class Forest implements StateNode {
    readonly labels: Uint8Array[];
    readonly children: StateNode[];
    private readonly root: Span | null;

    /** `entries` in any order; labels must be distinct. */
    constructor(entries: Iterable<[Uint8Array, StateNode]>) {
        const sorted = [...entries].sort((a, b) => compare(a[0], b[0]));
        this.labels = sorted.map((e) => e[0]);
        this.children = sorted.map((e) => e[1]);
        this.root = sorted.length === 0 ? null : this.span(0, sorted.length);
    }

    static of(entries: Record<string, StateNode>): Forest {
        return new Forest(Object.entries(entries).map(([k, v]) => [encoder.encode(k), v]));
    }

    private span(lo: number, hi: number): Span {
        if (hi - lo === 1) return { lo, hi, hash: labeledHash(this.labels[lo], this.children[lo].hash) };
        const mid = lo + ((hi - lo) >> 1);
        const left = this.span(lo, mid);
        const right = this.span(mid, hi);
        return { lo, hi, hash: forkHash(left.hash, right.hash), left, right };
    }

    get hash(): Uint8Array {
        return this.root?.hash ?? EMPTY_HASH;
    }

    get size(): number {
        return this.labels.length;
    }

    /** Index of `label`, or -(insertion point) - 1 when absent. */
    find(label: Uint8Array): number {
        let lo = 0;
        let hi = this.labels.length;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            const c = compare(this.labels[mid], label);
            if (c === 0) return mid;
            if (c < 0) lo = mid + 1;
            else hi = mid;
        }
        return -lo - 1;
    }

    get(label: Uint8Array): StateNode | undefined {
        const i = this.find(label);
        return i >= 0 ? this.children[i] : undefined;
    }

    witness(reveal: Reveal): HashTree {
        if (this.root === null) return [0];
        // What each child index shows: its witness below, or only its label (a neighbour proving an absence).
        const shown = new Map<number, Reveal | null>();
        if (reveal === true) {
            for (let i = 0; i < this.labels.length; i++) shown.set(i, true);
        } else {
            for (const { label, below } of reveal.values()) {
                const i = this.find(label);
                if (i >= 0) {
                    shown.set(i, below);
                } else {
                    const at = -i - 1;
                    if (at > 0 && !shown.has(at - 1)) shown.set(at - 1, null);
                    if (at < this.labels.length && !shown.has(at)) shown.set(at, null);
                }
            }
        }
        const build = (span: Span): HashTree => {
            let touched = false;
            for (const i of shown.keys()) if (i >= span.lo && i < span.hi) touched = true;
            if (!touched) return [4, span.hash];
            if (span.left === undefined || span.right === undefined) {
                const below = shown.get(span.lo)!;
                const child = this.children[span.lo];
                return [2, this.labels[span.lo], below === null ? [4, child.hash] : child.witness(below)];
            }
            return [1, build(span.left), build(span.right)];
        };
        return build(this.root);
    }
}

/** Builds a `Reveal` from paths (lists of labels); a path that is a prefix of another reveals all below it. */
export function revealPaths(paths: readonly (readonly Uint8Array[])[]): Reveal {
    const root: Reveal = new Map();
    for (const path of paths) {
        if (path.length === 0) return true;
        let level: Map<string, { label: Uint8Array; below: Reveal }> = root;
        for (let i = 0; i < path.length; i++) {
            const key = hex(path[i]);
            const last = i === path.length - 1;
            const existing = level.get(key);
            if (existing === undefined) {
                const below: Reveal = last ? true : new Map();
                level.set(key, { label: path[i], below });
                if (last) break;
                level = below as Map<string, { label: Uint8Array; below: Reveal }>;
            } else {
                if (existing.below === true) break;
                if (last) {
                    existing.below = true;
                    break;
                }
                level = existing.below;
            }
        }
    }
    return root;
}
