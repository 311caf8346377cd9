/**
 * The replica implements the management canister from shared/management.ts (the index calls it with the
 * same types); the client calls it through @dfinity/ic-management's interface. Both must be the IC's.
 */
import { IDL } from '@dfinity/candid';
import { idlFactory } from '@dfinity/ic-management/dist/candid/ic-management.idl.js';
import { describe, expect, it } from 'vitest';

import { ManagementMethods } from '../../../shared/management';

const official = new Map((idlFactory({ IDL }) as IDL.ServiceClass)._fields);
const show = (ts: IDL.Type[]): string => ts.map((t) => t.display()).join(', ');

describe('shared/management.ts', () => {
    it.each(Object.entries(ManagementMethods))('%s has the types of @dfinity/ic-management', (name, method) => {
        const theirs = official.get(name) as IDL.FuncClass | undefined;
        expect(theirs, `${name} is not a management canister method`).toBeDefined();
        expect(show(method.args as unknown as IDL.Type[])).toBe(show(theirs!.argTypes));
        expect(show(method.result as unknown as IDL.Type[])).toBe(show(theirs!.retTypes));
    });
});
