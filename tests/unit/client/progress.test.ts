/** The CLI's progress line: speed and ETA only from bytes moved in this run's phase (issue 19 item 9). */
import { describe, expect, it, vi } from 'vitest';

import { Output, progressLine } from '../../../client/cli/output';

const MiB = 1024 * 1024;

describe('progress line', () => {
    it('shows no speed or ETA before the phase has moved any bytes', () => {
        const line = progressLine('big.bin', { phase: 'hashing', bytesDone: 0, bytesTotal: 10 * MiB }, { at: 1000, bytes: 0 }, 1000);
        expect(line).toMatch(/hashing +\[-+\] +0%$/);
        expect(line).not.toMatch(/B\/s|ETA/);
    });

    it('counts only the bytes sent in this run: a resumed upload starting at 67% is not "50 GiB/s"', () => {
        const start = { at: 0, bytes: 67 * MiB };
        expect(progressLine('big.bin', { phase: 'sending', bytesDone: 67 * MiB, bytesTotal: 100 * MiB }, start, 50)).toMatch(/ 67%$/);
        // 3 MiB in 1 s since the resumed phase began: 3 MiB/s, 30 MiB left: 10 s.
        expect(progressLine('big.bin', { phase: 'sending', bytesDone: 70 * MiB, bytesTotal: 100 * MiB }, start, 1000)).toMatch(/ 70% 3\.0 MiB\/s ETA 0:10$/);
    });

    it('on a terminal, each phase opens without a made-up speed, and its speed starts from where it opened', () => {
        const written: string[] = [];
        const tty = { isTTY: true, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
        const output = new Output(false, false, tty, tty);
        vi.useFakeTimers({ now: 0 });
        try {
            const bar = output.progress('big.bin');
            bar.update({ phase: 'sending', bytesDone: 60 * MiB, bytesTotal: 100 * MiB });
            vi.setSystemTime(2000);
            bar.update({ phase: 'sending', bytesDone: 64 * MiB, bytesTotal: 100 * MiB });
            bar.update({ phase: 'verifying', bytesDone: 0, bytesTotal: 100 * MiB });
            bar.done();
        } finally {
            vi.useRealTimers();
        }
        const lines = written.join('').split('\r').filter((l) => l.length > 0);
        expect(lines[0]).toMatch(/ 60%$/);
        expect(lines[1]).toMatch(/ 64% 2\.0 MiB\/s ETA 0:18$/);
        expect(lines[2]).toMatch(/verifying +\[-+\] +0%\n$/);
    });
});
