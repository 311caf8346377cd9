/**
 * The IC's HTTP interface over the in-process replica, and the certified state behind it.
 *
 * - `createIcApi(replica, { stateDir?, keys?, clock?, callTimeoutMs?, onError? })` → `api`, a `node:http`
 *   handler `(req, res) => Promise<boolean>` answering every `/api/...` path (true) and leaving the rest
 *   (false). `api.rootKey` (DER) is what agents fetch from `/api/v2/status`; `api.keys` holds the subnet
 *   id, node id and node key; `api.certifier` makes certificates; `api.runRound()` executes pending
 *   HTTP-submitted messages now. Creating it attaches the certifier to `replica.dataCertificate`, so
 *   `replica.query` (in process too) gives canisters `ic0.data_certificate`.
 * - `ReplicaKeys.load(stateDir?)`: the BLS root key and the node's Ed25519 key, kept in
 *   `<stateDir>/ic_keys.json` (fresh ones without a directory).
 * - `StateCertifier.attach(replica, keys)`: certification without the HTTP interface.
 * - `CANISTER_RANGE` / `inCanisterRange(id)`: the canister ids this subnet certifies (all opaque ids).
 */
export { StateCertifier, CANISTER_RANGE, inCanisterRange } from './certificate';
export type { RequestStatus } from './certificate';
export { ReplicaKeys } from './keys';
export { createIcApi } from './interface';
export type { IcApi, IcApiOptions } from './interface';
