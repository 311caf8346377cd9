/** `silo url`: a URL a browser loads an asset from, served over HTTP by its bucket. */
import { ENCRYPTED_CONTENT_TYPE } from '../../shared/types';
import { DEFAULT_URL_TTL_SECONDS, MAX_URL_TTL_SECONDS } from '../../shared/url_token';
import { assetId, UsageError, wholeNumber } from './args';
import { type Command, stringOption } from './command';
import { NoServerError, resolveTarget } from './connect';

export const url: Command = {
    name: 'url',
    personal: true,
    args: '<asset-id>',
    summary: 'print a URL a browser can load the asset from (private: with a token)',
    description: `Prints the asset's URL on its bucket: https://<bucket>.icp0.io/a/<id>/<name> on the IC (--domain for
icp.net or the raw.* domains), the local gateway's http://<bucket>.localhost:<port>/... on the local and
embedded networks (the embedded one only while \`silo start\` serves it: without it, url refuses). A private asset's URL carries a token the
index mints for its owner, valid --ttl seconds (default ${DEFAULT_URL_TTL_SECONDS}): anyone holding the URL can read the asset until then.`,
    options: {
        ttl: { type: 'string', value: '<seconds>', help: `how long a private asset's URL works (1 to ${MAX_URL_TTL_SECONDS})` },
        download: { type: 'boolean', help: 'make browsers save the file instead of showing it' },
        domain: { type: 'string', value: '<domain>', help: 'IC gateway domain: icp0.io (default), icp.net, raw.icp0.io, raw.icp.net' }
    },
    check(invocation) {
        if (invocation.positionals.length !== 1) throw new UsageError('url takes one asset id');
        assetId(invocation.positionals[0]);
        wholeNumber('ttl', stringOption(invocation, 'ttl'), 1, MAX_URL_TTL_SECONDS);
        // The embedded network has no gateway until `silo start` serves it: a URL now would point at
        // nothing (or at another process on that port).
        const target = resolveTarget(invocation.options);
        if (target.network === 'embedded' && target.server === null) {
            throw new NoServerError(`nothing serves ${target.stateDir} over HTTP, so no URL would load: run \`silo start --state ${target.stateDir}\` (it keeps running), then this again`);
        }
    },
    async run(invocation) {
        const { client, url: networkUrl } = await invocation.connect();
        const ic = stringOption(invocation, 'network') === 'ic';
        const link = await client.assetUrl(assetId(invocation.positionals[0]), {
            ttl: wholeNumber('ttl', stringOption(invocation, 'ttl'), 1, MAX_URL_TTL_SECONDS),
            download: invocation.options.download === true,
            network: ic ? 'ic' : 'local',
            domain: stringOption(invocation, 'domain'),
            gateway: ic ? undefined : networkUrl
        });
        // An encrypted asset's URL serves its ciphertext: say so rather than let the link pass for the file.
        const id = assetId(invocation.positionals[0]);
        if ((await client.getAsset(id)).content_type === ENCRYPTED_CONTENT_TYPE) {
            invocation.output.note(`asset ${id} is encrypted: this URL serves its ciphertext, which only Silo clients decrypt; share it with \`silo share ${id} <principal>\` instead`);
        }
        invocation.output.result({ url: link }, () => link);
    }
};
