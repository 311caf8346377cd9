/**
 * The Silo client library for web pages: everything of `client/index.ts` that works without Node
 * (SiloClient over AgentTransport, uploads of Files/Blobs/bytes, downloads to memory, the typed errors).
 * The embedded replica, deployment and PEM identities are Node-only and not exported here. Bundlers that
 * honour package.json's "browser" field also swap `node_io.ts` for its browser stand-in.
 */
export { SiloClient, defaultRetryPolicy } from './silo';
export type { DownloadOptions, DownloadSink, Progress, RetryPolicy, UploadOptions } from './silo';
export { gatewayUrl } from './urls';
export { contentTypeFor, DEFAULT_CONTENT_TYPE } from './content_type';
export type { ContentTypeHints } from './content_type';
export { chunkSizeProblem, CHUNK_SIZE_RULE } from './chunk_size';
export type { AssetUrlOptions, IcDomain } from './urls';
export { AgentTransport } from './transport';
export type { Transport } from './transport';
export type { SourceInput, UploadSource } from './source';
export * from './errors';
export { KeyVault } from './encryption';
export type { Asset, BucketInfo, EncryptionInfo, Stats, SessionInfo } from '../shared/types';
export { ENCRYPTED_CONTENT_TYPE } from '../shared/types';
