/**
 * Writes the committed Candid interfaces, canisters/index/index.did and canisters/bucket/bucket.did,
 * from shared/types.ts and shared/idl.ts. Run after changing a canister's Candid types (`npm run did`);
 * a spec fails while they disagree with what the canisters declare.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { renderDid, services, type ServiceName } from './candid';

const root = resolve(import.meta.dirname, '..');

export function didPath(name: ServiceName): string {
    return join(root, 'canisters', name, `${name}.did`);
}

for (const name of Object.keys(services) as ServiceName[]) {
    writeFileSync(didPath(name), renderDid(name));
    console.log(`wrote canisters/${name}/${name}.did`);
}
