/** `silo buckets`, `stats` and `deploy`: the deployment as a whole. */
import { resolve } from 'node:path';

import { IDL } from '@dfinity/candid';

import { BucketInfo, type CyclesReport, Stats } from '../../shared/types';
import { deploySilo } from '../deploy';
import { builtModule } from '../embedded';
import { principal, UsageError } from './args';
import { type Command, type Invocation, stringOption } from './command';
import { agentTransport, resolveIdentity, resolveTarget } from './connect';
import { candidJson, formatBytes } from './output';

const noArguments = (invocation: Invocation, command: string): void => {
    if (invocation.positionals.length > 0) throw new UsageError(`${command} takes no arguments, got '${invocation.positionals[0]}'`);
};

export const buckets: Command = {
    name: 'buckets',
    args: '',
    summary: 'show the buckets and their use',
    description: 'Shows each bucket with its status, use, cycles and days of runway. With --json, one JSON array of buckets.',
    options: {},
    check: (invocation) => noArguments(invocation, 'buckets'),
    async run(invocation) {
        const { client } = await invocation.connect();
        const list = await client.buckets();
        invocation.output.result(candidJson(IDL.Vec(BucketInfo), list), () =>
            list
                .map(
                    (b) =>
                        `${b.id.toText()}  ${Object.keys(b.status)[0].padEnd(6)}  used ${formatBytes(Number(b.used_bytes))}, reserved ${formatBytes(Number(b.reserved_bytes))} of ${formatBytes(Number(b.capacity_bytes))}  cycles ${formatCycles(b.cycles[0])}`
                )
                .join('\n')
        );
    }
};

export const stats: Command = {
    name: 'stats',
    args: '',
    summary: 'show totals of the deployment',
    description: 'Shows the totals of the deployment: assets, bytes, sessions, buckets, pending work, cycles.',
    options: {},
    check: (invocation) => noArguments(invocation, 'stats'),
    async run(invocation) {
        const { client } = await invocation.connect();
        const s = await client.stats();
        invocation.output.result(candidJson(Stats, s), () =>
            [
                `assets         ${s.assets}`,
                `stored         ${formatBytes(Number(s.stored_bytes))}`,
                `open sessions  ${s.open_sessions} (${formatBytes(Number(s.reserved_bytes))} reserved)`,
                `buckets        ${s.buckets}`,
                `pending tasks  ${s.pending_bucket_tasks}`,
                `index cycles   ${formatCycles(s.index_cycles)}`,
                `low buckets    ${s.low_cycles_buckets}`
            ].join('\n')
        );
    }
};

/** A canister's cycles in T, with days of runway at its current burn; flags a low balance. */
export function formatCycles(report: CyclesReport | undefined): string {
    if (report === undefined) return 'not read yet';
    const t = (c: bigint) => `${(Number(c / 1_000_000n) / 1_000_000).toFixed(3)} T`;
    const runway = report.runway_days[0] === undefined ? 'no burn yet' : `${report.runway_days[0].toFixed(1)} days of runway at ${t(report.burn_per_day)}/day`;
    const warning = report.low ? `  LOW${report.error[0] === undefined ? '' : `: ${report.error[0]}`}` : '';
    return `${t(report.balance)} (${runway})${warning}`;
}

export const deploy: Command = {
    name: 'deploy',
    personal: true,
    args: '',
    summary: 'deploy Silo to --network local|ic and print the index id',
    description: `Installs the index and a first bucket (built by \`npm run build\`), registers the bucket and gives the
index the bucket module so it can create more. On a local replica the canisters are created with
provisional cycles; on the IC create them first (\`dfx canister create --network ic\`) and pass their ids
with --index-canister and --bucket-canister, and --identity (a controller of both). A verifier canister
(native SHA-256, so uploads verify at a fraction of the cycles) is created locally; on the IC pass
--verifier-canister, a canister whose controllers include the index, or buckets verify in-canister.`,
    options: {
        'index-canister': { type: 'string', value: '<id>', help: 'install the index into this existing canister' },
        'bucket-canister': { type: 'string', value: '<id>', help: 'install the first bucket into this existing canister' },
        'verifier-canister': { type: 'string', value: '<id>', help: 'install the verifier into this existing canister (the index among its controllers)' }
    },
    check(invocation) {
        noArguments(invocation, 'deploy');
        const network = stringOption(invocation, 'network');
        if (network !== 'local' && network !== 'ic') throw new UsageError('deploy needs --network local or --network ic (the embedded network deploys itself)');
        resolveTarget(invocation.options);
        if (network === 'ic' && stringOption(invocation, 'identity') === undefined) throw new UsageError('deploying to the IC needs --identity <pem> (a controller of the canisters)');
        const ids = ['index-canister', 'bucket-canister'].map((name) => stringOption(invocation, name));
        if (network === 'ic' && ids.some((id) => id === undefined)) throw new UsageError('on the IC, create the canisters first and pass --index-canister and --bucket-canister');
        ids.forEach((id, i) => id !== undefined && principal(i === 0 ? 'index-canister' : 'bucket-canister', id));
        const verifier = stringOption(invocation, 'verifier-canister');
        if (verifier !== undefined) principal('verifier-canister', verifier);
    },
    async run(invocation) {
        const { output } = invocation;
        const network = stringOption(invocation, 'network') as 'local' | 'ic';
        const ids = ['index-canister', 'bucket-canister'].map((name) => stringOption(invocation, name));
        const verifier = stringOption(invocation, 'verifier-canister');
        // The same resolution as every other command: --host, else the `silo start` serving --state, else dfx's port.
        const target = resolveTarget(invocation.options);
        const identity = await resolveIdentity(invocation.options, target, output, true);
        const transport = await agentTransport(target.url!, identity, target.fetchRootKey);
        const result = await deploySilo(transport, {
            indexWasm: builtModule('index'),
            bucketWasm: builtModule('bucket'),
            indexId: ids[0] === undefined ? undefined : principal('index-canister', ids[0]),
            bucketId: ids[1] === undefined ? undefined : principal('bucket-canister', ids[1]),
            // On the IC the verifier canister exists beforehand; without one, buckets hash in-canister.
            verifierWasm: network === 'ic' && verifier === undefined ? undefined : builtModule('verifier'),
            verifierId: verifier === undefined ? undefined : principal('verifier-canister', verifier),
            // The IC's production vetKD key; local replicas (dfx, PocketIC, silo start) have dfx_test_key.
            vetkdKey: network === 'ic' ? 'key_1' : undefined,
            onStep: (m) => output.note(m)
        });
        const verifierText = result.verifierId?.toText();
        // The next command, runnable as printed: the same network, URL and identity this deploy used.
        const quote = (text: string) => (/^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`);
        const who = stringOption(invocation, 'identity') !== undefined ? ['--identity', resolve(stringOption(invocation, 'identity')!)] : identity !== undefined ? ['--state', target.stateDir] : [];
        const next = ['silo', 'ls', '--network', network, ...(network === 'local' ? ['--host', target.url!] : []), '--index', result.indexId.toText(), ...who].map(quote).join(' ');
        output.result({ index: result.indexId.toText(), bucket: result.bucketId.toText(), ...(verifierText === undefined ? {} : { verifier: verifierText }), next }, () =>
            `index ${result.indexId.toText()}\nbucket ${result.bucketId.toText()}${verifierText === undefined ? '' : `\nverifier ${verifierText}`}\nnext: ${next}`
        );
    }
};
