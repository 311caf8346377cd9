/**
 * Azle's `@query` and `@update` for a method declared once in `shared/idl.ts`, with Silo's Candid codec.
 *
 * Azle decodes arguments and encodes the reply with `IDL.decode`/`IDL.encode`, which rebuild the whole
 * type table on every call: 40–65 M instructions per call for Silo's result types, most of a query's
 * cost. These decorators register the method with Azle in manual mode and decode and reply through
 * `shared/candid_codec.ts`, which builds each table once, when the canister initialises; the bytes on
 * the wire are the same. A method that throws (or whose arguments do not decode) traps, as with Azle's
 * own decorators.
 */
import type { IDL } from '@dfinity/candid';
import { msgArgData, msgReply, query, update } from 'azle';

import { decodeCandid, encodeCandid, prepareCandid } from '../../shared/candid_codec';

type Method = (...args: any[]) => unknown;
type Decorator = (original: Method, context: ClassMethodDecoratorContext) => void;

function reply(types: readonly IDL.Type[], result: unknown): void {
    let bytes: Uint8Array;
    try {
        bytes = encodeCandid(types, types.length === 0 ? [] : [result]);
    } catch (error) {
        throw new Error(`Failed to encode Candid arguments: ${error}`);
    }
    msgReply(bytes);
}

function manual(func: IDL.FuncClass, original: Method): Method {
    // Now, while the canister initialises: a table first built in a query (or in inspect_message, which
    // decodes update arguments) is rolled back with the rest of its heap and built again by every call.
    prepareCandid(func.argTypes);
    prepareCandid(func.retTypes);
    return function (this: unknown) {
        let args: unknown[];
        try {
            args = decodeCandid(func.argTypes, msgArgData());
        } catch (error) {
            throw new Error(`Failed to decode Candid bytes: ${error}`);
        }
        const result = original.apply(this, args);
        if (result instanceof Promise) return result.then((value) => reply(func.retTypes, value));
        reply(func.retTypes, result);
        return undefined;
    };
}

/** `@query(func.argTypes, func.retTypes[0])`, decoded and replied through the cached codec. */
export function candidQuery(func: IDL.FuncClass): Decorator {
    const register = query(func.argTypes, func.retTypes[0], { manual: true }) as unknown as Decorator;
    return (original, context) => register(manual(func, original), context);
}

/** `@update(func.argTypes, func.retTypes[0])`, decoded and replied through the cached codec. */
export function candidUpdate(func: IDL.FuncClass): Decorator {
    const register = update(func.argTypes, func.retTypes[0], { manual: true }) as unknown as Decorator;
    return (original, context) => register(manual(func, original), context);
}
