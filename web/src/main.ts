/**
 * The Silo web app: uploads from the browser and a view of the owner's files, through the Silo client
 * library over @dfinity/agent. It talks only to the network it was served from.
 */
import { Principal } from '@dfinity/principal';

import { AgentTransport, type Asset, defaultRetryPolicy, NetworkUnreachableError, type RetryPolicy, SiloClient, TransportError } from '../../client/browser';
import { AssetBrowser } from './browse';
import { EncryptedFiles, isEncrypted } from './encrypted';
import { errorSentence } from './format';
import { browserKeySource, offerKeyImport } from './identity';
import { Links } from './links';
import { UploadQueue } from './uploads';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

/** What `silo start` serves at /silo.json beside the app (client/start.ts): its index, and who the CLI calls as. */
interface ServerInfo {
    index?: string;
    cli_principal?: string;
}

/**
 * The index canister is the one the server names (`/silo.json`, from `silo start`): a link cannot choose
 * it, or any page (a canister's, say) could send the user here to upload into an index it controls.
 * Only a server that names none lets `?index=`, else the last one used in this browser, decide. The
 * network is always the page's own origin (a link naming another host would have the page sign
 * requests with the user's key for whoever runs that host to replay); `?pageSize=` sets how many files
 * a page lists (default 24).
 */
async function readConfig(): Promise<{ host: string; index: string | undefined; pageSize: number; server: ServerInfo; ignored?: string }> {
    const params = new URLSearchParams(location.search);
    const pageSize = Math.min(100, Math.max(1, Number(params.get('pageSize')) || 24));
    const asked = params.get('index') ?? undefined;
    const server = await serverInfo();
    if (server.index !== undefined) {
        return { host: location.origin, index: server.index, pageSize, server, ignored: asked !== undefined && asked !== server.index ? asked : undefined };
    }
    return { host: location.origin, index: asked ?? localStorage.getItem('silo.index') ?? undefined, pageSize, server };
}

/** The serving `silo start`'s /silo.json, or nothing (another server, or none). */
async function serverInfo(): Promise<ServerInfo> {
    try {
        const response = await fetch('/silo.json', { cache: 'no-store', signal: AbortSignal.timeout(5000) });
        if (!response.ok) return {};
        const json = (await response.json()) as unknown;
        if (json === null || typeof json !== 'object') return {};
        const { index, cli_principal } = json as Record<string, unknown>;
        return { index: typeof index === 'string' ? index : undefined, cli_principal: typeof cli_principal === 'string' ? cli_principal : undefined };
    } catch {
        return {};
    }
}

/**
 * The library's retries, except for a network that does not answer at all: the page says so at once
 * (after the agent's own few quick retries) instead of retrying for half a minute.
 */
const retry: RetryPolicy = (error, attempt) => (error instanceof NetworkUnreachableError ? undefined : defaultRetryPolicy(error, attempt));

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
    const config = await readConfig();
    if (config.ignored !== undefined) notify(`The link asked for index ${config.ignored}; this network's Silo is ${config.index}, which is shown.`, true);
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
    const cli = config.server.cli_principal;
    if (cli !== undefined && cli !== identity.getPrincipal().toText()) {
        // Files belong to the principal that uploaded them: the CLI's are not this browser's.
        $('cli-principal').textContent = cli;
        $('cli-note').hidden = false;
    }

    let transport: AgentTransport;
    try {
        transport = await AgentTransport.create({ host: config.host, identity, fetchRootKey: isLocal(config.host) });
    } catch (error) {
        throw new TransportError(`The network at ${config.host} did not answer`, undefined, error);
    }
    const silo = new SiloClient({ transport, indexId, retry });
    localStorage.setItem('silo.index', indexId.toText());

    const links = new Links(silo, isLocal(config.host) ? 'local' : 'ic', config.host);
    const encrypted = new EncryptedFiles(silo, notify);
    const browser = new AssetBrowser(silo, links, $('assets'), $<HTMLButtonElement>('more'), $('empty'), {
        share: (asset) => (isEncrypted(asset) ? encrypted.openShare(asset) : openShare(links, asset)),
        encrypted,
        remove: (asset, card) => confirmDelete(silo, asset, card, browser),
        notify,
        listing: (error) => {
            const banner = $('listing-error');
            banner.hidden = error === null;
            banner.textContent = error === null ? '' : `${errorSentence(error)} The files shown are from before.`;
        }
    }, config.pageSize);
    const queue = new UploadQueue(silo, $('queue'), (asset) => browser.prepend(asset), 2, $<HTMLButtonElement>('clear-finished'));

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
