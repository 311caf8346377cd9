/**
 * URLs of stored files for <img>, <video>, links and downloads, from the library's `assetUrl`: each bucket
 * serves `/a/<id>/<name>` on its own origin (`<bucket>.localhost:N` here, `<bucket>.icp0.io` on the IC),
 * so a stored HTML or SVG file can never act as the app. Private files carry a token minted for their owner.
 */
import type { Asset, SiloClient } from '../../client/browser';

/** How long previews of private files stay valid: the page mints new ones when it lists again. */
export const PREVIEW_TTL_SECONDS = 3600;

export class Links {
    /** Public URLs never change: asked for once per asset. */
    private readonly publicUrls = new Map<string, Promise<string>>();

    /**
     * @param network - `local` for a `silo start` network, whose gateway is `gateway` (the page's origin)
     */
    constructor(
        private readonly silo: SiloClient,
        private readonly network: 'local' | 'ic',
        private readonly gateway: string
    ) {}

    /** The asset's URL; a private one's token lasts `ttlSeconds`. */
    url(asset: Asset, ttlSeconds = PREVIEW_TTL_SECONDS): Promise<string> {
        const make = () => this.silo.assetUrl(asset.id, { ttl: ttlSeconds, network: this.network, gateway: this.gateway });
        if ('private' in asset.visibility) return make();
        const key = asset.id.toString();
        let url = this.publicUrls.get(key);
        if (url === undefined) {
            url = make();
            this.publicUrls.set(key, url);
            url.catch(() => this.publicUrls.delete(key));
        }
        return url;
    }
}

/**
 * The same URL answered as an attachment (`?download`), which browsers save instead of showing; derived
 * here rather than asked for, which would cost the index a second call per file.
 */
export function downloadUrl(url: string): string {
    return `${url}${url.includes('?') ? '&' : '?'}download`;
}
