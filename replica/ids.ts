import { Principal } from '@dfinity/principal';

export const MANAGEMENT_CANISTER_ID = Principal.fromText('aaaaa-aa');
export const ANONYMOUS = Principal.anonymous();

/** First canister id of the application subnet's range (lxzze-o7777-77777-aaaaa-cai, as in PocketIC). */
const RANGE_START = 0xffffffffffe00000n;

/** Canister ids are 8 big-endian bytes followed by 0x01 0x01 (an opaque id). */
export function canisterIdFromIndex(index: bigint): Principal {
    const bytes = new Uint8Array(10);
    new DataView(bytes.buffer).setBigUint64(0, RANGE_START + index);
    bytes[8] = 0x01;
    bytes[9] = 0x01;
    return Principal.fromUint8Array(bytes);
}

export function toPrincipal(p: Principal | string | Uint8Array): Principal {
    if (typeof p === 'string') return Principal.fromText(p);
    if (p instanceof Uint8Array) return Principal.fromUint8Array(p);
    return p;
}
