/**
 * End-to-end encrypted files in the web app: cards whose preview, Open and Download use the plaintext
 * decrypted in this page (object URLs: the bucket only ever serves ciphertext), the sharing dialog (share
 * with a principal, see and remove readers), and the files others shared with this browser's principal.
 * The page derives its vetKey once (the library's key vault), on the first encrypted file it opens.
 */
import { Principal } from '@dfinity/principal';

import { type Asset, ENCRYPTED_CONTENT_TYPE, type SiloClient } from '../../client/browser';
import { h, mediaPreview } from './dom';
import { errorSentence, formatBytes, previewKind } from './format';

/** Encrypted files up to this size are decrypted for a preview as soon as they are listed; larger ones on Open. */
const AUTO_DECRYPT_BYTES = 32 * 1024 * 1024;

export function isEncrypted(asset: Asset): boolean {
    return asset.content_type === ENCRYPTED_CONTENT_TYPE;
}

export class EncryptedFiles {
    /** Object URLs of decrypted files, by asset id: revoked when the listing reloads. */
    private readonly urls = new Map<string, Promise<{ url: string; type: string }>>();

    constructor(
        private readonly silo: SiloClient,
        private readonly notify: (message: string, isError?: boolean) => void
    ) {}

    /** Decrypts an asset into an object URL of its plaintext type (once per asset and listing). */
    private plaintext(asset: Asset): Promise<{ url: string; type: string }> {
        const key = asset.id.toString();
        let made = this.urls.get(key);
        if (made === undefined) {
            made = (async () => {
                const { info } = await this.silo.encryption(asset.id);
                const bytes = await this.silo.download(asset.id);
                return { url: URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: info.content_type })), type: info.content_type };
            })();
            this.urls.set(key, made);
            made.catch(() => this.urls.delete(key));
        }
        return made;
    }

    /** Forgets decrypted copies (their object URLs stop working). */
    revokeAll(): void {
        for (const made of this.urls.values()) void made.then(({ url }) => URL.revokeObjectURL(url), () => undefined);
        this.urls.clear();
    }

    /**
     * Fills an encrypted file's card: a preview of the decrypted content, Open and Download of the
     * decrypted bytes (never a gateway URL, which would serve ciphertext).
     */
    async fill(asset: Asset, preview: HTMLElement, open: HTMLAnchorElement, download: HTMLAnchorElement): Promise<void> {
        preview.dataset.encrypted = 'true';
        const use = ({ url, type }: { url: string; type: string }): void => {
            open.href = url;
            download.href = url;
            download.download = asset.name;
            preview.replaceChildren(mediaPreview(previewKind(type), url, asset.name, type, false));
        };
        preview.append(h('div', { class: 'file-icon', 'aria-hidden': 'true' }, 'LOCK'));
        const decrypt = async (): Promise<void> => {
            try {
                use(await this.plaintext(asset));
                preview.dataset.decrypted = 'true';
            } catch (error) {
                preview.title = errorSentence(error);
                this.notify(errorSentence(error), true);
            }
        };
        // Until decrypted, Open and Download decrypt first, then act.
        for (const link of [open, download]) {
            link.addEventListener('click', (event) => {
                if (preview.dataset.decrypted === 'true') return;
                event.preventDefault();
                void decrypt().then(() => preview.dataset.decrypted === 'true' && link.click());
            });
        }
        open.href = '#';
        download.href = '#';
        if (asset.size <= BigInt(AUTO_DECRYPT_BYTES)) await decrypt();
    }

    /** The sharing dialog of an encrypted file: share with a principal, list and remove readers. */
    openShare(asset: Asset): void {
        const dialog = document.getElementById('e2e-share') as HTMLDialogElement;
        const input = document.getElementById('e2e-share-principal') as HTMLInputElement;
        const status = document.getElementById('e2e-share-status')!;
        const readers = document.getElementById('e2e-readers')!;
        document.getElementById('e2e-share-title')!.textContent = `Share ${asset.name}`;
        input.value = '';
        status.textContent = '';
        const list = async (): Promise<void> => {
            try {
                const { readers: who } = await this.silo.encryption(asset.id);
                readers.replaceChildren(
                    ...(who.length === 0
                        ? [h('li', { class: 'muted' }, 'Only you can decrypt it.')]
                        : who.map((p) => {
                              const remove = h('button', { type: 'button', class: 'secondary small', 'aria-label': `Stop sharing with ${p.toText()}` }, 'Unshare');
                              remove.addEventListener('click', () => void this.run(status, `Unsharing…`, () => this.silo.unshare(asset.id, p), 'Unshared: it can no longer obtain the key (what it already decrypted stays with it).').then(list));
                              return h('li', { class: 'reader', 'data-principal': p.toText() }, h('code', {}, p.toText()), remove);
                          }))
                );
            } catch (error) {
                status.textContent = errorSentence(error);
            }
        };
        (document.getElementById('e2e-share-form') as HTMLFormElement).onsubmit = (event) => {
            event.preventDefault();
            let reader: Principal;
            try {
                reader = Principal.fromText(input.value.trim());
            } catch {
                status.textContent = 'That is not a principal: it looks like 2vxsx-fae… (the other user copies theirs from the header).';
                return;
            }
            void this.run(status, 'Sharing…', () => this.silo.share(asset.id, reader), `Shared with ${reader.toText()}.`).then(list);
        };
        document.getElementById('e2e-share-close')!.onclick = () => dialog.close();
        dialog.showModal();
        void list();
    }

    private async run(status: HTMLElement, doing: string, work: () => Promise<void>, done: string): Promise<void> {
        status.textContent = doing;
        try {
            await work();
            status.textContent = done;
        } catch (error) {
            status.textContent = errorSentence(error);
        }
    }

    /** Lists the files shared with this principal into `list` (cards with decrypted previews). */
    async showShared(list: HTMLElement, empty: HTMLElement): Promise<void> {
        list.replaceChildren();
        try {
            for await (const asset of this.silo.listSharedWithMe()) {
                const preview = h('div', { class: 'preview' });
                const open = h('a', { class: 'button', target: '_blank', rel: 'noopener', 'aria-label': `Open ${asset.name}` }, 'Open') as HTMLAnchorElement;
                const download = h('a', { class: 'button secondary', 'aria-label': `Download ${asset.name}` }, 'Download') as HTMLAnchorElement;
                list.append(
                    h(
                        'li',
                        { class: 'asset', 'data-id': asset.id.toString(), 'data-name': asset.name },
                        preview,
                        h('div', { class: 'asset-name', title: asset.name }, asset.name),
                        h('div', { class: 'asset-meta' }, h('span', {}, formatBytes(asset.size)), h('span', { class: 'badge encrypted' }, 'Encrypted'), h('span', { title: asset.owner.toText() }, `from ${asset.owner.toText().slice(0, 11)}…`)),
                        h('div', { class: 'asset-actions' }, open, download)
                    )
                );
                void this.fill(asset, preview, open, download);
            }
        } catch (error) {
            this.notify(errorSentence(error), true);
        }
        empty.hidden = list.childElementCount > 0;
    }
}
