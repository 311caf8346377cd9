/**
 * The system state tree as the interface specification's hash trees: labeled forests and leaves whose
 * hashes are computed once and kept, and witnesses that reveal the requested paths and prune the rest.
 *
 * A `Forest` is immutable: the certifier builds a new one when the state under it changes, so the
 * hashes of everything that did not change are reused. Witnesses prove absence as the IC's do: a
 * requested label that is not there is bracketed by its revealed neighbours (with pruned subtrees).
 */
import { createHash } from 'node:crypto';

/**
 * Labels order as the interface specification orders them: lexicographically by bytes. (`compare` of
 * `@dfinity/candid` orders shorter arrays first, which agent-js's linear lookup tolerates but the
 * binary lookups of the Rust verifiers, e.g. @dfinity/response-verification, do not.)
 */
function compare(a: Uint8Array, b: Uint8Array): number {
    return Buffer.compare(a, b);
}

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

/** A range of a forest's labeled children (or of a `Concat`'s parts), in the balanced fork tree it hashes as. */
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
        return new Concat([this]).witness(reveal);
    }

    /** The witness showing children `shown` (index: what below, or null for the label only); null when empty. */
    witnessShown(shown: Map<number, Reveal | null>): HashTree | null {
        if (this.root === null) return null;
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

/**
 * One labeled forest made of several (`parts`, each non-empty, every label of a part below every label
 * of the next), hashed as a balanced fork tree of the parts' trees. A large map kept in parts (say, by
 * the first byte of its labels) changes one part at a time: adding a label rehashes that part only.
 */
export class Concat implements StateNode {
    readonly hash: Uint8Array;
    private readonly root: Span | null;

    constructor(readonly parts: readonly Forest[]) {
        const span = (lo: number, hi: number): Span => {
            if (hi - lo === 1) return { lo, hi, hash: parts[lo].hash };
            const mid = lo + ((hi - lo) >> 1);
            const left = span(lo, mid);
            const right = span(mid, hi);
            return { lo, hi, hash: forkHash(left.hash, right.hash), left, right };
        };
        this.root = parts.length === 0 ? null : span(0, parts.length);
        this.hash = this.root?.hash ?? EMPTY_HASH;
    }

    witness(reveal: Reveal): HashTree {
        if (this.root === null) return [0];
        // What each part shows: child index → its witness below, or null for its label only (a neighbour proving an absence).
        const shown = this.parts.map(() => new Map<number, Reveal | null>());
        const show = (part: number, index: number, below: Reveal | null) => {
            if (below !== null || !shown[part].has(index)) shown[part].set(index, below);
        };
        if (reveal === true) {
            this.parts.forEach((p, part) => p.children.forEach((_, i) => show(part, i, true)));
        } else {
            for (const { label, below } of reveal.values()) {
                // The first part that could hold the label: the last whose first label is not above it.
                let part = 0;
                while (part + 1 < this.parts.length && compare(this.parts[part + 1].labels[0], label) <= 0) part++;
                const i = this.parts[part].find(label);
                if (i >= 0) {
                    show(part, i, below);
                    continue;
                }
                const at = -i - 1;
                // Its neighbours: the one below is in this part (a part's first label is not above it, unless
                // this is the first part), the one above may start the next part.
                if (at > 0) show(part, at - 1, null);
                if (at < this.parts[part].size) show(part, at, null);
                else if (part + 1 < this.parts.length) show(part + 1, 0, null);
            }
        }
        const build = (span: Span): HashTree => {
            let touched = false;
            for (let p = span.lo; p < span.hi; p++) if (shown[p].size > 0) touched = true;
            if (!touched) return [4, span.hash];
            if (span.left === undefined || span.right === undefined) return this.parts[span.lo].witnessShown(shown[span.lo])!;
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
