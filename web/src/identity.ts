/**
 * Where the page's identity comes from: the one module to replace for the IC, where an Internet Identity
 * login (`@icp-sdk/auth`'s AuthClient: `login()`, then `getIdentity()`) takes the place of this
 * browser-held key. Everything else only sees an {@link IdentitySource}.
 *
 * The key is a WebCrypto `CryptoKey` created or imported with `extractable: false` and kept in
 * IndexedDB as that object: script in the app's origin can sign with it while the page is open, but
 * no script can read the private key out (the browser refuses to export it), so nothing can carry the
 * identity away. The origin itself is kept to the app's own files (see replica/http/server.ts).
 */
import { type Identity, type PublicKey, type Signature, SignIdentity } from '@dfinity/agent';
import { ECDSAKeyIdentity, Ed25519KeyIdentity, Ed25519PublicKey } from '@dfinity/identity';

/** What the rest of the app needs from an identity provider. */
export interface IdentitySource {
    /** The identity to call as (created on first use). */
    identity(): Promise<Identity>;
    /** Forgets the identity: the next `identity()` is a new principal, and its files are out of reach. */
    forget(): Promise<void>;
    /** A short description for the header, e.g. "key kept in this browser" (final once `identity()` resolved). */
    readonly label: string;
}

/** The browser's key source, which can also take a key the user picks from a file. */
export interface BrowserKeySource extends IdentitySource {
    /**
     * Replaces this browser's key with the Ed25519 PKCS#8 key of a PEM file (`silo`'s
     * `<state>/identity.pem`, `dfx identity export` of an Ed25519 identity), imported non-extractable,
     * so the page and the CLI act as one principal. The previous key is gone (and with it the reach
     * to its files, unless they were shared). Resolves to the new identity.
     */
    importPem(pem: string): Promise<Identity>;
}

/** A PEM the browser cannot keep as a non-extractable key, or that holds no private key. */
export class KeyImportError extends Error {
    override name = 'KeyImportError';
}

const DB = 'silo-web';
const STORE = 'identity';
/** The current key: a {@link StoredKey}. */
const KEY = 'webcrypto';
/** Before issue 17: the raw Ed25519 seed (a Uint8Array), readable by any script of the origin. */
const LEGACY_SEED = 'ed25519';

interface StoredKey {
    kind: 'ecdsa-p256' | 'ed25519';
    privateKey: CryptoKey;
    publicKey: CryptoKey;
}

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

/** An Ed25519 identity whose private key is a (non-extractable) WebCrypto key. */
class CryptoKeyEd25519Identity extends SignIdentity {
    constructor(
        private readonly privateKey: CryptoKey,
        private readonly publicKey: Ed25519PublicKey
    ) {
        super();
    }

    getPublicKey(): PublicKey {
        return this.publicKey;
    }

    async sign(blob: Uint8Array): Promise<Signature> {
        return new Uint8Array(await crypto.subtle.sign('Ed25519', this.privateKey, blob as Uint8Array<ArrayBuffer>)) as Signature;
    }
}

async function identityOf(stored: StoredKey): Promise<Identity> {
    if (stored.kind === 'ecdsa-p256') return ECDSAKeyIdentity.fromKeyPair({ privateKey: stored.privateKey, publicKey: stored.publicKey });
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', stored.publicKey));
    return new CryptoKeyEd25519Identity(stored.privateKey, Ed25519PublicKey.fromRaw(raw));
}

/** DER prefix of an Ed25519 private key in PKCS#8 (RFC 8410); the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/** Imports an Ed25519 seed as a non-extractable signing key (the seed itself is dropped by the caller). */
async function importEd25519Seed(seed: Uint8Array): Promise<StoredKey> {
    const pkcs8 = new Uint8Array([...ED25519_PKCS8_PREFIX, ...seed]);
    const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
    pkcs8.fill(0);
    const publicRaw = Ed25519KeyIdentity.fromSecretKey(seed).getPublicKey().toRaw();
    const publicKey = await crypto.subtle.importKey('raw', publicRaw as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, true, ['verify']);
    return { kind: 'ed25519', privateKey, publicKey };
}

/** The seed of an Ed25519 PKCS#8 PEM, or why there is none. */
function ed25519SeedOfPem(pem: string): Uint8Array {
    const match = /-----BEGIN PRIVATE KEY-----([\s\S]*?)-----END PRIVATE KEY-----/.exec(pem);
    if (match === null) {
        const what = pem.includes('EC PRIVATE KEY') ? 'a secp256k1 key (dfx\'s default), which browsers cannot keep non-extractable' : 'no PKCS#8 private key block';
        throw new KeyImportError(`The file holds ${what}: pick an Ed25519 PKCS#8 PEM, such as the CLI's <state>/identity.pem.`);
    }
    let der: Uint8Array;
    try {
        der = Uint8Array.from(atob(match[1].replace(/\s+/g, '')), (c) => c.charCodeAt(0));
    } catch {
        throw new KeyImportError('The PEM block is not base64.');
    }
    if (der.length !== 48 || !ED25519_PKCS8_PREFIX.every((b, i) => der[i] === b)) {
        throw new KeyImportError('The file holds a private key that is not Ed25519: pick an Ed25519 PKCS#8 PEM, such as the CLI\'s <state>/identity.pem.');
    }
    return der.subarray(16);
}

/**
 * The key generated in this browser (ECDSA P-256, non-extractable) or imported from a PEM, kept in
 * IndexedDB (per origin). A raw Ed25519 seed kept by earlier versions is migrated on first use: it
 * is imported as a non-extractable Ed25519 key (the same principal, so its files stay reachable) and
 * deleted. On a browser without WebCrypto Ed25519 (before Chromium 137, Firefox 129, Safari 17) the
 * old seed stays in use as it was, and the label says so.
 */
export function browserKeySource(): BrowserKeySource {
    let cached: Promise<Identity> | undefined;
    let label = 'non-extractable key kept in this browser';
    const load = async (): Promise<Identity> => {
        const saved = (await request((await store('readonly')).get(KEY))) as StoredKey | undefined;
        if (saved !== undefined && saved.privateKey instanceof CryptoKey) return identityOf(saved);
        const legacy = (await request((await store('readonly')).get(LEGACY_SEED))) as Uint8Array | undefined;
        if (legacy instanceof Uint8Array && legacy.length === 32) {
            let migrated: StoredKey;
            try {
                migrated = await importEd25519Seed(legacy);
            } catch {
                label = 'key kept readable in this browser (update the browser to protect it)';
                return Ed25519KeyIdentity.fromSecretKey(legacy);
            }
            const tx = await store('readwrite');
            tx.put(migrated, KEY);
            await request(tx.delete(LEGACY_SEED));
            legacy.fill(0);
            return identityOf(migrated);
        }
        const fresh = await ECDSAKeyIdentity.generate({ extractable: false });
        const pair = fresh.getKeyPair();
        await request((await store('readwrite')).put({ kind: 'ecdsa-p256', privateKey: pair.privateKey, publicKey: pair.publicKey } satisfies StoredKey, KEY));
        return fresh;
    };
    return {
        get label() {
            return label;
        },
        identity() {
            cached ??= load();
            return cached;
        },
        async importPem(pem: string) {
            const seed = ed25519SeedOfPem(pem);
            let imported: StoredKey;
            try {
                imported = await importEd25519Seed(seed);
            } catch (error) {
                throw new KeyImportError(`This browser cannot keep an Ed25519 key non-extractable (${(error as Error).message}).`);
            } finally {
                seed.fill(0);
            }
            const tx = await store('readwrite');
            tx.put(imported, KEY);
            await request(tx.delete(LEGACY_SEED));
            label = 'non-extractable key kept in this browser';
            cached = identityOf(imported);
            return cached;
        },
        async forget() {
            cached = undefined;
            const tx = await store('readwrite');
            tx.delete(LEGACY_SEED);
            await request(tx.delete(KEY));
        }
    };
}

/**
 * Wires a file input to {@link BrowserKeySource.importPem}: the user picks a PEM, the page imports it
 * and reloads as the new principal. The file is read locally; no key ever crosses the network.
 */
export function offerKeyImport(source: BrowserKeySource, button: HTMLElement, input: HTMLInputElement, notify: (message: string, isError?: boolean) => void): void {
    button.addEventListener('click', () => input.click());
    input.addEventListener('change', async () => {
        const file = input.files?.[0];
        input.value = '';
        if (file === undefined) return;
        try {
            if (file.size > 16 * 1024) throw new KeyImportError('That file is too large to be a PEM key.');
            await source.importPem(await file.text());
            location.reload();
        } catch (error) {
            notify(error instanceof KeyImportError ? error.message : `The key could not be imported: ${(error as Error).message}`, true);
        }
    });
}
