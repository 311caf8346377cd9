/** Runs the real `silo` binary in a child process. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const BIN = resolve(import.meta.dirname, '../../client/bin/silo.mjs');

export interface Run {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    /** stdout as bytes (downloads to stdout). */
    bytes: Buffer;
    /** When the process ended (Date.now()). */
    endedAt: number;
}

export function silo(args: string[], options: { env?: Record<string, string>; input?: Uint8Array; cwd?: string } = {}): Promise<Run> {
    return new Promise((done) => {
        const child = spawn(process.execPath, [BIN, ...args], {
            env: { ...process.env, ...options.env },
            cwd: options.cwd,
            stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']
        });
        const out: Buffer[] = [];
        let stderr = '';
        child.stdout!.on('data', (d: Buffer) => out.push(d));
        child.stderr!.on('data', (d) => (stderr += d));
        if (options.input !== undefined) {
            // A command refused before reading stdin closes it: the unread input is not the test's failure.
            child.stdin!.on('error', () => {});
            child.stdin!.end(options.input);
        }
        child.on('close', (code, signal) => {
            const bytes = Buffer.concat(out);
            done({ code, signal, stdout: bytes.toString('utf8'), stderr, bytes, endedAt: Date.now() });
        });
    });
}
