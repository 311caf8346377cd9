/** `silo start`: the embedded replica of --state served as a local IC network (from wip/gateway's cli.ts). */
import { resolve } from 'node:path';

import { UsageError, wholeNumber } from './args';
import { type Command, stringOption } from './command';
import { NETWORKS } from './connect';
import { errorDetails, oneLine } from './output';

/** dfx's port, where `--network local` looks (the server's own default is the same). */
const DEFAULT_PORT = Number(new URL(NETWORKS.local.host).port);

export const start: Command = {
    name: 'start',
    args: '',
    summary: 'serve the embedded network over HTTP (IC interface, gateway) until Ctrl-C',
    description: `Serves the embedded replica of --state as a local IC network on one port (default ${DEFAULT_PORT}, dfx's): the IC
HTTP interface at /api (for @dfinity/agent and dfx-style tools), an HTTP gateway to canisters' http_request at
http://<canister-id>.localhost:<port>/ (verified; <canister-id>.raw.localhost unverified), and the web app at
http://127.0.0.1:<port>/ (or localhost), whose origin serves nothing a canister produced. Prints the URL and
the index canister (--json: {"url", "index"}). Runs until Ctrl-C or SIGTERM, then checkpoints; while it runs,
other silo commands with the same --state go through it. --host is the address to listen on here (default
127.0.0.1).`,
    handlesSignals: true,
    options: {
        port: { type: 'string', value: '<n>', help: `port to listen on (default ${DEFAULT_PORT})` }
    },
    check(invocation) {
        if (invocation.positionals.length > 0) throw new UsageError(`start takes no arguments, got '${invocation.positionals[0]}'`);
        const host = stringOption(invocation, 'host');
        if (host !== undefined && host.includes('://')) throw new UsageError(`start's --host is the address to listen on (e.g. 127.0.0.1), not a URL`);
        wholeNumber('port', stringOption(invocation, 'port'), 0, 65535);
    },
    async run(invocation) {
        const { output } = invocation;
        // Loaded only here: the server's modules (the HTTP interface, BLS, the agent) would slow every other command's start.
        const { runStart } = await import('../start');
        const stateDir = resolve(stringOption(invocation, 'state') ?? '.silo');
        const savedAt = await runStart(
            {
                stateDir,
                host: stringOption(invocation, 'host'),
                port: wholeNumber('port', stringOption(invocation, 'port'), 0, 65535),
                onStep: (m) => output.note(m),
                // Errors of background work (a round, a checkpoint, the HTTP interface): one line each.
                onError: (error) => {
                    output.note(`silo start: ${oneLine(error instanceof Error ? error.message : String(error))}`);
                    if (output.verbose) output.note(errorDetails(error));
                }
            },
            (started) => output.result({ url: started.url, index: started.indexId.toText() }, () => `Silo local network at ${started.url}\nindex canister ${started.indexId.toText()}\nCtrl-C to stop`)
        );
        output.note(`stopped; saved ${stateDir} at ${savedAt?.toISOString() ?? '(never)'}`);
        // Nothing of the server may keep the process alive now (a client's call still waiting, a round
        // scheduled for a call that never completes): if something does, end it anyway, checkpoint taken.
        setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
    }
};
