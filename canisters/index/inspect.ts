/**
 * The index's canister_inspect_message: ingress update calls that can only be refused are dropped before
 * the index pays for executing them. Runs for ingress only, reads at most one record, decodes only small
 * arguments. Calls that an honest client may make and get a typed error for (an unknown or expired
 * session id, an invalid argument) are let through, so the client still learns why.
 */
import type { Principal } from '@dfinity/principal';

import { MAX_CONTENT_TYPE_BYTES, MAX_NAME_BYTES } from '../../shared/constants';
import type { BeginUploadArgs } from '../../shared/types';
import { inspectKeyCall } from './keys';
import type { IndexState } from './state';

/** Update methods a signed-in user calls; anything else is for controllers (admin_*) or unknown. */
const USER_UPDATES = new Set(['begin_upload', 'finish_upload', 'abort_upload', 'delete_asset']);
/** Largest argument of a method that takes one id. */
const ID_ARG_BYTES = 64;
/** begin_upload arguments up to this size are decoded and checked; larger ones carry checkpoints. */
const BEGIN_DECODE_BYTES = 64 * 1024;

export interface InspectedCall {
    caller: Principal;
    method: string;
    argBytes: number;
    isController(p: Principal): boolean;
    /** Decodes the argument with the method's Candid types. */
    decode(): unknown[];
}

/** Why an ingress update call should be dropped, or null to accept it. */
export function inspectIndexMessage(state: IndexState, call: InspectedCall): string | null {
    const { caller, method } = call;
    if (method.startsWith('admin_')) return call.isController(caller) ? null : `${method} is for controllers of the index`;
    const keyRefusal = inspectKeyCall(caller, method, call.argBytes);
    if (keyRefusal !== undefined) return keyRefusal;
    if (!USER_UPDATES.has(method)) return null;
    if (caller.isAnonymous()) return 'anonymous callers cannot upload or delete';
    if (method === 'begin_upload') {
        if (call.argBytes > BEGIN_DECODE_BYTES) return null;
        const [args] = call.decode() as [BeginUploadArgs];
        if (args.name.length > MAX_NAME_BYTES || args.content_type.length > MAX_CONTENT_TYPE_BYTES) return 'name or content_type too long';
        return null;
    }
    if (call.argBytes > ID_ARG_BYTES) return `${method} takes one id`;
    const [id] = call.decode() as [bigint];
    const owner = (p: Principal) => p.toText() === caller.toText() || (method !== 'finish_upload' && call.isController(caller));
    const session = method === 'delete_asset' ? undefined : state.sessions.get(id);
    if (session !== undefined) return owner(session.owner) ? null : `session ${id} belongs to another caller`;
    if (method === 'abort_upload') return null;
    const asset = state.assets.get(id);
    if (asset !== undefined) return owner(asset.asset.owner) ? null : `asset ${id} belongs to another caller`;
    return null;
}
