/** The shape of a `silo` command: each lives in one entry of the table in `commands.ts`. */
import type { EmbeddedSilo } from '../embedded';
import type { SiloClient } from '../silo';
import type { OptionTable } from './args';
import type { Output } from './output';

/** What a command runs against, opened on first use by {@link Invocation.connect}. */
export interface Connection {
    client: SiloClient;
    /** The state directory (`--state`), where the CLI also keeps its own records (pending uploads). */
    stateDir: string;
    /** The in-process replica, when the network is the embedded one. */
    embedded?: EmbeddedSilo;
    /** The network's URL, for the others. */
    url?: string;
}

/** One run of a command. */
export interface Invocation {
    positionals: string[];
    /** Option values by long name (global ones included); absent options are undefined. */
    options: Record<string, string | boolean | undefined>;
    output: Output;
    /** Opens the network (the embedded replica in `--state`, or an agent to --network) once. */
    connect(): Promise<Connection>;
    /** What the CLI says when interrupted (Ctrl-C) while this command runs; commands refine it. */
    interruptNote: string;
    /** Run (synchronously) when the command is interrupted or fails: e.g. remove a partial file. */
    cleanup: (() => void)[];
}

export interface Command {
    name: string;
    /** Positional arguments as shown in help, e.g. `<files...>`. */
    args: string;
    /** One line for `silo --help`. */
    summary: string;
    /** Paragraphs for `silo help <command>`. */
    description: string;
    /** The command's own options (the global ones apply to every command). */
    options: OptionTable;
    /**
     * Checks positionals and options before anything is opened or sent (throw a `UsageError`); returns
     * nothing, or a value `run` receives.
     */
    check?(invocation: Invocation): void;
    /**
     * The command acts on the caller's files (upload, ls, rm, ...): on `--network local|ic` it never calls
     * anonymously by default (see `resolveIdentity` in connect.ts). A function decides from the options.
     */
    personal?: boolean | ((options: Invocation['options']) => boolean);
    /** The command stops on SIGINT/SIGTERM by itself (a server): the CLI then does not exit on them. */
    handlesSignals?: boolean;
    run(invocation: Invocation): Promise<void>;
}

/** A string option's value (undefined when absent). */
export function stringOption(invocation: Invocation, name: string): string | undefined {
    const value = invocation.options[name];
    return typeof value === 'string' ? value : undefined;
}
