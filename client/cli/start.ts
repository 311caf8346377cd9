/** `silo start`: the embedded network of --state served over HTTP until Ctrl-C or SIGTERM. */
import { resolve } from 'node:path';

import { DEFAULT_PORT, startSilo } from '../start';
import { UsageError, wholeNumber } from './args';
import { type Command, stringOption } from './command';

export const start: Command = {
    name: 'start',
    args: '',
    summary: 'serve the embedded network over HTTP (IC interface, gateway, web app) until Ctrl-C',
    description: `Serves the embedded replica of --state as a local IC network on one port (default ${DEFAULT_PORT}, dfx's):
the IC HTTP interface at /api (for @dfinity/agent and dfx-style tools); an HTTP gateway to canisters'
http_request at http://<canister-id>.localhost:<port>/ and /<path>?canisterId=<id> (responses verified
against their certification; <canister-id>.raw.localhost skips verification); and the web app at /.
Prints where it listens and the index canister (with --json, one line {"url", "index"}). While it runs,
every other silo command given the same --state (and --network local) goes through it. Checkpoints every
few seconds, and on Ctrl-C or SIGTERM, then exits 0. Here --host is the address to listen on (default
127.0.0.1).`,
    options: {
        port: { type: 'string', value: '<n>', help: `port to listen on (default ${DEFAULT_PORT}; 0 for any free port)` }
    },
    check(invocation) {
        if (invocation.positionals.length > 0) throw new UsageError(`start takes no arguments, got '${invocation.positionals[0]}'`);
        if (stringOption(invocation, 'network') !== undefined && stringOption(invocation, 'network') !== 'embedded') {
            throw new UsageError('start serves the embedded network of --state; --network is for the other commands');
        }
        const host = stringOption(invocation, 'host');
        if (host !== undefined && host.includes('://')) throw new UsageError(`start's --host is the address to listen on (e.g. 127.0.0.1), not a URL`);
        wholeNumber('port', stringOption(invocation, 'port'), 0, 65535);
    },
    async run(invocation) {
        const { output } = invocation;
        const started = await startSilo({
            stateDir: resolve(stringOption(invocation, 'state') ?? '.silo'),
            host: stringOption(invocation, 'host'),
            port: wholeNumber('port', stringOption(invocation, 'port'), 0, 65535),
            onStep: (m) => output.note(m)
        });
        await new Promise<void>((done, fail) => {
            invocation.onInterrupt = () => started.stop().then(done, fail);
            output.result({ url: started.url, index: started.indexId.toText() }, () => `Silo local network at ${started.url}\nindex canister ${started.indexId.toText()}\nCtrl-C to stop`);
        });
    }
};
