/**
 * Response certification (HTTP gateway protocol, version 2), first step: every response *skips*
 * certification, which the canister itself states in its certified data, so certified gateway domains
 * (icp0.io) serve it. The certified tree is
 *
 *     http_expr → <*> → sha256(expression) → empty
 *
 * and its root hash is the canister's certified data. A later full certification adds subtrees under
 * `http_expr` for certified paths (the bucket keeps its certified data in one place: `certifiedData()` here).
 *
 * Hash trees and their CBOR encoding follow the IC interface specification; the tests derive the same
 * values independently with @dfinity/agent and @dfinity/cbor.
 */
import { concatBytes } from './bytes';
import { sha256 } from './sha256';

/** The expression a skipped response names in `IC-CertificateExpression`; the tree holds its hash. */
export const SKIP_EXPRESSION = 'default_certification(ValidationArgs{no_certification:Empty{}})';
/** The wildcard path every response of the bucket is certified under (all paths). */
export const SKIP_EXPR_PATH = ['http_expr', '<*>'];

export type HashTree =
    | { kind: 'empty' }
    | { kind: 'fork'; left: HashTree; right: HashTree }
    | { kind: 'labeled'; label: Uint8Array; tree: HashTree }
    | { kind: 'leaf'; value: Uint8Array }
    | { kind: 'pruned'; hash: Uint8Array };

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const domainSeparator = (name: string): Uint8Array => concatBytes([Uint8Array.of(name.length), utf8(name)]);

export function labeled(label: string | Uint8Array, tree: HashTree): HashTree {
    return { kind: 'labeled', label: typeof label === 'string' ? utf8(label) : label, tree };
}

/** The root hash of a tree (`reconstruct` in the interface specification). */
export function treeHash(tree: HashTree): Uint8Array {
    switch (tree.kind) {
        case 'empty':
            return sha256(domainSeparator('ic-hashtree-empty'));
        case 'fork':
            return sha256(concatBytes([domainSeparator('ic-hashtree-fork'), treeHash(tree.left), treeHash(tree.right)]));
        case 'labeled':
            return sha256(concatBytes([domainSeparator('ic-hashtree-labeled'), tree.label, treeHash(tree.tree)]));
        case 'leaf':
            return sha256(concatBytes([domainSeparator('ic-hashtree-leaf'), tree.value]));
        case 'pruned':
            return tree.hash;
    }
}

// ------------------------------------------------------------------ CBOR (just what trees and paths need)

function cborHead(major: number, length: number): Uint8Array {
    if (length < 24) return Uint8Array.of((major << 5) | length);
    if (length < 0x100) return Uint8Array.of((major << 5) | 24, length);
    if (length < 0x10000) return Uint8Array.of((major << 5) | 25, length >> 8, length & 0xff);
    return Uint8Array.of((major << 5) | 26, length >>> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff);
}
const cborUint = (n: number) => cborHead(0, n);
const cborBytes = (bytes: Uint8Array) => concatBytes([cborHead(2, bytes.length), bytes]);
const cborText = (text: string) => {
    const bytes = utf8(text);
    return concatBytes([cborHead(3, bytes.length), bytes]);
};
const cborArray = (items: Uint8Array[]) => concatBytes([cborHead(4, items.length), ...items]);
/** The self-describing CBOR tag (55799) the specification puts in front of encoded trees. */
const SELF_DESCRIBE = Uint8Array.of(0xd9, 0xd9, 0xf7);

function encodeNode(tree: HashTree): Uint8Array {
    switch (tree.kind) {
        case 'empty':
            return cborArray([cborUint(0)]);
        case 'fork':
            return cborArray([cborUint(1), encodeNode(tree.left), encodeNode(tree.right)]);
        case 'labeled':
            return cborArray([cborUint(2), cborBytes(tree.label), encodeNode(tree.tree)]);
        case 'leaf':
            return cborArray([cborUint(3), cborBytes(tree.value)]);
        case 'pruned':
            return cborArray([cborUint(4), cborBytes(tree.hash)]);
    }
}

export function encodeTree(tree: HashTree): Uint8Array {
    return concatBytes([SELF_DESCRIBE, encodeNode(tree)]);
}

export function encodePath(path: string[]): Uint8Array {
    return concatBytes([SELF_DESCRIBE, cborArray(path.map(cborText))]);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 with padding (the `IC-Certificate` header's encoding). */
export function base64(bytes: Uint8Array): string {
    let out = '';
    for (let i = 0; i < bytes.length; i += 3) {
        const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
        out += B64[n >> 18] + B64[(n >> 12) & 63] + (i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < bytes.length ? B64[n & 63] : '=');
    }
    return out;
}

// ------------------------------------------------------------------ skip certification

/** The certified tree of a canister whose responses all skip certification. */
export function skipTree(): HashTree {
    return labeled('http_expr', labeled('<*>', labeled(sha256(utf8(SKIP_EXPRESSION)), { kind: 'empty' })));
}

let cached: { data: Uint8Array; treeBase64: string; pathBase64: string } | null = null;

function skip() {
    if (cached === null) {
        const tree = skipTree();
        cached = { data: treeHash(tree), treeBase64: base64(encodeTree(tree)), pathBase64: base64(encodePath(SKIP_EXPR_PATH)) };
    }
    return cached;
}

/** What the bucket sets as its certified data (at init and after every upgrade). */
export function certifiedData(): Uint8Array {
    return skip().data;
}

/**
 * The two headers that make a response skip certification, given the system's data certificate (absent
 * outside a non-replicated query: then only the expression header is sent, and certified gateways refuse).
 */
export function skipCertificationHeaders(certificate: Uint8Array | undefined): [string, string][] {
    const { treeBase64, pathBase64 } = skip();
    const headers: [string, string][] = [['IC-CertificateExpression', SKIP_EXPRESSION]];
    if (certificate !== undefined) {
        headers.unshift(['IC-Certificate', `certificate=:${base64(certificate)}:, tree=:${treeBase64}:, expr_path=:${pathBase64}:, version=2`]);
    }
    return headers;
}
