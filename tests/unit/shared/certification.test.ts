/**
 * The skip-certification tree, derived here from the specifications with independent code: the HTTP
 * gateway protocol (v2: `http_expr` / expr_path / sha256(expression) → empty, expr_path `["http_expr",
 * "<*>"]` for every path) and the IC interface spec's hash trees, reconstructed and looked up with
 * @dfinity/agent, decoded with @dfinity/cbor.
 */
import { createHash, createHmac } from 'node:crypto';

import { HashTree, LookupSubtreeStatus, lookup_subtree, reconstruct } from '@dfinity/agent';
import { decode } from '@dfinity/cbor';
import { describe, expect, it } from 'vitest';

import { base64, certifiedData, SKIP_EXPR_PATH, SKIP_EXPRESSION, skipCertificationHeaders } from '../../../shared/certification';
import { checkUrlToken, hmacSha256, mintUrlToken } from '../../../shared/url_token';

const utf8 = (s: string) => new TextEncoder().encode(s);

/** The tree as the protocol describes it, built with the agent's node tags (0 empty, 2 labeled). */
function specTree(): HashTree {
    // "The expression hash is the SHA-256 of the IC-CertificateExpression header value."
    const exprHash = createHash('sha256').update(SKIP_EXPRESSION).digest();
    return [2, utf8('http_expr'), [2, utf8('<*>'), [2, new Uint8Array(exprHash), [0]]]] as unknown as HashTree;
}

function headerField(header: string, name: string): Uint8Array {
    const match = new RegExp(`${name}=:([^:]*):`).exec(header);
    if (match === null) throw new Error(`no ${name} in ${header}`);
    return new Uint8Array(Buffer.from(match[1], 'base64'));
}

describe('skip certification', () => {
    it('the expression is the protocol\'s no_certification expression, whitespace aside', () => {
        expect(SKIP_EXPRESSION).toBe('default_certification(ValidationArgs{no_certification: Empty {}})'.replace(/\s/g, ''));
    });

    it('certified data is the root hash of the tree the protocol prescribes', async () => {
        expect(Buffer.from(certifiedData()).toString('hex')).toBe(Buffer.from(await reconstruct(specTree())).toString('hex'));
    });

    it('the IC-Certificate header carries that tree (CBOR, self-described) and the <*> expression path', async () => {
        const certificate = Uint8Array.from([1, 2, 3, 250]);
        const headers = Object.fromEntries(skipCertificationHeaders(certificate));
        expect(headers['IC-CertificateExpression']).toBe(SKIP_EXPRESSION);
        const header = headers['IC-Certificate'];
        expect(header).toMatch(/^certificate=:[^:]+:, tree=:[^:]+:, expr_path=:[^:]+:, version=2$/);
        expect(headerField(header, 'certificate')).toEqual(certificate);
        const tree = decode(headerField(header, 'tree')) as HashTree;
        expect(Buffer.from(await reconstruct(tree))).toEqual(Buffer.from(certifiedData()));
        const exprHash = new Uint8Array(createHash('sha256').update(SKIP_EXPRESSION).digest());
        // The gateway looks up http_expr / expr_path / expr_hash and, skipping, expects an empty node there.
        const found = lookup_subtree([utf8('http_expr'), utf8('<*>'), exprHash], tree);
        expect(found).toEqual({ status: LookupSubtreeStatus.Found, value: [0] });
        expect(decode(headerField(header, 'expr_path'))).toEqual(['http_expr', '<*>']);
        expect(SKIP_EXPR_PATH).toEqual(['http_expr', '<*>']);
    });

    it('without a data certificate only the expression header is sent', () => {
        expect(skipCertificationHeaders(undefined).map(([name]) => name)).toEqual(['IC-CertificateExpression']);
    });

    it('base64 matches Node for every length mod 3', () => {
        for (const length of [0, 1, 2, 3, 4, 5, 31, 32, 33, 100]) {
            const bytes = Uint8Array.from({ length }, (_, i) => (i * 37 + 11) & 0xff);
            expect(base64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
        }
    });
});

describe('URL tokens', () => {
    it('HMAC-SHA256 matches Node for short, block-sized and long keys', () => {
        for (const keyLength of [0, 20, 32, 64, 65, 200]) {
            const key = Uint8Array.from({ length: keyLength }, (_, i) => i & 0xff);
            for (const message of [new Uint8Array(), utf8('abc'), new Uint8Array(1000).fill(7)]) {
                expect(Buffer.from(hmacSha256(key, message)).toString('hex')).toBe(createHmac('sha256', key).update(message).digest('hex'));
            }
        }
    });

    it('a token is valid for its asset until its expiry, and for nothing else', () => {
        const secret = new Uint8Array(32).fill(9);
        const token = mintUrlToken(secret, 42n, 1000n);
        expect(token).toMatch(/^1000\.[0-9a-f]{64}$/);
        expect(checkUrlToken(secret, 42n, token, 999n)).toBe('valid');
        expect(checkUrlToken(secret, 42n, token, 1000n)).toBe('expired');
        expect(checkUrlToken(secret, 43n, token, 999n)).toBe('invalid');
        expect(checkUrlToken(new Uint8Array(32).fill(8), 42n, token, 999n)).toBe('invalid');
        expect(checkUrlToken(secret, 42n, token.replace('1000.', '2000.'), 999n)).toBe('invalid');
        expect(checkUrlToken(secret, 42n, `${'9'.repeat(25)}.${token.split('.')[1]}`, 999n)).toBe('invalid');
        expect(checkUrlToken(secret, 42n, token.toUpperCase(), 999n)).toBe('invalid');
    });
});
