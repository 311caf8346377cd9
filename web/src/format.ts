/** How the page words sizes, speeds, times and errors. Pure functions, tested in Node. */
import mime from 'mime';

import {
    AbortedError,
    AssetNotFoundError,
    BucketUnavailableError,
    HashMismatchError,
    IntegrityError,
    InvalidArgumentError,
    NoCapacityError,
    QuotaExceededError,
    SiloError,
    TransportError,
    UnauthorizedError
} from '../../client/browser';

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** 1536 → "1.5 kB" (SI units, powers of 1000, so the label means what it says). */
export function formatBytes(bytes: number | bigint): string {
    let value = Number(bytes);
    let unit = 0;
    while (value >= 1000 && unit < UNITS.length - 1) {
        value /= 1000;
        unit++;
    }
    return unit === 0 ? `${value} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

/**
 * The short label of a file-type icon: the type's usual extension (text/plain → TXT, application/pdf →
 * PDF), at most four letters; FILE when the type has none.
 */
export function iconLabel(contentType: string): string {
    const essence = contentType.split(';')[0].trim().toLowerCase();
    const extension = mime.getExtension(essence);
    return extension !== null && /^[a-z0-9]{1,4}$/.test(extension) ? extension.toUpperCase() : 'FILE';
}

/** Bytes per second → "3.2 MB/s". */
export function formatSpeed(bytesPerSecond: number): string {
    return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

/** Seconds left → "45 s", "3 min", "1 h 5 min"; "" when unknown. */
export function formatEta(seconds: number): string {
    if (!Number.isFinite(seconds) || seconds < 0) return '';
    if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return `${minutes} min`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** An asset's `created_at` (ns since the epoch) as a short local date and time. */
export function formatDate(nanos: bigint): string {
    return new Date(Number(nanos / 1_000_000n)).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Which preview an asset gets. */
export function previewKind(contentType: string): 'image' | 'video' | 'audio' | 'other' {
    const type = contentType.split(';')[0].trim().toLowerCase();
    // SVG is shown as a file, not an <img>: it is the one image type that can carry script.
    if (type.startsWith('image/') && type !== 'image/svg+xml') return 'image';
    if (type.startsWith('video/')) return 'video';
    if (type.startsWith('audio/')) return 'audio';
    return 'other';
}

/**
 * Upload speed over the last few seconds, from (time, bytes) samples, and the time left at that speed.
 */
export class RateMeter {
    private samples: { t: number; bytes: number }[] = [];
    constructor(private readonly windowMs = 3000) {}

    add(t: number, bytes: number): void {
        this.samples.push({ t, bytes });
        while (this.samples.length > 2 && t - this.samples[0].t > this.windowMs) this.samples.shift();
    }

    /** Bytes per second, or 0 before two samples. */
    get speed(): number {
        const first = this.samples[0];
        const last = this.samples[this.samples.length - 1];
        if (first === undefined || last === first || last.t === first.t) return 0;
        return ((last.bytes - first.bytes) * 1000) / (last.t - first.t);
    }

    /** Seconds until `total` bytes at the current speed (Infinity when unknown). */
    eta(total: number): number {
        const last = this.samples[this.samples.length - 1];
        const speed = this.speed;
        return last === undefined || speed <= 0 ? Infinity : (total - last.bytes) / speed;
    }
}

/**
 * One sentence for a person about what went wrong and what to do, never a stack trace. The library's
 * own messages already say what to do; the common cases get plainer wording.
 */
export function errorSentence(error: unknown): string {
    if (error instanceof AbortedError) return 'Cancelled.';
    if (error instanceof QuotaExceededError) {
        return `Your storage quota is full: ${formatBytes(error.used)} of ${formatBytes(error.limit)} in use, and this needs ${formatBytes(error.requested)} more. Delete files or ask the operator for a larger quota.`;
    }
    if (error instanceof NoCapacityError) return 'Silo has no storage bucket with room for this file right now, and could not create one. Try again later or ask the operator to add capacity.';
    if (error instanceof HashMismatchError || error instanceof IntegrityError) {
        return 'The stored bytes did not match the file’s SHA-256, so nothing was kept. The file may have changed while it was read; upload it again.';
    }
    if (error instanceof BucketUnavailableError) return 'The storage bucket holding this file is unavailable right now. Nothing was lost; try again in a moment.';
    if (error instanceof UnauthorizedError) return 'This identity is not allowed to do that: only a file’s owner can change it or share a private link.';
    if (error instanceof AssetNotFoundError) return 'That file no longer exists; it may have been deleted elsewhere.';
    if (error instanceof InvalidArgumentError) return firstLine(error.message);
    if (error instanceof TransportError) return 'The Silo network did not answer. Is `silo start` still running? Then reload the page.';
    if (error instanceof SiloError) return firstLine(error.message);
    if (error instanceof DOMException && error.name === 'AbortError') return 'Cancelled.';
    const message = error instanceof Error ? error.message : String(error);
    return `Something went wrong: ${firstLine(message) || 'unknown error'}.`.replace(/\.\.$/, '.');
}

function firstLine(text: string): string {
    return text.split('\n')[0].trim();
}
