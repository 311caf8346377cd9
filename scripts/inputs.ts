/**
 * What decides whether a build is cached: a SHA-256 over a header (tool versions, build settings) and
 * the files a build reads, named relative to the repository. One implementation for the Azle
 * canisters, the verifier and the web app.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

/** Build outputs and dependencies inside source folders, never inputs. */
const SKIPPED = new Set(['.azle', 'node_modules', 'dist']);

/** The files below `dir` in a stable order, tests and build outputs left out. */
export function listFiles(dir: string, out: string[] = []): string[] {
    if (!existsSync(dir)) return out;
    for (const entry of readdirSync(dir).sort()) {
        if (SKIPPED.has(entry) || entry.endsWith('.test.ts')) continue;
        const path = join(dir, entry);
        if (statSync(path).isDirectory()) listFiles(path, out);
        else out.push(path);
    }
    return out;
}

/** The hex SHA-256 of `header`, then each file's path (relative to the repository) and content. */
export function hashInputs(header: (string | Uint8Array)[], files: string[]): string {
    const hash = createHash('sha256');
    for (const part of header) hash.update(part);
    for (const file of files) {
        hash.update(relative(root, file));
        hash.update(readFileSync(file));
    }
    return hash.digest('hex');
}
