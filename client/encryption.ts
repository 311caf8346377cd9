/**
 * End-to-end encryption of Silo files (issue 21): the chunk format, the wrapping of data keys with
 * vetKeys IBE, and the per-session key cache. Canisters only ever see ciphertext and wrapped keys.
 *
 * **Format v1.** A random 256-bit data key per file. The file is cut into chunks of `chunkSize - 16`
 * plaintext bytes (`chunkSize` being the upload's Silo chunk size, so each ciphertext chunk is exactly one
 * Silo chunk); chunk *i* is AES-256-GCM encrypted with the 12-byte nonce `prefix ‖ u32be(i)` (`prefix`: 8
 * random bytes per file) and the additional data `0x01 ‖ u32be(i) ‖ last` (`last` 1 for the final chunk,
 * else 0), giving the plaintext followed by its 16-byte tag. An empty file is one chunk of just a tag. So
 * every chunk decrypts on its own, and a chunk moved, swapped, altered, or a file cut short after a chunk
 * boundary fails authentication.
 *
 * **Keys.** The data key is IBE-encrypted (`IbeCiphertext`) to each principal that may read the file,
 * under the index's vetKD public key for Silo's derivation context; only that principal can obtain the
 * matching vetKey (the index derives it with the caller's principal as input). A session derives its
 * user's vetKey once and keeps it, and the data keys it opened, in memory only.
 */
import { DerivedPublicKey, EncryptedVetKey, IbeCiphertext, IbeIdentity, IbeSeed, TransportSecretKey, type VetKey } from '@dfinity/vetkeys';
import type { Principal } from '@dfinity/principal';

import {
    type Asset,
    type AssetAccess,
    type AssetUrl,
    ciphertextSize,
    ENCRYPTION_NONCE_PREFIX_BYTES,
    ENCRYPTION_TAG_BYTES,
    ENCRYPTION_VERSION,
    type EncryptionInfo,
    type HttpResponse,
    type Result,
    type UploadEncryptionArgs
} from '../shared/types';
import { DecryptionError, fromVariant, IntegrityError, NotSharedError, UnauthorizedError } from './errors';
import type { UploadSource } from './source';

const DATA_KEY_BYTES = 32;

/** Plaintext bytes per chunk for a Silo chunk size. */
export function plaintextChunkSize(chunkSize: number): number {
    if (chunkSize <= ENCRYPTION_TAG_BYTES) throw new RangeError(`a chunk of an encrypted file must hold more than ${ENCRYPTION_TAG_BYTES} bytes`);
    return chunkSize - ENCRYPTION_TAG_BYTES;
}

/** Chunks of an encrypted file of `plaintextSize` bytes (at least one: an empty file is one tag). */
export function encryptedChunkCount(plaintextSize: number, chunkSize: number): number {
    return Math.max(1, Math.ceil(plaintextSize / plaintextChunkSize(chunkSize)));
}

/** The ciphertext size (what Silo stores and verifies) of `plaintextSize` bytes. */
export function encryptedSize(plaintextSize: number, chunkSize: number): number {
    plaintextChunkSize(chunkSize); // the RangeError for a chunk no bigger than its tag
    return Number(ciphertextSize(BigInt(plaintextSize), chunkSize));
}

function nonce(prefix: Uint8Array, index: number): Uint8Array {
    if (prefix.length !== ENCRYPTION_NONCE_PREFIX_BYTES) throw new RangeError(`a nonce prefix has ${ENCRYPTION_NONCE_PREFIX_BYTES} bytes`);
    const out = new Uint8Array(12);
    out.set(prefix, 0);
    new DataView(out.buffer).setUint32(8, index);
    return out;
}

function additionalData(index: number, last: boolean): Uint8Array {
    const out = new Uint8Array(6);
    out[0] = ENCRYPTION_VERSION;
    new DataView(out.buffer).setUint32(1, index);
    out[5] = last ? 1 : 0;
    return out;
}

/** WebCrypto wants ArrayBuffer-backed views; a copy also detaches the caller's buffer from ours. */
const own = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(bytes);

/** Imports a raw 32-byte data key as a non-extractable AES-GCM key. */
export async function importDataKey(raw: Uint8Array): Promise<CryptoKey> {
    if (raw.length !== DATA_KEY_BYTES) throw new RangeError(`a data key has ${DATA_KEY_BYTES} bytes`);
    return crypto.subtle.importKey('raw', own(raw), 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/** A fresh random data key and nonce prefix for one file. */
export function newFileSecrets(): { dataKey: Uint8Array; noncePrefix: Uint8Array } {
    return { dataKey: crypto.getRandomValues(new Uint8Array(DATA_KEY_BYTES)), noncePrefix: crypto.getRandomValues(new Uint8Array(ENCRYPTION_NONCE_PREFIX_BYTES)) };
}

/** Encrypts chunk `index` (`last`: the file's final chunk). */
export async function encryptChunk(key: CryptoKey, prefix: Uint8Array, index: number, last: boolean, plaintext: Uint8Array): Promise<Uint8Array> {
    const params = { name: 'AES-GCM', iv: own(nonce(prefix, index)), additionalData: own(additionalData(index, last)) };
    return new Uint8Array(await crypto.subtle.encrypt(params, key, own(plaintext)));
}

/**
 * Decrypts chunk `index` of a file of `chunkCount` chunks.
 * @throws {@link DecryptionError} when the chunk is not chunk `index` of this file, as its final chunk or not, unaltered
 */
export async function decryptChunk(key: CryptoKey, prefix: Uint8Array, index: number, chunkCount: number, ciphertext: Uint8Array): Promise<Uint8Array> {
    const params = { name: 'AES-GCM', iv: own(nonce(prefix, index)), additionalData: own(additionalData(index, index === chunkCount - 1)) };
    try {
        return new Uint8Array(await crypto.subtle.decrypt(params, key, own(ciphertext)));
    } catch {
        throw new DecryptionError(`Chunk ${index} of ${chunkCount} failed authentication: it was altered, moved, or the file was cut short. Download it again; if it persists, the stored copy is damaged.`);
    }
}

/**
 * The ciphertext of `source` as an {@link UploadSource}: Silo chunk *i* is the encryption of plaintext
 * chunk *i*. Reads must start at chunk boundaries (the client reads chunk by chunk); re-reading a chunk
 * yields the same ciphertext, so a chunk can be sent again.
 */
export function encryptingSource(source: UploadSource, key: CryptoKey, prefix: Uint8Array, chunkSize: number): UploadSource {
    const plainChunk = plaintextChunkSize(chunkSize);
    const count = encryptedChunkCount(source.size, chunkSize);
    const size = encryptedSize(source.size, chunkSize);
    return {
        size,
        name: source.name,
        close: () => source.close(),
        async read(offset, length) {
            if (offset % chunkSize !== 0 || (length < chunkSize && offset + length < size)) throw new RangeError('an encrypted source is read a whole chunk at a time');
            const parts: Uint8Array[] = [];
            for (let at = offset; at < Math.min(offset + length, size); at += chunkSize) {
                const index = at / chunkSize;
                const plain = await source.read(index * plainChunk, plainChunk);
                parts.push(await encryptChunk(key, prefix, index, index === count - 1, plain));
            }
            if (parts.length === 1) return parts[0];
            const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
            parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
            return out;
        }
    };
}

/** The data key wrapped (IBE) to `reader`, under the index's derived public key. */
export function wrapDataKey(publicKey: DerivedPublicKey, reader: Principal, dataKey: Uint8Array): Uint8Array {
    return IbeCiphertext.encrypt(publicKey, IbeIdentity.fromPrincipal(reader), dataKey, IbeSeed.random()).serialize();
}

/**
 * Opens a data key wrapped to the holder of `vetKey`.
 * @throws {@link DecryptionError} when it was wrapped to someone else, or is damaged
 */
export function unwrapDataKey(vetKey: VetKey, wrapped: Uint8Array): Uint8Array {
    try {
        const key = IbeCiphertext.deserialize(wrapped).decrypt(vetKey);
        if (key.length !== DATA_KEY_BYTES) throw new Error('wrong length');
        return key;
    } catch {
        throw new DecryptionError('The wrapped data key does not open with your vetKey: it was not wrapped to your principal. Ask the owner to share the file again.');
    }
}

type Service = Record<string, (...args: any[]) => Promise<any>>;

/** An encrypted asset opened for reading: its format, and a decryptor of its chunks. */
export interface OpenedAsset {
    asset: Asset;
    info: EncryptionInfo;
    /** Whom the owner shared it with (empty for readers). */
    readers: Principal[];
    decrypt(index: number, ciphertext: Uint8Array): Promise<Uint8Array>;
}

/**
 * The keys of one session of one user: the index's derived public key and the user's vetKey, each
 * obtained once (the vetKey costs the index a vetKD fee, so it is derived at most once per vault), and
 * the data keys of the files this session uploaded or opened. All in memory; nothing is stored.
 */
export class KeyVault {
    private publicKeyPromise?: Promise<DerivedPublicKey>;
    private vetKeyPromise?: Promise<VetKey>;
    private readonly dataKeys = new Map<string, Uint8Array>();
    private derived = 0;

    constructor(
        private readonly index: Service,
        private readonly principal: Principal
    ) {}

    /** vetKey derivations this vault has asked the index for (at most one, unless one failed). */
    get derivations(): number {
        return this.derived;
    }

    /** The index's vetKD public key for Silo files (one call per vault). */
    publicKey(): Promise<DerivedPublicKey> {
        this.publicKeyPromise ??= (async () => DerivedPublicKey.deserialize(unwrap<Uint8Array>(await this.index.encryption_public_key())))();
        this.publicKeyPromise.catch(() => (this.publicKeyPromise = undefined));
        return this.publicKeyPromise;
    }

    /** This user's vetKey, derived through the index once per vault and verified against the public key. */
    vetKey(): Promise<VetKey> {
        this.vetKeyPromise ??= (async () => {
            if (this.principal.isAnonymous()) throw new UnauthorizedError('Anonymous callers have no vetKey: use an identity to read encrypted files.');
            const publicKey = await this.publicKey();
            const transport = TransportSecretKey.random();
            this.derived += 1;
            const encrypted = unwrap<Uint8Array>(await this.index.derive_user_key(transport.publicKeyBytes()));
            return EncryptedVetKey.deserialize(encrypted).decryptAndVerify(transport, publicKey, this.principal.toUint8Array());
        })();
        this.vetKeyPromise.catch(() => (this.vetKeyPromise = undefined));
        return this.vetKeyPromise;
    }

    /** Remembers a file's data key (after uploading it), so sharing it needs no derivation. */
    remember(assetId: bigint, dataKey: Uint8Array): void {
        this.dataKeys.set(assetId.toString(), dataKey);
    }

    /**
     * The caller's view of an encrypted asset (`asset_access`).
     * @throws {@link NotSharedError} when the caller is neither its owner nor a reader
     */
    async access(assetId: bigint): Promise<AssetAccess> {
        if (this.principal.isAnonymous()) throw new UnauthorizedError('Anonymous callers cannot read encrypted files: use an identity.');
        const result: Result<AssetAccess> = await this.index.asset_access(assetId);
        if ('Err' in result && 'Unauthorized' in result.Err) throw new NotSharedError(assetId, this.principal);
        return unwrap(result);
    }

    /** A file's data key: cached, or unwrapped from `access` with this user's vetKey. */
    async dataKey(access: AssetAccess): Promise<Uint8Array> {
        const cached = this.dataKeys.get(access.asset.id.toString());
        if (cached !== undefined) return cached;
        const key = unwrapDataKey(await this.vetKey(), access.wrapped_key);
        this.remember(access.asset.id, key);
        return key;
    }

    /** Opens an encrypted asset for reading. @throws {@link NotSharedError}, {@link DecryptionError} */
    async open(assetId: bigint): Promise<OpenedAsset> {
        const access = await this.access(assetId);
        const { asset, encryption: info } = access;
        if (info.version !== ENCRYPTION_VERSION) throw new IntegrityError(`Asset ${assetId} uses encryption format v${info.version}; this client reads v${ENCRYPTION_VERSION}. Update the client.`);
        const expected = encryptedSize(Number(info.plaintext_size), asset.chunk_size);
        if (BigInt(expected) !== asset.size) throw new IntegrityError(`Asset ${assetId} has ${asset.size} bytes, not the ${expected} its encryption record implies.`);
        const key = await importDataKey(await this.dataKey(access));
        const prefix = new Uint8Array(info.nonce_prefix);
        return { asset, info, readers: access.readers, decrypt: (index, ciphertext) => decryptChunk(key, prefix, index, asset.chunk_count, ciphertext) };
    }
}

function unwrap<T>(result: Result<T>): T {
    if ('Err' in result) throw fromVariant(result.Err);
    return result.Ok;
}

/**
 * Reads chunks of a private asset the caller does not own through the bucket's `http_request` with a
 * token URL (readers of an encrypted asset get one from `asset_url`); the bucket's `get_chunk` serves
 * private chunks to their owner only.
 */
export async function tokenChunkReader(index: Service, bucket: Service, asset: Asset, principal: Principal): Promise<(chunk: number) => Promise<Uint8Array>> {
    const url: Result<AssetUrl> = await index.asset_url(asset.id, [3600]);
    if ('Err' in url && 'Unauthorized' in url.Err) throw new NotSharedError(asset.id, principal);
    const { path } = unwrap(url);
    return async (chunk) => {
        const start = chunk * asset.chunk_size;
        const end = Math.min(start + asset.chunk_size, Number(asset.size)) - 1;
        const response: HttpResponse = await bucket.http_request({ method: 'GET', url: path, headers: [['Range', `bytes=${start}-${end}`]], body: new Uint8Array(), certificate_version: [] });
        if (response.status_code === 403) throw new NotSharedError(asset.id, principal);
        if (response.status_code !== 206 && response.status_code !== 200) throw new IntegrityError(`The bucket answered ${response.status_code} for chunk ${chunk} of asset ${asset.id}; try again.`);
        const body = new Uint8Array(response.body);
        if (body.length !== end - start + 1) throw new IntegrityError(`The bucket sent ${body.length} bytes for chunk ${chunk} of asset ${asset.id}, not ${end - start + 1}; try again.`);
        return body;
    };
}

/** An upload prepared for encryption: the ciphertext source, and what `set_upload_encryption` records. */
export interface SealedUpload {
    source: UploadSource;
    args: UploadEncryptionArgs;
    dataKey: Uint8Array;
}

/**
 * Prepares `source` for an encrypted upload: a fresh data key and nonce prefix, the ciphertext source,
 * and the data key wrapped to the owner (no vetKey derivation: wrapping needs only the public key).
 */
export async function sealUpload(vault: KeyVault, owner: Principal, source: UploadSource, chunkSize: number, contentType: string): Promise<SealedUpload> {
    if (owner.isAnonymous()) throw new UnauthorizedError('Anonymous callers cannot upload encrypted files: use an identity.');
    const publicKey = await vault.publicKey();
    const { dataKey, noncePrefix } = newFileSecrets();
    const key = await importDataKey(dataKey);
    return {
        source: encryptingSource(source, key, noncePrefix, chunkSize),
        dataKey,
        args: {
            info: { version: ENCRYPTION_VERSION, plaintext_size: BigInt(source.size), content_type: contentType, nonce_prefix: noncePrefix },
            owner_key: wrapDataKey(publicKey, owner, dataKey)
        }
    };
}
