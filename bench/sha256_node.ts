/**
 * Micro-benchmark (informational): throughput of shared/sha256.ts vs node:crypto on 16 MiB, in Node.
 *     npx tsx bench/sha256_node.ts [MiB]
 * Prints the best and the median of a few runs for each way of hashing. Node's JIT says little about the
 * cost inside a canister (QuickJS, interpreted), but it shows regressions and the client's speed.
 */
import { createHash } from 'node:crypto';
import { Sha256, absorbBlocks, finalize, initialState, sha256, toHex } from '../shared/sha256';
import { bytes } from '../tests/helpers/bytes';

const MiB = 1 << 20;
const sizeMiB = Number(process.argv[2] ?? 16);
// deterministic content (xorshift32), no Math.random
const data = bytes(sizeMiB * MiB, 0x9e3779b9);

function measure(name: string, run: () => Uint8Array, reps = 5): string {
    let digest = toHex(run()); // warm-up (and JIT tier-up)
    const ms: number[] = [];
    for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        const d = toHex(run());
        ms.push(performance.now() - t0);
        if (d !== digest) throw new Error(`${name}: digest changed between runs`);
        digest = d;
    }
    ms.sort((a, b) => a - b);
    const rate = (t: number) => (sizeMiB / (t / 1000)).toFixed(1).padStart(7);
    console.log(`${name.padEnd(44)} best ${rate(ms[0])} MiB/s   median ${rate(ms[ms.length >> 1])} MiB/s`);
    return digest;
}

console.log(`SHA-256 of ${sizeMiB} MiB, Node ${process.version}`);
const ref = measure('node:crypto createHash', () => createHash('sha256').update(data).digest());
const results = [
    measure('shared/sha256 sha256() one-shot', () => sha256(data)),
    measure('shared/sha256 Sha256.update (1 MiB pieces)', () => {
        const h = new Sha256();
        for (let i = 0; i < data.length; i += MiB) h.update(data.subarray(i, i + MiB));
        return h.digest();
    }),
    measure('shared/sha256 absorbBlocks (2 MiB chunks)', () => {
        let s = initialState();
        const chunk = 2 * MiB;
        for (let i = 0; i + chunk < data.length; i += chunk) s = absorbBlocks(s, data.subarray(i, i + chunk));
        return finalize(s, data.subarray(s.length));
    })
];
for (const d of results) if (d !== ref) throw new Error(`digest mismatch: ${d} vs node:crypto ${ref}`);
console.log(`digest ${ref} (all agree)`);
