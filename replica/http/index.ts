/**
 * The IC's HTTP interface over the in-process replica, and the certified state behind it.
 *
 * - `StateCertifier.attach(replica, keys)`: certify the replica's state with `keys` and give queries
 *   `ic0.data_certificate` (in process too: `replica.query` then returns certified responses).
 * - `ReplicaKeys.load(stateDir?)`: the BLS root key and node key, kept in `<stateDir>/ic_keys.json`.
 */
export { StateCertifier, CANISTER_RANGE, inCanisterRange } from './certificate';
export type { RequestStatus } from './certificate';
export { ReplicaKeys } from './keys';
export { createIcApi } from './interface';
export type { IcApi, IcApiOptions } from './interface';
