import { describe, expect, it } from 'vitest';

import { AbortedError, HashMismatchError, IntegrityError, NoCapacityError, QuotaExceededError, TransportError } from '../../client/browser';
import { errorSentence, formatBytes, formatEta, iconLabel, previewKind, RateMeter } from '../../web/src/format';

describe('web formatting', () => {
    it('words sizes and times as people read them', () => {
        expect(formatBytes(0)).toBe('0 B');
        // SI units: a label of MB means 10^6 bytes.
        expect(formatBytes(1536)).toBe('1.5 kB');
        expect(formatBytes(999)).toBe('999 B');
        expect(formatBytes(1_000_000)).toBe('1.0 MB');
        expect(formatBytes(64n * 1024n * 1024n)).toBe('67 MB');
        expect(formatBytes(64_000_000n)).toBe('64 MB');
        expect(formatEta(0.2)).toBe('1 s');
        expect(formatEta(125)).toBe('2 min');
        expect(formatEta(3900)).toBe('1 h 5 min');
        expect(formatEta(Infinity)).toBe('');
    });

    it('labels file icons by the type\'s usual extension, not a cut-off subtype', () => {
        expect(iconLabel('text/plain')).toBe('TXT');
        expect(iconLabel('text/plain; charset=utf-8')).toBe('TXT');
        expect(iconLabel('application/pdf')).toBe('PDF');
        expect(iconLabel('application/json')).toBe('JSON');
        expect(iconLabel('image/svg+xml')).toBe('SVG');
        expect(iconLabel('application/octet-stream')).toBe('BIN');
        expect(iconLabel('application/x-unknown-thing')).toBe('FILE');
        expect(iconLabel('')).toBe('FILE');
    });

    it('previews images and videos, but not SVG', () => {
        expect(previewKind('image/png')).toBe('image');
        expect(previewKind('image/svg+xml')).toBe('other');
        expect(previewKind('video/webm; codecs=vp8')).toBe('video');
        expect(previewKind('application/pdf')).toBe('other');
    });

    it('measures speed over a window and the time left', () => {
        const meter = new RateMeter(1000);
        meter.add(0, 0);
        expect(meter.speed).toBe(0);
        meter.add(500, 1_000_000);
        meter.add(1000, 2_000_000);
        expect(meter.speed).toBe(2_000_000);
        expect(meter.eta(4_000_000)).toBe(1);
        meter.add(3000, 2_000_000);
        expect(meter.speed).toBe(0);
    });

    it('turns library errors into sentences without stacks', () => {
        const quota = errorSentence(new QuotaExceededError(1n << 30n, 1000n << 20n, 50n << 20n));
        expect(quota).toBe('Your storage quota is full: 1.0 GB of 1.1 GB in use, and this needs 52 MB more. Delete files or ask the operator for a larger quota.');
        expect(errorSentence(new NoCapacityError('No storage capacity: all buckets full.'))).toMatch(/^Silo has no storage bucket with room/);
        expect(errorSentence(new HashMismatchError(new Uint8Array(32), new Uint8Array(32)))).toMatch(/did not match the file’s SHA-256, so nothing was kept/);
        expect(errorSentence(new IntegrityError('x'))).toMatch(/nothing was kept/);
        expect(errorSentence(new AbortedError({ sessionId: 3n, phase: 'sending' }))).toBe('Cancelled.');
        expect(errorSentence(new TransportError('Call failed: fetch failed\n    at x (y.js:1)'))).not.toMatch(/at x|\n/);
        const plain = new Error('boom\n    at f (file.js:1:1)');
        expect(errorSentence(plain)).toBe('Something went wrong: boom.');
    });
});
