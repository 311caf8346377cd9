/** The Silo client library: verified uploads and downloads over the in-process replica or a real network. */
export { SiloClient, defaultRetryPolicy } from './silo';
export { gatewayUrl } from './urls';
export type { AssetUrlOptions, IcDomain } from './urls';
export type { DownloadOptions, DownloadSink, Progress, RetryPolicy, UploadOptions } from './silo';
export { AgentTransport, ReplicaTransport } from './transport';
export type { CallHook, Transport } from './transport';
export { EmbeddedSilo } from './embedded';
export { deploySilo } from './deploy';
export type { DeployOptions } from './deploy';
export { identityFromPem, loadIdentity } from './identity';
export type { SourceInput, UploadSource } from './source';
export * from './errors';
export type { Asset, BucketInfo, Stats, SessionInfo } from '../shared/types';
