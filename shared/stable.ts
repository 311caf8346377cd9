/**
 * Stable storage helpers shared by the canisters: serializers with fixed-width big-endian keys (so byte
 * order is key order), an identity serializer for raw bytes, a Candid serializer for records, and the
 * map interface the canister logic is written against. Inside a canister the map is Azle's
 * `StableBTreeMap`; in unit tests it is `MemoryMap`, which orders keys by their bytes the same way.
 */
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { decodeCandid, encodeCandid, prepareCandid } from './candid_codec';

export interface Serializer<T> {
    toBytes(value: T): Uint8Array;
    fromBytes(bytes: Uint8Array): T;
}

/** What the canister logic needs of a stable map (a subset of Azle's `StableBTreeMap`). */
export interface KvMap<K, V> {
    get(key: K): V | undefined;
    insert(key: K, value: V): V | undefined;
    remove(key: K): V | undefined;
    containsKey(key: K): boolean;
    len(): number | bigint;
    /** Entries in key order, from the `startIndex`-th on, at most `length` of them. */
    items(startIndex?: number, length?: number): [K, V][];
    keys(startIndex?: number, length?: number): K[];
}

/** A fresh copy: `slice()` would not do, as a Node Buffer's slice is a view of the same bytes. */
const copy = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes);

export const bytesSerializer: Serializer<Uint8Array> = {
    toBytes: (value) => value,
    fromBytes: (bytes) => bytes
};

export const u64Key: Serializer<bigint> = {
    toBytes(value) {
        const out = new Uint8Array(8);
        writeU64(out, 0, value);
        return out;
    },
    fromBytes: (bytes) => readU64(bytes, 0)
};

export const u8Key: Serializer<number> = {
    toBytes: (value) => Uint8Array.of(value),
    fromBytes: (bytes) => bytes[0]
};

/** (id: u64, index: u32), 12 bytes: all chunks of one id are adjacent and in index order. */
export const idIndexKey: Serializer<[bigint, number]> = {
    toBytes([id, index]) {
        const out = new Uint8Array(12);
        writeU64(out, 0, id);
        writeU32(out, 8, index);
        return out;
    },
    fromBytes: (bytes) => [readU64(bytes, 0), readU32(bytes, 8)]
};

/** (id, chunk index, piece index): 14 bytes, the bucket's piece keys. */
export const idIndexPieceKey: Serializer<[bigint, number, number]> = {
    toBytes([id, index, piece]) {
        const out = new Uint8Array(14);
        writeU64(out, 0, id);
        writeU32(out, 8, index);
        out[12] = piece >>> 8;
        out[13] = piece & 0xff;
        return out;
    },
    fromBytes: (bytes) => [readU64(bytes, 0), readU32(bytes, 8), (bytes[12] << 8) | bytes[13]]
};

/** (u64, u64), 16 bytes: e.g. (time, id), so the earliest entries come first. */
export const u64PairKey: Serializer<[bigint, bigint]> = {
    toBytes([a, b]) {
        const out = new Uint8Array(16);
        writeU64(out, 0, a);
        writeU64(out, 8, b);
        return out;
    },
    fromBytes: (bytes) => [readU64(bytes, 0), readU64(bytes, 8)]
};

/** Principals are at most 29 bytes: a length byte and the bytes padded to 29, 30 bytes in all. */
export const PRINCIPAL_KEY_BYTES = 30;
export const principalKey: Serializer<Principal> = {
    toBytes(value) {
        const raw = value.toUint8Array();
        const out = new Uint8Array(PRINCIPAL_KEY_BYTES);
        out[0] = raw.length;
        out.set(raw, 1);
        return out;
    },
    fromBytes: (bytes) => Principal.fromUint8Array(bytes.slice(1, 1 + bytes[0]))
};

/** (principal, u32 page): an owner's pages of asset ids, adjacent and in page order. */
export const principalPageKey: Serializer<[Principal, number]> = {
    toBytes([principal, page]) {
        const out = new Uint8Array(PRINCIPAL_KEY_BYTES + 4);
        out.set(principalKey.toBytes(principal), 0);
        writeU32(out, PRINCIPAL_KEY_BYTES, page);
        return out;
    },
    fromBytes: (bytes) => [principalKey.fromBytes(bytes.subarray(0, PRINCIPAL_KEY_BYTES)), readU32(bytes, PRINCIPAL_KEY_BYTES)]
};

/** A list of u64 ids, 8 big-endian bytes each. */
export const u64ListSerializer: Serializer<bigint[]> = {
    toBytes(values) {
        const out = new Uint8Array(values.length * 8);
        values.forEach((v, i) => writeU64(out, i * 8, v));
        return out;
    },
    fromBytes(bytes) {
        const out: bigint[] = [];
        for (let i = 0; i + 8 <= bytes.length; i += 8) out.push(readU64(bytes, i));
        return out;
    }
};

/** Records are stored as Candid: self-describing, so later layouts can add optional fields. */
export function candidSerializer<T>(type: IDL.Type): Serializer<T> {
    // One list for the serializer's lifetime, its table built now: the codec keeps tables per list.
    const types = [type];
    prepareCandid(types);
    return {
        toBytes: (value) => encodeCandid(types, [value]),
        fromBytes: (bytes) => decodeCandid(types, bytes)[0] as T
    };
}

export function writeU64(out: Uint8Array, offset: number, value: bigint): void {
    const high = Number((value >> 32n) & 0xffffffffn);
    const low = Number(value & 0xffffffffn);
    writeU32(out, offset, high);
    writeU32(out, offset + 4, low);
}

export function readU64(bytes: Uint8Array, offset: number): bigint {
    return (BigInt(readU32(bytes, offset)) << 32n) | BigInt(readU32(bytes, offset + 4));
}

export function writeU32(out: Uint8Array, offset: number, value: number): void {
    out[offset] = value >>> 24;
    out[offset + 1] = (value >>> 16) & 0xff;
    out[offset + 2] = (value >>> 8) & 0xff;
    out[offset + 3] = value & 0xff;
}

export function readU32(bytes: Uint8Array, offset: number): number {
    return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** Records the stable memory layout version under `key` of a canister's meta map. */
export function writeLayoutVersion(meta: KvMap<number, Uint8Array>, key: number, version: number): void {
    const bytes = new Uint8Array(4);
    writeU32(bytes, 0, version);
    meta.insert(key, bytes);
}

/**
 * After an upgrade: a reason for the canister (`what`) to refuse to start on the layout it finds, or
 * null when it is `expected`. Trapping in post_upgrade makes the IC roll the upgrade back.
 */
export function checkLayoutVersion(meta: KvMap<number, Uint8Array>, key: number, expected: number, what: string): string | null {
    const stored = meta.get(key);
    if (stored === undefined) return `stable memory has no layout version: this is not a Silo ${what}`;
    const version = readU32(stored, 0);
    return version === expected ? null : `stable memory layout v${version} is not the v${expected} this build understands; refusing to start`;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
}

/**
 * An in-memory `KvMap` for unit tests. Like a stable map it keeps keys and values only as bytes, so a
 * value read back is a fresh copy and keys iterate in byte order.
 */
export class MemoryMap<K, V> implements KvMap<K, V> {
    private entries: [Uint8Array, Uint8Array][] = [];

    constructor(
        private readonly keySer: Serializer<K>,
        private readonly valueSer: Serializer<V>
    ) {}

    private find(key: Uint8Array): { found: boolean; at: number } {
        let lo = 0;
        let hi = this.entries.length;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            const c = compareBytes(this.entries[mid][0], key);
            if (c === 0) return { found: true, at: mid };
            if (c < 0) lo = mid + 1;
            else hi = mid;
        }
        return { found: false, at: lo };
    }

    get(key: K): V | undefined {
        const { found, at } = this.find(this.keySer.toBytes(key));
        return found ? this.valueSer.fromBytes(copy(this.entries[at][1])) : undefined;
    }

    insert(key: K, value: V): V | undefined {
        const k = copy(this.keySer.toBytes(key));
        const v = copy(this.valueSer.toBytes(value));
        const { found, at } = this.find(k);
        if (found) {
            const previous = this.valueSer.fromBytes(this.entries[at][1]);
            this.entries[at][1] = v;
            return previous;
        }
        this.entries.splice(at, 0, [k, v]);
        return undefined;
    }

    remove(key: K): V | undefined {
        const { found, at } = this.find(this.keySer.toBytes(key));
        if (!found) return undefined;
        const [[, v]] = this.entries.splice(at, 1);
        return this.valueSer.fromBytes(v);
    }

    containsKey(key: K): boolean {
        return this.find(this.keySer.toBytes(key)).found;
    }

    len(): number {
        return this.entries.length;
    }

    items(startIndex = 0, length = this.entries.length): [K, V][] {
        return this.entries.slice(startIndex, startIndex + length).map(([k, v]) => [this.keySer.fromBytes(k), this.valueSer.fromBytes(copy(v))]);
    }

    keys(startIndex = 0, length = this.entries.length): K[] {
        return this.entries.slice(startIndex, startIndex + length).map(([k]) => this.keySer.fromBytes(k));
    }
}
