/** Installing the probe fixture canister in specs. */
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import { fixtureWasm, type TestPic } from '../helpers/pic';
import { idlFactory, type ProbeService } from '../fixtures/probe/idl';

export const PROBE_WASM = fixtureWasm('probe');

/** The probe's init / post_upgrade argument. */
export function probeArg(text: string): Uint8Array {
    return new Uint8Array(IDL.encode([IDL.Text], [text]));
}

export async function setupProbe(pic: TestPic, init = 'probe', options: { sender?: Principal } = {}) {
    return pic.setupCanister<ProbeService>({ idlFactory, wasm: PROBE_WASM, arg: probeArg(init), sender: options.sender });
}

/** The canister's log lines as text. */
export async function logLines(pic: TestPic, canisterId: Principal, sender?: Principal): Promise<string[]> {
    return (await pic.fetchCanisterLogs({ canisterId, sender })).map((r) => new TextDecoder().decode(r.content));
}
