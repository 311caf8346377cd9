/** The in-process IC replica: real canister Wasm with the IC's execution semantics, in Node.js. */
export { PocketIc, CanisterCallError } from './pic';
export type { Actor, ActorInterface, ActorMethod, CanisterFixture, CanisterLogRecord, DeferredActor, Identity, PocketIcOptions } from './pic';
export { Replica } from './replica';
export { userErrorResponse } from './errors';
export type { IngressStatus, ReplicaOptions } from './replica';
export { Canister } from './canister';
export { ErrorCode, Errors, RejectCode, UserError, formatErrorCode } from './errors';
export type { CostModel } from './costs';
export { FreeCosts, MeteredCosts } from './costs';
export { Fees } from './fees';
export { INSTRUCTION_LIMITS } from './metering';
export { MANAGEMENT_CANISTER_ID } from './ids';
export { VetKdKeys, VETKD_KEYS, VETKD_KEY_NAMES, VETKD_KEYS_FILE, vetkdFee } from './vetkd';
export type { VetKdKeyName } from './vetkd';
export { prepareModule, compileModule, decodeModule } from './wasm/prepare';
