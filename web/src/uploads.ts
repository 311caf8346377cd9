/**
 * The upload queue: files picked or dropped are uploaded `limit` at a time, each with its own progress
 * row (phase, bar, speed, time left) and a Cancel button wired to an AbortSignal.
 */
import { AbortedError, type Asset, type Progress, type SiloClient } from '../../client/browser';
import { errorSentence, formatBytes, formatEta, formatSpeed, RateMeter } from './format';
import { h } from './dom';

/** The phases the library reports, in order; `queued` and `preparing` come before the first report. */
type Phase = 'queued' | 'preparing' | Progress['phase'] | 'done' | 'failed' | 'cancelled';

const PHASE_LABEL: Record<Phase, string> = {
    queued: 'Waiting',
    preparing: 'Preparing',
    hashing: 'Hashing',
    sending: 'Sending',
    verifying: 'Verifying',
    receiving: 'Receiving',
    done: 'Stored and verified',
    failed: 'Failed',
    cancelled: 'Cancelled'
};

/** Phases after which a row only reports. */
const SETTLED = ['done', 'failed', 'cancelled'];

interface Job {
    file: File;
    visibility: 'public' | 'private';
    /** Encrypted end to end in the page before upload (encrypted.ts reads it back). */
    encrypt: boolean;
    controller: AbortController;
    row: HTMLElement;
    setPhase(phase: Phase, detail?: string): void;
    progress(p: Progress): void;
}

export class UploadQueue {
    private waiting: Job[] = [];
    private running = 0;

    /**
     * @param list - the element rows are added to
     * @param limit - files uploading at once (each sends its chunks with the library's own concurrency)
     * @param onStored - called with each committed asset
     */
    /**
     * @param clear - the "Clear finished" button: shown while settled rows exist, it removes them
     */
    constructor(
        private readonly silo: SiloClient,
        private readonly list: HTMLElement,
        private readonly onStored: (asset: Asset) => void,
        private readonly limit = 2,
        private readonly clear?: HTMLButtonElement
    ) {
        clear?.addEventListener('click', () => this.clearFinished());
    }

    /** Removes the rows of uploads that are done, failed or cancelled; running and waiting ones stay. */
    clearFinished(): void {
        for (const row of Array.from(this.list.querySelectorAll<HTMLElement>('li.upload'))) {
            if (SETTLED.includes(row.dataset.phase ?? '')) row.remove();
        }
        this.updateClear();
    }

    private updateClear(): void {
        if (this.clear === undefined) return;
        this.clear.hidden = !Array.from(this.list.querySelectorAll<HTMLElement>('li.upload')).some((row) => SETTLED.includes(row.dataset.phase ?? ''));
    }

    add(files: Iterable<File>, visibility: 'public' | 'private', encrypt = false): void {
        for (const file of files) {
            const job = this.row(file, visibility, encrypt);
            this.waiting.push(job);
        }
        this.pump();
    }

    private pump(): void {
        while (this.running < this.limit && this.waiting.length > 0) {
            const job = this.waiting.shift()!;
            if (job.controller.signal.aborted) continue;
            this.running++;
            void this.run(job).finally(() => {
                this.running--;
                this.pump();
            });
        }
    }

    private async run(job: Job): Promise<void> {
        job.setPhase('preparing');
        try {
            // The content type follows the library's rule (the File's type, else its name's extension).
            const asset = await this.silo.upload(job.file, {
                name: job.file.name,
                visibility: job.visibility,
                encrypt: job.encrypt,
                signal: job.controller.signal,
                onProgress: (p) => job.progress(p)
            });
            job.setPhase('done', `${formatBytes(asset.size)} · id ${asset.id}`);
            this.onStored(asset);
        } catch (error) {
            if (!job.controller.signal.aborted) job.setPhase('failed', errorSentence(error));
            else if (error instanceof AbortedError && error.committing) job.setPhase('cancelled', 'Silo was already verifying it, which cannot be stopped: it may still appear in your files.');
            else job.setPhase('cancelled');
        }
    }

    private row(file: File, visibility: 'public' | 'private', encrypt: boolean): Job {
        const controller = new AbortController();
        const phase = h('span', { class: 'phase' }, PHASE_LABEL.queued);
        const bar = h('progress', { max: '1', value: '0', 'aria-label': `Upload progress of ${file.name}` }) as HTMLProgressElement;
        const detail = h('span', { class: 'detail', 'aria-live': 'polite' }, '');
        const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel') as HTMLButtonElement;
        cancel.setAttribute('aria-label', `Cancel upload of ${file.name}`);
        const row = h(
            'li',
            { class: 'upload', 'data-name': file.name, 'data-phase': 'queued' },
            h('div', { class: 'upload-head' }, h('span', { class: 'name', title: file.name }, file.name), h('span', { class: 'size' }, `${formatBytes(file.size)} · ${visibility}${encrypt ? ' · encrypted' : ''}`)),
            bar,
            h('div', { class: 'upload-foot' }, phase, detail, cancel)
        );
        this.list.prepend(row);
        const meter = new RateMeter();
        const updateClear = () => this.updateClear();
        const job: Job = {
            file,
            visibility,
            encrypt,
            controller,
            row,
            setPhase(next, text = '') {
                row.dataset.phase = next;
                phase.textContent = PHASE_LABEL[next];
                detail.textContent = text;
                if (next === 'done') bar.value = 1;
                if (next === 'done' || next === 'failed' || next === 'cancelled') {
                    cancel.disabled = false;
                    cancel.textContent = 'Dismiss';
                    cancel.setAttribute('aria-label', `Dismiss ${file.name}`);
                }
                if (next === 'failed') row.setAttribute('role', 'alert');
                updateClear();
            },
            progress(p) {
                if (controller.signal.aborted) return;
                if (row.dataset.phase !== p.phase) job.setPhase(p.phase);
                bar.value = p.bytesTotal === 0 ? 1 : p.bytesDone / p.bytesTotal;
                const done = `${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}`;
                if (p.phase !== 'sending') {
                    detail.textContent = done;
                    return;
                }
                meter.add(performance.now(), p.bytesDone);
                const speed = meter.speed;
                detail.textContent = speed > 0 ? `${done} · ${formatSpeed(speed)} · ${formatEta(meter.eta(p.bytesTotal))} left` : done;
            }
        };
        cancel.addEventListener('click', () => {
            const settled = ['done', 'failed', 'cancelled'].includes(row.dataset.phase ?? '');
            if (settled) {
                row.remove();
                this.updateClear();
                return;
            }
            controller.abort();
            // A queued job never starts; a running one settles as cancelled once the chunks in flight
            // return and the library has aborted the session.
            if (row.dataset.phase === 'queued') job.setPhase('cancelled');
            else {
                detail.textContent = 'Cancelling…';
                cancel.disabled = true;
            }
        });
        return job;
    }
}
