/**
 * Calibration of the replica's instruction metering against figures measured on the IC replica: Azle
 * publishes, per example, the instructions each update call took (`benchmarks.md`, "Current benchmarks
 * Azle version: 0.33.0", measured with `performance_counter(1)` at the end of the method, 13-node
 * subnet). The fixtures in `tests/fixtures/calibration/` reproduce those examples' logic (our own code)
 * and are built with AZLE_RECORD_BENCHMARKS=true, so the canister records the same counter the same way;
 * `_azle_get_benchmarks` returns what it recorded. The calls are the ones the examples' tests make.
 */
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { PocketIc } from '../replica';
import { fixtureWasm } from '../tests/helpers/pic';

export interface CalibrationCall {
    method: string;
    arg: Uint8Array;
    /** Instructions Azle published for this call (Azle 0.33.0, IC replica). */
    published: number;
}

export interface CalibrationCase {
    /** Fixture name (tests/fixtures/dfx.json). */
    fixture: string;
    /** The Azle example it reproduces. */
    example: string;
    calls: CalibrationCall[];
}

const nat = (n: bigint) => new Uint8Array(IDL.encode([IDL.Nat], [n]));
const text = (t: string) => new Uint8Array(IDL.encode([IDL.Text], [t]));
const none = () => new Uint8Array(IDL.encode([], []));

/** The published figures (demergent-labs/azle, benchmarks.md of each example, Azle 0.33.0). */
export const CALIBRATION: CalibrationCase[] = [
    {
        fixture: 'calibration_hello_world',
        example: 'examples/stable/demo/hello_world',
        calls: [{ method: 'setMessage', arg: text('Goodbye world!'), published: 1_395_312 }]
    },
    {
        fixture: 'calibration_counter',
        example: 'examples/stable/test/end_to_end/candid_rpc/motoko_examples/counter',
        calls: [
            { method: 'set', arg: nat(10n), published: 1_063_354 },
            { method: 'inc', arg: none(), published: 925_003 },
            { method: 'inc', arg: none(), published: 925_523 }
        ]
    },
    {
        fixture: 'calibration_factorial',
        example: 'examples/stable/test/end_to_end/candid_rpc/motoko_examples/factorial',
        calls: [
            { method: 'fac', arg: nat(0n), published: 1_306_321 },
            { method: 'fac', arg: nat(5n), published: 1_283_253 },
            { method: 'fac', arg: nat(20n), published: 1_735_543 },
            { method: 'fac', arg: nat(50n), published: 2_952_103 },
            { method: 'fac', arg: nat(100n), published: 5_431_166 }
        ]
    }
];

export interface CalibrationRow {
    example: string;
    method: string;
    published: number;
    measured: number;
    /** (measured - published) / published. */
    deviation: number;
}

const BenchmarkEntry = IDL.Record({ method_name: IDL.Text, instructions: IDL.Nat64, timestamp: IDL.Nat64 });

/** Installs each fixture on a fresh replica, makes the example's calls, and reads what the canister recorded. */
export async function runCalibration(): Promise<CalibrationRow[]> {
    const pic = await PocketIc.create();
    const controller = Principal.fromUint8Array(Uint8Array.of(0x5c, 0xa1));
    const rows: CalibrationRow[] = [];
    try {
        for (const c of CALIBRATION) {
            const canisterId = await pic.createCanister({ sender: controller, controllers: [controller] });
            await pic.installCode({ canisterId, wasm: fixtureWasm(c.fixture), sender: controller });
            for (const call of c.calls) await pic.updateCall({ canisterId, method: call.method, arg: call.arg, sender: controller });
            // A controller-only query of the Azle runtime: the performance_counter(1) values it recorded.
            const data = await pic.queryCall({ canisterId, method: '_azle_get_benchmarks', sender: controller });
            const [recorded] = IDL.decode([IDL.Vec(BenchmarkEntry)], data) as unknown as [{ method_name: string; instructions: bigint }[]];
            if (recorded.length !== c.calls.length) throw new Error(`${c.fixture}: ${recorded.length} benchmarks recorded for ${c.calls.length} calls`);
            c.calls.forEach((call, i) => {
                if (recorded[i].method_name !== call.method) throw new Error(`${c.fixture}: recorded ${recorded[i].method_name}, expected ${call.method}`);
                const measured = Number(recorded[i].instructions);
                rows.push({ example: c.example.split('/').pop()!, method: call.method, published: call.published, measured, deviation: (measured - call.published) / call.published });
            });
        }
    } finally {
        await pic.tearDown();
    }
    return rows;
}
