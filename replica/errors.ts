/** Reject codes and IC error codes, worded as the IC replica words them (current generation of texts). */

export const RejectCode = {
    SysFatal: 1,
    SysTransient: 2,
    DestinationInvalid: 3,
    CanisterReject: 4,
    CanisterError: 5,
    SysUnknown: 6
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

export const RejectCodeName: Record<number, string> = {
    1: 'SysFatal',
    2: 'SysTransient',
    3: 'DestinationInvalid',
    4: 'CanisterReject',
    5: 'CanisterError',
    6: 'SysUnknown'
};

/** The IC's error codes (`IC0503` is CanisterCalledTrap, and so on); the hundreds digit is the reject code. */
export const ErrorCode = {
    CanisterQueueFull: 201,
    CanisterIdAlreadyExists: 205,
    CanisterOutOfCycles: 207,
    CanisterNotFound: 301,
    InsufficientCyclesForCreateCanister: 403,
    CanisterRejectedMessage: 406,
    UnknownManagementMessage: 407,
    InvalidManagementPayload: 408,
    CanisterTrapped: 502,
    CanisterCalledTrap: 503,
    CanisterContractViolation: 504,
    CanisterInvalidWasm: 505,
    CanisterDidNotReply: 506,
    CanisterOutOfMemory: 507,
    CanisterStopped: 508,
    CanisterStopping: 509,
    CanisterNotStopped: 510,
    CanisterStoppingCancelled: 511,
    CanisterInvalidController: 512,
    CanisterFunctionNotFound: 513,
    CanisterNonEmpty: 514,
    QueryCallGraphLoopDetected: 517,
    CanisterInstructionLimitExceeded: 522,
    QueryCallGraphTooDeep: 525,
    QueryCallGraphTotalInstructionLimitExceeded: 526,
    CompositeQueryCalledInReplicatedMode: 527,
    CanisterMethodNotFound: 536,
    CanisterWasmModuleNotFound: 537,
    CanisterAlreadyInstalled: 538,
    DeadlineExpired: 601,
    ResponseDropped: 602
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ErrorCodeName: Record<number, string> = Object.fromEntries(Object.entries(ErrorCode).map(([name, code]) => [code, name]));

export function rejectCodeOf(errorCode: number): RejectCode {
    const hundreds = Math.floor(errorCode / 100);
    return (hundreds >= 1 && hundreds <= 6 ? hundreds : RejectCode.CanisterError) as RejectCode;
}

export function formatErrorCode(errorCode: number): string {
    return `IC${String(errorCode).padStart(4, '0')}`;
}

/**
 * The reject a canister's callback sees when no subnet hosts the callee: reject code 3 and this bare text
 * (the IC's stream builder makes it, not execution, so it carries no `ICxxxx` code).
 */
export function noRouteReject(id: string): { type: 'reject'; code: number; message: string } {
    return { type: 'reject', code: RejectCode.DestinationInvalid, message: `No route to canister ${id}` };
}

/** A reject produced by the system (not by canister code calling `msg_reject`). */
export class UserError {
    constructor(
        readonly errorCode: number,
        readonly message: string
    ) {}

    get rejectCode(): RejectCode {
        return rejectCodeOf(this.errorCode);
    }

    toString(): string {
        return `${formatErrorCode(this.errorCode)}: ${this.message}`;
    }

    /** The reject response carrying this error (its code kept apart, as ingress reports it). */
    toResponse(): { type: 'reject'; code: number; message: string; errorCode: number } {
        return { type: 'reject', code: this.rejectCode, message: this.message, errorCode: this.errorCode };
    }
}

const DOCS = 'http://internetcomputer.org/docs/current/references/execution-errors';
const help = (suggestion: string, section: string) => `${suggestion} See documentation: ${DOCS}#${section}`;
const TRAP_HELP = 'Consider gracefully handling failures from this canister or altering the canister to handle exceptions.';
const TOOLCHAIN_HELP =
    'This is likely an error with the compiler/CDK toolchain being used to build the canister. Please report the error to IC devs on the forum: https://forum.dfinity.org and include which language/CDK was used to create the canister.';

/** `Error from Canister <id>: <what>.\n<help>`, the shape of every execution error. */
function fromCanister(id: string, what: string, helpText: string): string {
    return `Error from Canister ${id}: ${what}.\n${helpText}`;
}

export const Errors = {
    canisterNotFound: (id: string) => new UserError(ErrorCode.CanisterNotFound, `Canister ${id} not found`),
    methodNotFound: (id: string, kind: 'update' | 'query' | 'composite_query', method: string) =>
        new UserError(
            ErrorCode.CanisterMethodNotFound,
            fromCanister(id, `Canister has no ${kind} method '${method}'.`, help('Check that the method being called is exported by the target canister.', 'method-not-found'))
        ),
    emptyCanister: (id: string) =>
        new UserError(
            ErrorCode.CanisterWasmModuleNotFound,
            fromCanister(id, 'Attempted to execute a message, but the canister contains no Wasm module.', help('Please install code to this canister before calling it.', 'wasm-module-not-found'))
        ),
    stopped: (id: string) => new UserError(ErrorCode.CanisterStopped, `Canister ${id} is stopped`),
    stopping: (id: string) => new UserError(ErrorCode.CanisterStopping, `Canister ${id} is stopping`),
    calledTrap: (id: string, message: string) =>
        new UserError(ErrorCode.CanisterCalledTrap, fromCanister(id, `Canister called \`ic0.trap\` with message: '${message}'`, help(TRAP_HELP, 'trapped-explicitly'))),
    trapped: (id: string, trapCode: string) => new UserError(ErrorCode.CanisterTrapped, fromCanister(id, `Canister trapped: ${trapCode}`, help(TRAP_HELP, 'trapped'))),
    contractViolation: (id: string, message: string) =>
        new UserError(ErrorCode.CanisterContractViolation, fromCanister(id, `Canister violated contract: ${message}`, TOOLCHAIN_HELP)),
    instructionLimit: (id: string, limit: bigint) =>
        new UserError(
            ErrorCode.CanisterInstructionLimitExceeded,
            fromCanister(
                id,
                `Canister exceeded the limit of ${limit} instructions for single message execution.`,
                help('Try optimizing this method to consume fewer instructions or split the work across multiple messages.', 'instruction-limit-exceeded')
            )
        ),
    invalidWasm: (id: string, detail: string) =>
        new UserError(ErrorCode.CanisterInvalidWasm, fromCanister(id, `Canister's Wasm module is not valid: ${detail}`, TOOLCHAIN_HELP)),
    /** An ingress update call whose call context ended without a response. */
    didNotReply: (id: string) => new UserError(ErrorCode.CanisterDidNotReply, `Canister ${id} did not reply to the call`),
    /** A query that returned without a response. */
    didNotProduceResponse: (id: string) => new UserError(ErrorCode.CanisterDidNotReply, `Canister ${id} did not produce a response`),
    rejectedMessage: (id: string) => new UserError(ErrorCode.CanisterRejectedMessage, `Error from Canister ${id}: Canister rejected the message`),
    notController: (id: string, controllers: string[], sender: string) =>
        new UserError(
            ErrorCode.CanisterInvalidController,
            `Only the controllers of the canister ${id} can control it.\nCanister's controllers: ${controllers.join(' ')}\nSender's ID: ${sender}`
        ),
    notStoppedForDelete: (id: string) => new UserError(ErrorCode.CanisterNotStopped, `Canister ${id} must be stopped before it is deleted.`),
    cannotDeleteItself: (id: string) => new UserError(ErrorCode.CanisterInvalidController, `Canister ${id} cannot delete itself.`),
    notEmpty: (id: string) =>
        new UserError(ErrorCode.CanisterNonEmpty, `Canister ${id} cannot be installed because the canister is not empty. Try installing with mode='reinstall' instead.`),
    stoppingCancelled: (id: string) => new UserError(ErrorCode.CanisterStoppingCancelled, `Canister ${id} has been restarted while stopping.`),
    invalidPayload: (method: string, detail: string) =>
        new UserError(ErrorCode.InvalidManagementPayload, `Error decoding candid for method ${method}: ${detail}`),
    /** The IC answers an unknown management method as a missing method (IC0536, reject code 5), not as IC0407. */
    unknownManagementMethod: (method: string) => new UserError(ErrorCode.CanisterMethodNotFound, `Management canister has no method '${method}'`),
    /** A callback (reply, reject or cleanup) whose table index holds no function, e.g. a one-way call's 0xFFFFFFFF. */
    functionNotFound: (id: string, what: string) => new UserError(ErrorCode.CanisterFunctionNotFound, fromCanister(id, what, TOOLCHAIN_HELP)),
    compositeQueryReplicated: () => new UserError(ErrorCode.CompositeQueryCalledInReplicatedMode, 'Composite query cannot be called in replicated mode'),
    queryCallGraphLoop: () => new UserError(ErrorCode.QueryCallGraphLoopDetected, 'Query calls re-entering the same canister are not allowed yet.'),
    queryCallGraphTooDeep: () => new UserError(ErrorCode.QueryCallGraphTooDeep, 'Composite query calls exceeded the maximum call depth.'),
    queryCallGraphInstructions: () => new UserError(ErrorCode.QueryCallGraphTotalInstructionLimitExceeded, 'Composite query calls exceeded the instruction limit.'),
    deadlineExpired: () => new UserError(ErrorCode.DeadlineExpired, 'Call deadline has expired.'),
    /** A query (or a composite query's call) to a canister below its freezing threshold. */
    frozenForQueries: (id: string) =>
        new UserError(ErrorCode.CanisterOutOfCycles, `Canister ${id} is unable to process query calls because it's frozen. Please top up the canister with cycles and try again.`),
    outOfCycles: (id: string, needed: bigint, available: bigint) =>
        new UserError(
            ErrorCode.CanisterOutOfCycles,
            `Canister ${id} is out of cycles: please top up the canister with at least ${needed - available} additional cycles`
        )
} as const;

/** A system error as the reject response its caller receives. */
export function userErrorResponse(error: UserError): { type: 'reject'; code: number; message: string; errorCode: number } {
    return error.toResponse();
}
