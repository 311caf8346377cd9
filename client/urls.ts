/**
 * Browser URLs of assets: the bucket serves `/a/<id>/<name>` over HTTP; the URL names the bucket through
 * a gateway's host name.
 */
import type { Principal } from '@dfinity/principal';

/**
 * The IC's gateway domains. `icp0.io` and `icp.net` verify responses against the certificate (Silo's
 * buckets certify that they skip certification); the `raw.` variants pass responses through unverified.
 */
export type IcDomain = 'icp0.io' | 'icp.net' | 'raw.icp0.io' | 'raw.icp.net';

/** Options of {@link SiloClient.assetUrl}. */
export interface AssetUrlOptions {
    /**
     * Seconds a private asset's URL stays valid (default 3600, at most 30 days). Its token is a bearer
     * secret: anyone holding the URL can read the asset until then. Ignored for public assets.
     */
    ttl?: number;
    /** Ask the browser to save the file instead of showing it (`Content-Disposition: attachment`). */
    download?: boolean;
    /** `ic` (default): `https://<bucket>.<domain>/…`; `local`: the local network's gateway. */
    network?: 'ic' | 'local';
    /** The IC gateway domain (default `icp0.io`); a custom domain name is accepted too. */
    domain?: IcDomain | string;
    /** Base URL of the local network's gateway (default `http://127.0.0.1:4943`, where `silo start` listens). */
    gateway?: string;
}

/**
 * The URL of `path` (as `asset_url` returns it) on `bucket`: `https://<bucket>.<domain><path>` on the IC,
 * `http://<bucket>.localhost:<port><path>` on the local network (browsers resolve `*.localhost` to
 * loopback; the local gateway routes by that name).
 */
export function gatewayUrl(bucket: Principal, path: string, options: Pick<AssetUrlOptions, 'network' | 'domain' | 'gateway' | 'download'> = {}): string {
    const withDownload = options.download ? `${path}${path.includes('?') ? '&' : '?'}download` : path;
    if (options.network === 'local') {
        const base = new URL(options.gateway ?? 'http://127.0.0.1:4943');
        return `${base.protocol}//${bucket.toText()}.localhost${base.port ? `:${base.port}` : ''}${withDownload}`;
    }
    const domain = (options.domain ?? 'icp0.io').replace(/^\.+|\.+$/g, '');
    return `https://${bucket.toText()}.${domain}${withDownload}`;
}
