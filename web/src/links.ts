/**
 * URLs of stored files for <img>, <video>, links and downloads: served by the bucket's `http_request`
 * through the network's HTTP gateway. Private files need a token URL minted by the index for the owner.
 */
import type { Asset, SiloClient } from '../../client/browser';

export interface LinkOptions {
    /** `Content-Disposition: attachment` instead of inline. */
    download?: boolean;
    /** Lifetime of a private file's token, in seconds. */
    ttlSeconds?: number;
}

/** How long previews of private files stay valid: the page mints new ones when it reloads the list. */
export const PREVIEW_TTL_SECONDS = 3600;

type AssetUrl = (id: bigint, options: { ttl?: number; download?: boolean }) => Promise<string>;

export async function assetLink(silo: SiloClient, asset: Asset, options: LinkOptions = {}): Promise<string> {
    const assetUrl = (silo as unknown as { assetUrl?: AssetUrl }).assetUrl;
    if (typeof assetUrl !== 'function') throw new Error('this build of the client library cannot make file URLs yet');
    const isPrivate = 'private' in asset.visibility;
    return assetUrl.call(silo, asset.id, { download: options.download, ttl: isPrivate ? (options.ttlSeconds ?? PREVIEW_TTL_SECONDS) : undefined });
}
