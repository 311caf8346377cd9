/**
 * The `silo` command: upload, download, list, inspect and delete files, on the embedded replica (the
 * default, kept in `--state`) or on a real network through HttpAgent. The commands themselves are the
 * table in `cli/commands.ts`.
 *
 * Exit codes: 0 success, 1 the operation failed, 2 usage error, 3 the state directory is in use or
 * unusable, 130 interrupted (Ctrl-C).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { CheckpointFailedError } from '../replica/checkpointer';
import { StateCorruptError, StateInUseError } from '../replica/persistence';
import { didYouMean, GLOBAL_OPTIONS, type OptionTable, parseCommandLine, UsageError } from './cli/args';
import type { Command, Connection, Invocation } from './cli/command';
import { COMMANDS } from './cli/commands';
import { checkNetwork, connect, isUnreachable, noReplica, StateUnusableError } from './cli/connect';
import { errorDetails, Output } from './cli/output';
import { AssetNotFoundError, SiloError } from './errors';

export { UsageError } from './cli/args';

export const EXIT = { ok: 0, failure: 1, usage: 2, state: 3, interrupted: 130 } as const;

function version(): string {
    const root = resolve(import.meta.dirname, '..');
    return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
}

function optionLines(options: OptionTable): string {
    const rows = Object.entries(options).map(([name, spec]) => [`${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` ${spec.value}` : ''}`, spec.help]);
    const width = Math.max(0, ...rows.map(([left]) => left.length)) + 2;
    return rows.map(([left, help]) => `  ${left.padEnd(width)}${help}`).join('\n');
}

const EXIT_CODES = 'Exit codes: 0 success, 1 failure, 2 usage error, 3 state directory in use or unusable, 130 interrupted.';

export function mainHelp(): string {
    const width = Math.max(...COMMANDS.map((c) => `${c.name} ${c.args}`.length)) + 2;
    return `silo — verified file storage on the Internet Computer

Usage: silo <command> [options]

Commands:
${COMMANDS.map((c) => `  ${`${c.name} ${c.args}`.padEnd(width)}${c.summary}`).join('\n')}
  help [command]${' '.repeat(Math.max(2, width - 14))}this help, or a command's

Options (every command):
${optionLines(GLOBAL_OPTIONS)}

Booleans take --flag, --no-flag and --flag=true|false. \`silo help <command>\` describes each command.
${EXIT_CODES}`;
}

export function commandHelp(command: Command): string {
    const own = Object.keys(command.options).length > 0 ? `\nOptions:\n${optionLines(command.options)}\n` : '';
    return `Usage: silo ${command.name}${command.args ? ` ${command.args}` : ''} [options]

${command.description}
${own}
Options of every command (see \`silo --help\`): ${Object.keys(GLOBAL_OPTIONS).map((n) => `--${n}`).join(', ')}.
${EXIT_CODES}`;
}

/** Every option any command takes, for the parser; each command then refuses the ones not its own. */
function allOptions(): OptionTable {
    const all: OptionTable = { ...GLOBAL_OPTIONS };
    for (const command of COMMANDS) Object.assign(all, command.options);
    return all;
}

function errorCode(error: unknown): { exit: number; code: string; message: string } {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof UsageError) return { exit: EXIT.usage, code: 'UsageError', message };
    if (error instanceof StateInUseError || error instanceof StateCorruptError || error instanceof StateUnusableError) {
        return { exit: EXIT.state, code: error.name, message };
    }
    if (error instanceof AssetNotFoundError) return { exit: EXIT.failure, code: error.name, message: `asset ${error.assetId} does not exist: list your assets with \`silo ls\`` };
    if (error instanceof SiloError) return { exit: EXIT.failure, code: error.name, message };
    const errno = (error as NodeJS.ErrnoException)?.code;
    if (errno === 'ENOSPC') return { exit: EXIT.failure, code: 'ENOSPC', message: `no space left on the device (${message}): free some space and run again` };
    if (errno !== undefined) return { exit: EXIT.failure, code: errno, message };
    return { exit: EXIT.failure, code: 'Error', message: `unexpected error: ${message}` };
}

/** Runs the CLI; returns the exit code. Never throws. */
export async function main(argv: string[]): Promise<number> {
    const output = new Output(argv.includes('--json') || argv.includes('--json=true'), argv.includes('--verbose') || argv.includes('--verbose=true'));
    let connection: Connection | undefined;
    let invocation: Invocation | undefined;
    const runCleanup = () => {
        for (const step of invocation?.cleanup.splice(0) ?? []) {
            try {
                step();
            } catch {
                // Best effort: the process is ending.
            }
        }
    };
    const interrupted = () => {
        runCleanup();
        // A last checkpoint, calls in flight included (a signal is handled between rounds): the next run
        // continues from here. A failure has been reported by the checkpointer.
        const embedded = connection?.embedded;
        try {
            embedded?.close();
            if (embedded?.lastSavedAt) output.note(`saved ${embedded.stateDir} at ${embedded.lastSavedAt.toLocaleTimeString()}`);
        } catch {
            // Reported; the state stays as of the last checkpoint.
        }
        output.error('Interrupted', invocation?.interruptNote ?? 'interrupted');
        process.exit(EXIT.interrupted);
    };
    const fail = (error: unknown, context = ''): number => {
        if (error instanceof CheckpointFailedError) {
            // The checkpointer has printed it (once); only --json still owes its error document.
            if (output.json) output.line(JSON.stringify({ error: { code: error.name, message: error.message } }));
            return EXIT.state;
        }
        const { exit, code, message } = errorCode(error);
        const hint = error instanceof UsageError && error.usageHint ? 'Run `silo --help` for usage.' : undefined;
        output.error(code, `${context}${message}`, hint, errorDetails(error));
        return exit;
    };
    // Libraries write to the console on their own (the agent warns, with stacks, when a read_state path is
    // missing): a failure is the CLI's one line, and the rest shows only with --verbose.
    const restoreConsole = output.verbose ? () => {} : quietConsole();
    let exit: number;
    try {
        exit = await dispatch(
            argv,
            output,
            (options, command) => {
                const personal = typeof command.personal === 'function' ? command.personal(options) : command.personal === true;
                return async () => (connection ??= await connect(options, output, personal));
            },
            (current, command) => {
                invocation = current;
                // A server (`silo start`) stops on these signals itself, after a checkpoint.
                if (!command.handlesSignals) {
                    process.once('SIGINT', interrupted);
                    process.once('SIGTERM', interrupted);
                }
            }
        );
    } catch (error) {
        runCleanup();
        // A network that stops answering mid-way is the same news as one that never did.
        exit = fail(connection?.url !== undefined && isUnreachable(error) ? noReplica(connection.url) : error);
    } finally {
        process.removeListener('SIGINT', interrupted);
        process.removeListener('SIGTERM', interrupted);
        restoreConsole();
    }
    try {
        connection?.embedded?.close();
    } catch (error) {
        // A failed checkpoint has been reported already, as one line.
        const saveExit = fail(error, 'could not save the state directory: ');
        if (exit === EXIT.ok) exit = saveExit === EXIT.failure ? EXIT.state : saveExit;
    }
    return exit;
}

/** Silences the console's diagnostic methods (not `log`, which no library uses unasked); returns the undo. */
function quietConsole(): () => void {
    const methods = ['warn', 'error', 'debug', 'trace', 'group', 'groupCollapsed', 'groupEnd'] as const;
    const saved = methods.map((name) => [name, console[name]] as const);
    for (const name of methods) console[name] = () => {};
    return () => {
        for (const [name, method] of saved) console[name] = method as never;
    };
}

/**
 * Parses `argv`, answers help and version, and runs the command, whose invocation connects through
 * `connector(options)`; `started` sees the invocation and its command before anything is checked or run.
 */
async function dispatch(
    argv: string[],
    output: Output,
    connector: (options: Invocation['options'], command: Command) => Invocation['connect'],
    started: (invocation: Invocation, command: Command) => void
): Promise<number> {
    const parsed = parseCommandLine(argv, allOptions());
    if (parsed.values.version === true) {
        output.result({ version: version() }, () => `silo ${version()}`);
        return EXIT.ok;
    }
    if (parsed.command === undefined || parsed.command === 'help') {
        const topic = parsed.command === 'help' ? parsed.positionals[0] : undefined;
        if (topic !== undefined) {
            const command = COMMANDS.find((c) => c.name === topic);
            if (command === undefined) throw new UsageError(`unknown command '${topic}'${didYouMean(topic, COMMANDS.map((c) => c.name))}`);
            process.stdout.write(`${commandHelp(command)}\n`);
            return EXIT.ok;
        }
        process.stdout.write(`${mainHelp()}\n`);
        return parsed.command === undefined && parsed.values.help !== true ? EXIT.usage : EXIT.ok;
    }
    const command = COMMANDS.find((c) => c.name === parsed.command);
    if (command === undefined) throw new UsageError(`unknown command '${parsed.command}'${didYouMean(parsed.command, [...COMMANDS.map((c) => c.name), 'help'])}`);
    if (parsed.values.help === true) {
        process.stdout.write(`${commandHelp(command)}\n`);
        return EXIT.ok;
    }
    const foreign = parsed.given.find((name) => !(name in GLOBAL_OPTIONS) && !(name in command.options));
    if (foreign !== undefined) throw new UsageError(`${command.name} does not take --${foreign}${didYouMean(foreign, [...Object.keys(command.options), ...Object.keys(GLOBAL_OPTIONS)], (c) => `--${c}`)}`);
    const invocation: Invocation = {
        positionals: parsed.positionals,
        options: parsed.values,
        output,
        interruptNote: 'interrupted',
        cleanup: [],
        connect: connector(parsed.values, command)
    };
    started(invocation, command);
    if (command.name !== 'deploy') checkNetwork(parsed.values);
    command.check?.(invocation);
    await command.run(invocation);
    return EXIT.ok;
}
