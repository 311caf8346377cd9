/**
 * Where the page's identity comes from: the one module to replace for the IC, where an Internet Identity
 * login (`@icp-sdk/auth`'s AuthClient: `login()`, then `getIdentity()`) takes the place of this
 * browser-held key. Everything else only sees an {@link IdentitySource}.
 */
import type { Identity } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';

/** What the rest of the app needs from an identity provider. */
export interface IdentitySource {
    /** The identity to call as (created on first use). */
    identity(): Promise<Identity>;
    /** Forgets the identity: the next `identity()` is a new principal, and its files are out of reach. */
    forget(): Promise<void>;
    /** A short description for the header, e.g. "key kept in this browser". */
    readonly label: string;
}

const DB = 'silo-web';
const STORE = 'identity';
const KEY = 'ed25519';

function request<T>(r: IDBRequest<T>): Promise<T> {
    return new Promise((resolve, reject) => {
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
    });
}

async function store(mode: IDBTransactionMode): Promise<IDBObjectStore> {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    const db = await request(open);
    return db.transaction(STORE, mode).objectStore(STORE);
}

/**
 * An Ed25519 key generated in this browser and kept in IndexedDB (per origin). Ed25519 because every
 * IC implementation verifies it; a non-extractable WebCrypto ECDSA key would keep the secret out of
 * script reach, at the price of needing P-256 support from the replica.
 */
export function browserKeySource(): IdentitySource {
    let cached: Promise<Identity> | undefined;
    return {
        label: 'key kept in this browser',
        identity() {
            cached ??= (async () => {
                const saved = (await request((await store('readonly')).get(KEY))) as Uint8Array | undefined;
                if (saved instanceof Uint8Array && saved.length === 32) return Ed25519KeyIdentity.fromSecretKey(saved);
                const seed = crypto.getRandomValues(new Uint8Array(32));
                await request((await store('readwrite')).put(seed, KEY));
                return Ed25519KeyIdentity.fromSecretKey(seed);
            })();
            return cached;
        },
        async forget() {
            cached = undefined;
            await request((await store('readwrite')).delete(KEY));
        }
    };
}
