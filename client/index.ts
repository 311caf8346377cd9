/** The Silo client library: verified uploads and downloads over the in-process replica or a real network. */
// Everything a web page can use (client/browser.ts), plus what needs Node.
export * from './browser';
export { ReplicaTransport } from './transport';
export type { CallHook } from './transport';
export { EmbeddedSilo } from './embedded';
export { deploySilo } from './deploy';
export type { DeployOptions } from './deploy';
export { identityFromPem, loadIdentity } from './identity';
