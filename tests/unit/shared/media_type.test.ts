/** shared/media_type.ts: one RFC 9110 media type, strictly; what the index stores and the bucket serves. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { normaliseContentType, parseMediaType, servedMediaType } from '../../../shared/media_type';

describe('parseMediaType', () => {
    it('parses type/subtype with parameters, normalising case and spaces', () => {
        expect(parseMediaType('Text/HTML ; Charset=UTF-8;q="a b"')).toEqual({
            ok: true,
            value: { essence: 'text/html', parameters: [['charset', 'UTF-8'], ['q', '"a b"']], text: 'text/html; charset=UTF-8; q="a b"' }
        });
        expect(parseMediaType('  application/pdf  ')).toMatchObject({ ok: true, value: { essence: 'application/pdf', text: 'application/pdf' } });
        expect(parseMediaType('application/vnd.api+json;;')).toMatchObject({ ok: true, value: { text: 'application/vnd.api+json' } });
        expect(parseMediaType('text/plain; x="\\"quoted\\""')).toMatchObject({ ok: true, value: { parameters: [['x', '"\\"quoted\\""']] } });
    });

    it('refuses lists, control characters, non-ASCII and malformed types', () => {
        for (const bad of ['application/pdf, text/html', 'a/b;c="x,y"', 'a/b\r\n', 'a/b\t', 'a/b\u0000', 'ä/b', 'a/b c', 'a/b;c', 'a/b;=c', 'a/b;c="x', 'a/', '/b', 'ab', 'a/b/c', '', ' ', 'a/b;c=d e', 'a/b; c = d']) {
            expect(parseMediaType(bad).ok, JSON.stringify(bad)).toBe(false);
        }
    });

    it('never lets a comma or a control character through, and its output parses to itself', () => {
        fc.assert(
            fc.property(fc.string({ unit: 'binary-ascii', maxLength: 40 }), (input) => {
                const parsed = parseMediaType(input);
                if (!parsed.ok) return;
                expect(parsed.value.text).not.toMatch(/[,\x00-\x1f\x7f]/);
                expect(parseMediaType(parsed.value.text)).toEqual(parsed);
            }),
            { seed: 17, numRuns: 3000 }
        );
    });
});

describe('what is stored and served', () => {
    it('stores an empty type as application/octet-stream and refuses a list', () => {
        expect(normaliseContentType('')).toEqual({ ok: true, value: 'application/octet-stream' });
        expect(normaliseContentType('IMAGE/PNG')).toEqual({ ok: true, value: 'image/png' });
        expect(normaliseContentType('application/pdf, text/html').ok).toBe(false);
    });

    it('serves a stored type that does not parse as application/octet-stream', () => {
        expect(servedMediaType('application/pdf, text/html')).toEqual({ essence: 'application/octet-stream', parameters: [], text: 'application/octet-stream' });
        expect(servedMediaType('application/pdf').essence).toBe('application/pdf');
        expect(servedMediaType('application/pdfx').essence).toBe('application/pdfx');
    });
});
