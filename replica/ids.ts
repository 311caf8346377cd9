import { Principal } from '@dfinity/principal';

export const MANAGEMENT_CANISTER_ID = Principal.fromText('aaaaa-aa');
export const ANONYMOUS = Principal.anonymous();

/** First canister id of the application subnet's range (lxzze-o7777-77777-aaaaa-cai, as in PocketIC). */
const RANGE_START = 0xffffffffffe00000n;

/** Canister ids the subnet's range holds (2^20, as PocketIC's application subnet). */
export const SUBNET_RANGE_SIZE = 1n << 20n;

/**
 * Whether the subnet's routing table covers `id`: an opaque id in the subnet's range. Ids outside it
 * (a mainnet canister id, a user principal) have no route: calls to them are rejected with
 * `No route to canister <id>` (reject code 3), as the IC rejects calls to canisters on no subnet.
 */
export function inSubnetRange(id: Principal): boolean {
    const bytes = id.toUint8Array();
    if (bytes.length !== 10 || bytes[8] !== 0x01 || bytes[9] !== 0x01) return false;
    const index = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0) - RANGE_START;
    return index >= 0n && index < SUBNET_RANGE_SIZE;
}

/** Canister ids are 8 big-endian bytes followed by 0x01 0x01 (an opaque id). */
export function canisterIdFromIndex(index: bigint): Principal {
    const bytes = new Uint8Array(10);
    new DataView(bytes.buffer).setBigUint64(0, RANGE_START + index);
    bytes[8] = 0x01;
    bytes[9] = 0x01;
    return Principal.fromUint8Array(bytes);
}

const texts = new WeakMap<Principal, string>();

/** `p.toText()`, remembered per principal object (the queue limit compares callees on every call_perform). */
export function principalText(p: Principal): string {
    let text = texts.get(p);
    if (text === undefined) texts.set(p, (text = p.toText()));
    return text;
}

export function toPrincipal(p: Principal | string | Uint8Array): Principal {
    if (typeof p === 'string') return Principal.fromText(p);
    if (p instanceof Uint8Array) return Principal.fromUint8Array(p);
    return p;
}
