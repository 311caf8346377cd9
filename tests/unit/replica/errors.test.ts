import { describe, expect, it } from 'vitest';

import { Principal } from '@dfinity/principal';

import { ErrorCode, ErrorCodeName, Errors, formatErrorCode, noRouteReject, RejectCode, RejectCodeName, rejectCodeOf, UserError } from '../../../replica/errors';
import { canisterIdFromIndex, inSubnetRange, SUBNET_RANGE_SIZE } from '../../../replica/ids';

const DOCS = 'http://internetcomputer.org/docs/current/references/execution-errors';
const ID = 'lxzze-o7777-77777-aaaaa-cai';

describe('error codes', () => {
    it('derives the reject code from the hundreds digit of the error code', () => {
        expect(rejectCodeOf(ErrorCode.CanisterIdAlreadyExists)).toBe(RejectCode.SysTransient);
        expect(rejectCodeOf(ErrorCode.CanisterNotFound)).toBe(RejectCode.DestinationInvalid);
        expect(rejectCodeOf(ErrorCode.CanisterRejectedMessage)).toBe(RejectCode.CanisterReject);
        expect(rejectCodeOf(ErrorCode.CanisterCalledTrap)).toBe(RejectCode.CanisterError);
        expect(rejectCodeOf(ErrorCode.DeadlineExpired)).toBe(RejectCode.SysUnknown);
        // Anything outside 1xx-6xx is reported as a canister error.
        expect(rejectCodeOf(42)).toBe(RejectCode.CanisterError);
        expect(rejectCodeOf(999)).toBe(RejectCode.CanisterError);
    });

    it('formats error codes as IC0xxx and names them', () => {
        expect(formatErrorCode(503)).toBe('IC0503');
        expect(formatErrorCode(42)).toBe('IC0042');
        expect(ErrorCodeName[503]).toBe('CanisterCalledTrap');
        expect(ErrorCodeName[601]).toBe('DeadlineExpired');
        expect(RejectCodeName[RejectCode.CanisterReject]).toBe('CanisterReject');
    });

    it('UserError carries its reject code and prints as "ICxxxx: message"', () => {
        const error = new UserError(ErrorCode.CanisterStopped, `Canister ${ID} is stopped`);
        expect(error.rejectCode).toBe(5);
        expect(error.toString()).toBe(`IC0508: Canister ${ID} is stopped`);
    });
});

describe('Errors (IC wording)', () => {
    it('words traps with the documentation links', () => {
        expect(Errors.calledTrap(ID, 'boom')).toEqual(
            new UserError(
                503,
                `Error from Canister ${ID}: Canister called \`ic0.trap\` with message: 'boom'.\nConsider gracefully handling failures from this canister or altering the canister to handle exceptions. See documentation: ${DOCS}#trapped-explicitly`
            )
        );
        expect(Errors.trapped(ID, 'heap out of bounds').message).toBe(
            `Error from Canister ${ID}: Canister trapped: heap out of bounds.\nConsider gracefully handling failures from this canister or altering the canister to handle exceptions. See documentation: ${DOCS}#trapped`
        );
        expect(Errors.trapped(ID, 'x').errorCode).toBe(502);
    });

    it('words a missing method with the double period the IC produces', () => {
        const error = Errors.methodNotFound(ID, 'update', 'nope');
        expect(error.errorCode).toBe(536);
        expect(error.message).toBe(
            `Error from Canister ${ID}: Canister has no update method 'nope'..\nCheck that the method being called is exported by the target canister. See documentation: ${DOCS}#method-not-found`
        );
    });

    it('words contract violations, missing replies and controllers', () => {
        expect(Errors.contractViolation(ID, 'ic0.msg_reply: the call is already replied').message).toMatch(
            new RegExp(`^Error from Canister ${ID}: Canister violated contract: ic0\\.msg_reply: the call is already replied\\.\\nThis is likely an error with the compiler/CDK toolchain`)
        );
        expect(Errors.didNotReply(ID)).toEqual(new UserError(506, `Canister ${ID} did not reply to the call`));
        expect(Errors.didNotProduceResponse(ID).message).toBe(`Canister ${ID} did not produce a response`);
        expect(Errors.notController(ID, ['a', 'b'], 'c')).toEqual(
            new UserError(512, `Only the controllers of the canister ${ID} can control it.\nCanister's controllers: a b\nSender's ID: c`)
        );
        expect(Errors.emptyCanister(ID).message).toContain('Attempted to execute a message, but the canister contains no Wasm module.');
        expect(Errors.emptyCanister(ID).errorCode).toBe(537);
    });

    it('words canister states and best-effort expiry', () => {
        expect(Errors.canisterNotFound(ID)).toEqual(new UserError(301, `Canister ${ID} not found`));
        expect(Errors.stopped(ID).toString()).toBe(`IC0508: Canister ${ID} is stopped`);
        expect(Errors.stopping(ID).toString()).toBe(`IC0509: Canister ${ID} is stopping`);
        const expired = Errors.deadlineExpired();
        expect([expired.errorCode, expired.rejectCode, expired.message]).toEqual([601, 6, 'Call deadline has expired.']);
    });
});

describe('routing and the texts added for issue 18', () => {
    it('routes the subnet range only: 2^20 opaque ids from lxzze-o7777-77777-aaaaa-cai', () => {
        expect(inSubnetRange(canisterIdFromIndex(0n))).toBe(true);
        expect(inSubnetRange(canisterIdFromIndex(SUBNET_RANGE_SIZE - 1n))).toBe(true);
        expect(inSubnetRange(canisterIdFromIndex(SUBNET_RANGE_SIZE))).toBe(false);
        for (const id of ['ryjl3-tyaaa-aaaaa-aaaba-cai', 'rrkah-fqaaa-aaaaa-aaaaq-cai', 'aaaaa-aa', '2vxsx-fae']) expect(inSubnetRange(Principal.fromText(id))).toBe(false);
    });

    it('words the no-route reject and the unknown management method as the IC does', () => {
        expect(noRouteReject('ryjl3-tyaaa-aaaaa-aaaba-cai')).toEqual({ type: 'reject', code: 3, message: 'No route to canister ryjl3-tyaaa-aaaaa-aaaba-cai' });
        const unknown = Errors.unknownManagementMethod('start');
        expect([unknown.rejectCode, unknown.toString()]).toEqual([5, "IC0536: Management canister has no method 'start'"]);
        expect(Errors.compositeQueryReplicated().toString()).toBe('IC0527: Composite query cannot be called in replicated mode');
        expect(Errors.functionNotFound(ID, 'Canister requested to invoke a non-existent Wasm function 4294967295 from table 0').toResponse()).toMatchObject({ code: 5, errorCode: 513 });
    });
});
