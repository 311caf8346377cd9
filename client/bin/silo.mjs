#!/usr/bin/env node
// Runs the bundled CLI that `npm run build` writes, or the TypeScript source through tsx before a build.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// The embedded replica collects garbage after each checkpoint to keep long uploads' memory bounded.
setFlagsFromString('--expose-gc');
globalThis.gc = runInNewContext('gc');

// Whatever escapes the CLI's own handling (a library's stray rejection) is still one line; --verbose adds the stack.
const verbose = process.argv.includes('--verbose') || process.argv.includes('--verbose=true');
const die = (error) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`silo: unexpected error: ${message.split('\n').find((l) => l.trim() !== '') ?? ''}\n`);
    if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exit(1);
};
process.on('uncaughtException', die);
process.on('unhandledRejection', die);

const bundle = fileURLToPath(new URL('../../.build/silo.mjs', import.meta.url));
let main;
if (existsSync(bundle)) {
    ({ main } = await import(bundle));
} else {
    const { register } = await import('tsx/esm/api');
    register();
    ({ main } = await import('../cli.ts'));
}
process.exitCode = await main(process.argv.slice(2));
