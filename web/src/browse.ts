/**
 * The owner's files, a page at a time: previews (images, seekable videos, an icon for the rest), name,
 * size, type, date and visibility, with Open, Download, Copy link and Delete.
 */
import type { Asset, SiloClient } from '../../client/browser';
import { fileIcon, h, mediaPreview } from './dom';
import { errorSentence, formatBytes, formatDate, previewKind } from './format';
import { type EncryptedFiles, isEncrypted } from './encrypted';
import { downloadUrl, type Links } from './links';

export interface BrowseActions {
    share(asset: Asset): void;
    remove(asset: Asset, card: HTMLElement): void;
    notify(message: string, isError?: boolean): void;
    /** A listing failed (the error), or succeeded again (null): the page says so until it does. */
    listing(error: unknown): void;
    /** Encrypted files: decrypted previews and links (encrypted.ts). */
    encrypted?: EncryptedFiles;
}

export class AssetBrowser {
    private pages: AsyncGenerator<Asset> | undefined;
    private shown = new Set<string>();
    /** The listing a page is being fetched from, if any. */
    private loading: AsyncGenerator<Asset> | undefined;

    constructor(
        private readonly silo: SiloClient,
        private readonly links: Links,
        private readonly grid: HTMLElement,
        private readonly more: HTMLButtonElement,
        private readonly empty: HTMLElement,
        private readonly actions: BrowseActions,
        private readonly pageSize = 24
    ) {
        more.addEventListener('click', () => void this.next());
    }

    /**
     * Starts over from the newest page. What is shown stays until the first answer arrives: a network
     * that does not answer leaves the list as it was (and says so), never an empty one.
     */
    async reload(): Promise<void> {
        this.pages = this.silo.listAssets({ pageSize: this.pageSize });
        await this.next(true);
    }

    /** Shows the next `pageSize` assets; `fresh`: they replace what is shown, once the first answer came. */
    async next(fresh = false): Promise<void> {
        const pages = this.pages;
        if (pages === undefined || this.loading === pages) return;
        this.loading = pages;
        this.more.disabled = true;
        this.grid.setAttribute('aria-busy', 'true');
        let count = 0;
        let finished = false;
        let failed = false;
        try {
            while (count < this.pageSize) {
                const { value, done } = await pages.next();
                // A reload started meanwhile: its own listing takes over.
                if (pages !== this.pages) return;
                if (fresh) {
                    fresh = false;
                    this.actions.encrypted?.revokeAll();
                    this.shown.clear();
                    this.grid.replaceChildren();
                }
                if (done) {
                    finished = true;
                    break;
                }
                if (this.shown.has(value.id.toString())) continue;
                this.append(value);
                count++;
            }
            this.actions.listing(null);
        } catch (error) {
            failed = true;
            if (pages === this.pages) this.actions.listing(error);
        } finally {
            if (pages === this.pages) {
                this.loading = undefined;
                this.grid.removeAttribute('aria-busy');
                // After a failure the listing cannot continue: Refresh starts it again.
                this.more.hidden = finished || failed;
                this.more.disabled = false;
                // "No files yet" only when the index said so, never because it did not answer.
                this.empty.hidden = failed || this.shown.size > 0;
            }
        }
    }

    /** Adds a just-uploaded asset at the top without reloading. */
    prepend(asset: Asset): void {
        if (this.shown.has(asset.id.toString())) return;
        this.append(asset, true);
        this.empty.hidden = true;
    }

    forget(asset: Asset): void {
        this.shown.delete(asset.id.toString());
        this.empty.hidden = this.shown.size > 0;
    }

    private append(asset: Asset, first = false): void {
        this.shown.add(asset.id.toString());
        const card = this.card(asset);
        if (first) this.grid.prepend(card);
        else this.grid.append(card);
    }

    private card(asset: Asset): HTMLElement {
        const isPrivate = 'private' in asset.visibility;
        const kind = previewKind(asset.content_type);
        const preview = h('div', { class: `preview ${kind}` });
        const open = h('a', { class: 'button', target: '_blank', rel: 'noopener' }, 'Open') as HTMLAnchorElement;
        const download = h('a', { class: 'button secondary' }, 'Download') as HTMLAnchorElement;
        open.setAttribute('aria-label', `Open ${asset.name}`);
        download.setAttribute('aria-label', `Download ${asset.name}`);
        const sealed = isEncrypted(asset) && this.actions.encrypted !== undefined;
        // An encrypted file is shared with principals, not by link (a link would serve its ciphertext).
        const share = sealed
            ? h('button', { type: 'button', class: 'secondary', 'aria-label': `Share ${asset.name} with a principal` }, 'Share')
            : h('button', { type: 'button', class: 'secondary', 'aria-label': `Copy a link to ${asset.name}` }, 'Copy link');
        const remove = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${asset.name}` }, 'Delete');
        const card = h(
            'li',
            { class: 'asset', 'data-id': asset.id.toString(), 'data-name': asset.name },
            preview,
            h('div', { class: 'asset-name', title: asset.name }, asset.name),
            h(
                'div',
                { class: 'asset-meta' },
                h('span', {}, formatBytes(asset.size)),
                h('span', {}, asset.content_type),
                h('time', { datetime: new Date(Number(asset.created_at / 1_000_000n)).toISOString() }, formatDate(asset.created_at)),
                h('span', { class: `badge ${isPrivate ? 'private' : 'public'}` }, isPrivate ? 'Private' : 'Public'),
                ...(sealed ? [h('span', { class: 'badge encrypted' }, 'Encrypted')] : [])
            ),
            h('div', { class: 'asset-actions' }, open, download, share, remove)
        );
        share.addEventListener('click', () => this.actions.share(asset));
        remove.addEventListener('click', () => this.actions.remove(asset, card));
        if (sealed) void this.actions.encrypted!.fill(asset, preview, open as HTMLAnchorElement, download as HTMLAnchorElement);
        else void this.fillLinks(asset, kind, preview, open, download);
        return card;
    }

    private async fillLinks(asset: Asset, kind: ReturnType<typeof previewKind>, preview: HTMLElement, open: HTMLAnchorElement, download: HTMLAnchorElement): Promise<void> {
        try {
            const view = await this.links.url(asset);
            open.href = view;
            download.href = downloadUrl(view);
            preview.append(mediaPreview(kind, view, asset.name, asset.content_type, true));
        } catch (error) {
            preview.append(fileIcon(asset.content_type));
            preview.title = errorSentence(error);
            open.removeAttribute('href');
            download.removeAttribute('href');
        }
    }
}
