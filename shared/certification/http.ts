/**
 * Full response certification (HTTP gateway protocol v2, response-only) of everything a bucket serves,
 * kept in stable memory as Merkle maps (tree.ts) so that certifying, deleting and upgrading cost one
 * path's hashes however many responses are certified. The certified tree is
 *
 *     http_expr ─┬─ <*> ── E(global)                      every path outside /a/ (404)
 *                └─ a ─┬─ <*> ── E(wildcard)              /a/<unknown or not yet certified id>
 *                      └─ <id> ─┬─ <$> ── E(asset id)      /a/<id>
 *                               └─ <*> ── E(asset id)      /a/<id>/<any name>
 *
 * where `E(set) = labeled(sha256(expression), labeled("", set))` and a *set* is a Merkle map whose labels
 * are the response hashes of the certified responses, each over `leaf("")`. The ids under `a` form one
 * Merkle map (namespace `ASSETS`), each asset's responses another (namespace = the asset id), and the two
 * fixed sets theirs. All responses use one expression (`CERT_EXPRESSION`), which certifies the status, the
 * body and every header; the query string is not certified, so `?download` (which changes
 * `Content-Disposition`) has its own certified variant of each response.
 */
import { concatBytes, leb128 } from '../bytes';
import { sha256 } from '../sha256';
import { base64, encodePath, encodeTree, type HashTree } from '../certification';
import { forkHash, labeledHash, leafHash, MerkleMap, type NodeStore } from './tree';

/**
 * Every response header is certified (an empty exclusion list): HTTP gateways answer a fully certified
 * response with its certified headers only (ic-http-gateway drops the rest), so a header a browser needs
 * — CORS, `Content-Disposition`, `Accept-Ranges` — must be certified to arrive at all.
 */
export const CERT_EXPRESSION =
    'default_certification(ValidationArgs{certification:Certification{no_request_certification:Empty{},response_certification:ResponseCertification{response_header_exclusions:ResponseHeaderList{headers:[]}}}})';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

export const EXPR_HASH = sha256(utf8(CERT_EXPRESSION));

/** Namespaces of the fixed maps (asset ids are assigned from 1 upwards and never reach these). */
export const Namespace = {
    assets: (1n << 64n) - 1n,
    wildcard: (1n << 64n) - 2n,
    global: (1n << 64n) - 3n
} as const;

const HTTP_EXPR = utf8('http_expr');
const A = utf8('a');
const WILD = utf8('<*>');
const EXACT = utf8('<$>');
const NO_REQUEST = new Uint8Array(0);
const EMPTY_LEAF = leafHash(new Uint8Array(0));

function compare(a: Uint8Array, b: Uint8Array): number {
    for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
}

/** SHA-256 of short texts (header names and values repeat across an asset's responses), kept per message. */
const textHashes = new Map<string, Uint8Array>();
function textHash(text: string): Uint8Array {
    let hash = textHashes.get(text);
    if (hash === undefined) {
        if (textHashes.size >= 512) textHashes.clear();
        hash = sha256(utf8(text));
        textHashes.set(text, hash);
    }
    return hash;
}

/**
 * The v2 response hash: SHA-256 of the representation-independent hash of the headers (names lower-cased,
 * `IC-Certificate` left out, the expression header and `:ic-cert-status` added) followed by the body's SHA-256.
 */
export function responseHash(status: number, headers: readonly [string, string][], bodyHash: Uint8Array): Uint8Array {
    const pairs: Uint8Array[] = [];
    for (const [name, value] of headers) {
        const lower = name.toLowerCase();
        if (lower === 'ic-certificate' || lower === 'ic-certificateexpression') continue;
        pairs.push(concatBytes([textHash(lower), textHash(value)]));
    }
    pairs.push(concatBytes([textHash('ic-certificateexpression'), textHash(CERT_EXPRESSION)]));
    pairs.push(concatBytes([textHash(':ic-cert-status'), sha256(leb128(status))]));
    pairs.sort(compare);
    return sha256(concatBytes([sha256(concatBytes(pairs)), bodyHash]));
}

/** Where a response is certified: a published asset (exactly, or under its wildcard), an unknown id, or elsewhere. */
export type Target =
    | { kind: 'asset'; id: bigint; exact: boolean }
    /**
     * Under `/a/<*>`; `absent` are the labels under `a` the witness proves absent: the path segment after
     * `a` and "" (the verifier checks `/a/<segment>/<*>` and `/a/""/<*>` are not more specific matches).
     */
    | { kind: 'unknown'; absent: Uint8Array[] }
    | { kind: 'global' };

export const assetLabel = (id: bigint): Uint8Array => utf8(id.toString());

/** `labeled(expr_hash, labeled("", set))`, as a hash. */
const exprHash = (setRoot: Uint8Array): Uint8Array => labeledHash(EXPR_HASH, labeledHash(NO_REQUEST, setRoot));
const assetSubHash = (e: Uint8Array): Uint8Array => forkHash(labeledHash(EXACT, e), labeledHash(WILD, e));

const pruned = (hash: Uint8Array): HashTree => ({ kind: 'pruned', hash });
const labeled = (label: Uint8Array, tree: HashTree): HashTree => ({ kind: 'labeled', label, tree });
const fork = (left: HashTree, right: HashTree): HashTree => ({ kind: 'fork', left, right });

export class HttpCertification {
    readonly assets: MerkleMap;
    private readonly global: MerkleMap;
    private readonly wildcard: MerkleMap;

    constructor(private readonly store: NodeStore) {
        this.assets = new MerkleMap(store, Namespace.assets);
        this.global = new MerkleMap(store, Namespace.global);
        this.wildcard = new MerkleMap(store, Namespace.wildcard);
    }

    responses(id: bigint): MerkleMap {
        return new MerkleMap(this.store, id);
    }

    /**
     * Sets the fixed response sets (outside /a/, and /a/<*>), replacing what an older module certified
     * there. A handful of responses each: run at install and after every upgrade.
     */
    setFixed(global: Uint8Array[], wildcard: Uint8Array[]): void {
        for (const [map, hashes] of [[this.global, global], [this.wildcard, wildcard]] as const) {
            const wanted = new Set(hashes.map((h) => h.join(',')));
            const current = map.rootHash();
            const unchanged = current !== null && map.size() === wanted.size && hashes.every((h) => map.get(h) !== undefined);
            if (unchanged) continue;
            map.destroy(Number.MAX_SAFE_INTEGER);
            for (const h of hashes) map.set(h, EMPTY_LEAF);
        }
        this.assets.set(WILD, exprHash(this.wildcard.rootHash()!));
    }

    /** Certifies one response of an asset (it is served only once the asset is published). */
    addResponse(id: bigint, hash: Uint8Array): void {
        this.responses(id).set(hash, EMPTY_LEAF);
    }

    hasResponse(id: bigint, hash: Uint8Array): boolean {
        return this.responses(id).get(hash) !== undefined;
    }

    /** Links the asset's responses under `/a/<id>` (one path of the ids' map). */
    publish(id: bigint): void {
        const root = this.responses(id).rootHash();
        if (root === null) throw new Error(`invariant broken: asset ${id} is published with no certified response`);
        this.assets.set(assetLabel(id), assetSubHash(exprHash(root)));
    }

    isPublished(id: bigint): boolean {
        return this.assets.get(assetLabel(id)) !== undefined;
    }

    /** Takes the asset out of the tree (one path); its response set is then removed with `destroy`. */
    unpublish(id: bigint): boolean {
        return this.assets.remove(assetLabel(id));
    }

    /** Removes up to `budget` nodes of an unpublished asset's response set; returns how many are left. */
    destroy(id: bigint, budget: number): number {
        return this.responses(id).destroy(budget);
    }

    /** The canister's certified data. */
    rootHash(): Uint8Array {
        const global = this.global.rootHash();
        const assets = this.assets.rootHash();
        if (global === null || assets === null) throw new Error('invariant broken: the fixed response sets are not certified (setFixed)');
        return labeledHash(HTTP_EXPR, forkHash(labeledHash(WILD, exprHash(global)), labeledHash(A, assets)));
    }

    /** `E(set)` revealing one response hash of the set. */
    private exprWitness(set: MerkleMap, hash: Uint8Array): HashTree {
        return labeled(EXPR_HASH, labeled(NO_REQUEST, set.witness([{ label: hash, sub: { kind: 'leaf', value: new Uint8Array(0) } }])));
    }

    /** The witness proving response `hash` at `target`: one path per map it passes (two for an absent id). */
    witness(target: Target, hash: Uint8Array): HashTree {
        const globalRoot = this.global.rootHash()!;
        if (target.kind === 'global') {
            return labeled(HTTP_EXPR, fork(labeled(WILD, this.exprWitness(this.global, hash)), labeled(A, pruned(this.assets.rootHash()!))));
        }
        let assets: HashTree;
        if (target.kind === 'unknown') {
            assets = this.assets.witness([{ label: WILD, sub: this.exprWitness(this.wildcard, hash) }], target.absent);
        } else {
            const set = this.responses(target.id);
            const e = exprHash(set.rootHash()!);
            const shown = this.exprWitness(set, hash);
            const sub = fork(labeled(EXACT, target.exact ? shown : pruned(e)), labeled(WILD, target.exact ? pruned(e) : shown));
            assets = this.assets.witness([{ label: assetLabel(target.id), sub }]);
        }
        return labeled(HTTP_EXPR, fork(labeled(WILD, pruned(exprHash(globalRoot))), labeled(A, assets)));
    }
}

export function exprPath(target: Target): string[] {
    if (target.kind === 'global') return ['http_expr', '<*>'];
    if (target.kind === 'unknown') return ['http_expr', 'a', '<*>'];
    return ['http_expr', 'a', target.id.toString(), target.exact ? '<$>' : '<*>'];
}

/** The `IC-Certificate` and `IC-CertificateExpression` headers of a certified response. */
export function certificateHeaders(certificate: Uint8Array | undefined, witness: () => HashTree, path: string[]): [string, string][] {
    const headers: [string, string][] = [['IC-CertificateExpression', CERT_EXPRESSION]];
    if (certificate !== undefined) {
        headers.unshift(['IC-Certificate', `certificate=:${base64(certificate)}:, tree=:${base64(encodeTree(witness()))}:, expr_path=:${base64(encodePath(path))}:, version=2`]);
    }
    return headers;
}
