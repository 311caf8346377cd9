/**
 * URLs of stored files for <img>, <video>, links and downloads: served by the bucket's `http_request`
 * through the network's HTTP gateway, at `/a/<id>/<name>`. Private files need a token the index mints
 * for their owner (`asset_url`), valid for a chosen time.
 */
import type { Principal } from '@dfinity/principal';

import { type Asset, fromVariant, type Transport } from '../../client/browser';
import { indexIdlFactory } from '../../shared/idl';
import type { AssetUrl, Result } from '../../shared/types';


/** How long previews of private files stay valid: the page mints new ones when it lists again. */
export const PREVIEW_TTL_SECONDS = 3600;

/**
 * Makes links on the network at `gateway` (the page's origin on a local network): each bucket is its own
 * origin, `http://<bucket>.localhost:N`, as `<bucket>.icp0.io` is on the IC, so a stored HTML or SVG
 * file can never act as the app.
 */
export class Links {
    private readonly index: { asset_url(id: bigint, ttl: [] | [number]): Promise<Result<AssetUrl>> };
    private readonly publicUrls = new Map<string, string>();

    constructor(
        transport: Transport,
        indexId: Principal,
        private readonly gateway: URL
    ) {
        this.index = transport.actor(indexIdlFactory, indexId);
    }

    /** The asset's URL; a private one's token lasts `ttlSeconds`. */
    async url(asset: Asset, ttlSeconds = PREVIEW_TTL_SECONDS): Promise<string> {
        const isPrivate = 'private' in asset.visibility;
        const key = asset.id.toString();
        let url = isPrivate ? undefined : this.publicUrls.get(key);
        if (url === undefined) {
            const result = await this.index.asset_url(asset.id, isPrivate ? [ttlSeconds] : []);
            if ('Err' in result) throw fromVariant(result.Err);
            url = this.origin(result.Ok.bucket) + result.Ok.path;
            if (!isPrivate) this.publicUrls.set(key, url);
        }
        return url;
    }

    private origin(bucket: Principal): string {
        const local = this.gateway.hostname === '127.0.0.1' || this.gateway.hostname === 'localhost';
        return local ? `${this.gateway.protocol}//${bucket.toText()}.localhost${this.gateway.port ? `:${this.gateway.port}` : ''}` : `https://${bucket.toText()}.icp0.io`;
    }
}

/** The same URL answered as an attachment (`?download`), which browsers save instead of showing. */
export function downloadUrl(url: string): string {
    return `${url}${url.includes('?') ? '&' : '?'}download`;
}
