/**
 * The Silo web app: uploads from the browser and a view of the owner's files, through the Silo client
 * library over @dfinity/agent. It talks only to the network it was served from (or `?host=`).
 */
import { Principal } from '@dfinity/principal';

import { AgentTransport, type Asset, SiloClient, TransportError } from '../../client/browser';
import { AssetBrowser } from './browse';
import { EncryptedFiles, isEncrypted } from './encrypted';
import { errorSentence } from './format';
import { browserKeySource, offerKeyImport } from './identity';
import { Links } from './links';
import { UploadQueue } from './uploads';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

/**
 * The index canister comes from `?index=` (what `silo start` prints a link with), else the last one used
 * in this browser; the network is the page's own origin unless `?host=` names another; `?pageSize=`
 * sets how many files a page lists (default 24).
 */
function readConfig(): { host: string; index: string | undefined; pageSize: number } {
    const params = new URLSearchParams(location.search);
    const index = params.get('index') ?? localStorage.getItem('silo.index') ?? undefined;
    const pageSize = Math.min(100, Math.max(1, Number(params.get('pageSize')) || 24));
    return { host: params.get('host') ?? location.origin, index, pageSize };
}

function isLocal(host: string): boolean {
    const name = new URL(host).hostname;
    return name === '127.0.0.1' || name === 'localhost' || name === '[::1]' || name.endsWith('.localhost');
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;
function notify(message: string, isError = false): void {
    const toast = $('toast');
    toast.textContent = message;
    toast.className = isError ? 'error' : '';
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (toast.hidden = true), isError ? 10_000 : 4000);
}

function askForIndex(): void {
    const form = $<HTMLFormElement>('setup');
    form.hidden = false;
    $('app').hidden = true;
    form.addEventListener('submit', (event) => {
        event.preventDefault();
        const value = ($<HTMLInputElement>('index-input').value ?? '').trim();
        try {
            Principal.fromText(value);
        } catch {
            $('setup-error').textContent = 'That is not a canister id: it looks like ryjl3-tyaaa-aaaaa-aaaba-cai.';
            return;
        }
        localStorage.setItem('silo.index', value);
        location.search = `?index=${encodeURIComponent(value)}`;
    });
}

async function start(): Promise<void> {
    const config = readConfig();
    if (config.index === undefined) return askForIndex();
    let indexId: Principal;
    try {
        indexId = Principal.fromText(config.index);
    } catch {
        return askForIndex();
    }
    const identities = browserKeySource();
    const identity = await identities.identity();
    $('principal').textContent = identity.getPrincipal().toText();
    $('identity-label').textContent = identities.label;
    offerKeyImport(identities, $('identity-import'), $<HTMLInputElement>('identity-file'), notify);
    $('network').textContent = new URL(config.host).host;

    let transport: AgentTransport;
    try {
        transport = await AgentTransport.create({ host: config.host, identity, fetchRootKey: isLocal(config.host) });
    } catch (error) {
        throw new TransportError(`The network at ${config.host} did not answer`, undefined, error);
    }
    const silo = new SiloClient({ transport, indexId });
    localStorage.setItem('silo.index', indexId.toText());

    const links = new Links(silo, isLocal(config.host) ? 'local' : 'ic', config.host);
    const encrypted = new EncryptedFiles(silo, notify);
    const browser = new AssetBrowser(silo, links, $('assets'), $<HTMLButtonElement>('more'), $('empty'), {
        share: (asset) => (isEncrypted(asset) ? encrypted.openShare(asset) : openShare(links, asset)),
        encrypted,
        remove: (asset, card) => confirmDelete(silo, asset, card, browser),
        notify
    }, config.pageSize);
    const queue = new UploadQueue(silo, $('queue'), (asset) => browser.prepend(asset));

    const input = $<HTMLInputElement>('file-input');
    const visibility = (): 'public' | 'private' => ($<HTMLInputElement>('visibility-public').checked ? 'public' : 'private');
    const encrypt = (): boolean => $<HTMLInputElement>('encrypt').checked;
    input.addEventListener('change', () => {
        if (input.files && input.files.length > 0) queue.add(Array.from(input.files), visibility(), encrypt());
        input.value = '';
    });
    const drop = $('drop');
    drop.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            input.click();
        }
    });
    drop.addEventListener('click', (event) => {
        if (event.target === drop) input.click();
    });
    for (const type of ['dragenter', 'dragover']) {
        drop.addEventListener(type, (event) => {
            event.preventDefault();
            drop.classList.add('over');
        });
    }
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (event) => {
        event.preventDefault();
        drop.classList.remove('over');
        const files = Array.from((event as DragEvent).dataTransfer?.files ?? []);
        if (files.length > 0) queue.add(files, visibility(), encrypt());
    });
    // A file dropped beside the zone would otherwise replace the page.
    window.addEventListener('dragover', (event) => event.preventDefault());
    window.addEventListener('drop', (event) => event.preventDefault());

    $('refresh').addEventListener('click', () => void browser.reload());
    $('shared-refresh').addEventListener('click', () => void encrypted.showShared($('shared-assets'), $('shared-empty')));
    await encrypted.showShared($('shared-assets'), $('shared-empty'));
    $('copy-principal').addEventListener('click', () => void copy(identity.getPrincipal().toText(), 'Principal copied.'));
    await browser.reload();
    document.body.dataset.ready = 'true';
}

async function copy(text: string, done: string): Promise<void> {
    try {
        await navigator.clipboard.writeText(text);
        notify(done);
    } catch {
        notify('The browser did not allow copying: select the text and copy it yourself.', true);
    }
}

function openShare(links: Links, asset: Asset): void {
    const dialog = $<HTMLDialogElement>('share');
    const isPrivate = 'private' in asset.visibility;
    const expiry = $<HTMLSelectElement>('share-ttl');
    const output = $<HTMLInputElement>('share-link');
    const status = $('share-status');
    $('share-title').textContent = `Link to ${asset.name}`;
    $('share-expiry').hidden = !isPrivate;
    $('share-note').textContent = isPrivate
        ? 'Anyone holding this link can open the file until it expires. Node providers can read canister memory: encrypt truly confidential files before uploading.'
        : 'This file is public: the link never expires.';
    const make = async (): Promise<void> => {
        output.value = '';
        status.textContent = 'Making link…';
        try {
            output.value = await links.url(asset, Number(expiry.value));
            status.textContent = '';
            output.select();
        } catch (error) {
            status.textContent = errorSentence(error);
        }
    };
    expiry.onchange = () => void make();
    $('share-copy').onclick = () => void copy(output.value, 'Link copied.');
    dialog.showModal();
    void make();
}

function confirmDelete(silo: SiloClient, asset: Asset, card: HTMLElement, browser: AssetBrowser): void {
    const dialog = $<HTMLDialogElement>('confirm-delete');
    $('delete-name').textContent = asset.name;
    dialog.returnValue = '';
    dialog.onclose = async () => {
        if (dialog.returnValue !== 'delete') return;
        card.setAttribute('aria-busy', 'true');
        try {
            await silo.deleteAsset(asset.id);
            card.remove();
            browser.forget(asset);
            notify(`Deleted ${asset.name}.`);
        } catch (error) {
            card.removeAttribute('aria-busy');
            notify(errorSentence(error), true);
        }
    };
    dialog.showModal();
    $('delete-cancel').focus();
}

start().catch((error) => {
    $('fatal').textContent = errorSentence(error);
    $('fatal').hidden = false;
});
