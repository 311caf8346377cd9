/** `silo ls`, `info`, `rm`, and `share`, `unshare`, `shared` for encrypted assets: the assets of the index. */
import type { Principal } from '@dfinity/principal';

import { toHex } from '../../shared/sha256';
import { type Asset, ENCRYPTED_CONTENT_TYPE, type EncryptionInfo } from '../../shared/types';
import { assetId, principal, UsageError } from './args';
import { type Command, type Invocation, stringOption } from './command';
import { formatBytes, type Output } from './output';
import { assetJson } from './upload';

const oneId = (invocation: Invocation, command: string): void => {
    if (invocation.positionals.length !== 1) throw new UsageError(`${command} takes one asset id`);
    assetId(invocation.positionals[0]);
};

const describeAsset = (output: Output, a: Asset): string =>
    `${String(a.id).padStart(6)}  ${formatBytes(Number(a.size)).padStart(10)}  ${'public' in a.visibility ? 'public ' : 'private'}${a.content_type === ENCRYPTED_CONTENT_TYPE ? '  encrypted' : ''}  ${output.name(a.name)}`;

export const ls: Command = {
    name: 'ls',
    personal: (options) => options.owner === undefined,
    args: '',
    summary: "list your assets (--owner <principal> for someone else's public ones)",
    description: `Lists assets: yours, or another owner's public ones. With --json, one JSON array of assets.
Control characters in names (ANSI escapes too) are shown as \\u{..} escapes; --json prints names exactly.`,
    options: {
        owner: { type: 'string', value: '<principal>', help: "whose assets (only others' public ones are listed)" }
    },
    check(invocation) {
        if (invocation.positionals.length > 0) throw new UsageError(`ls takes no arguments, got '${invocation.positionals[0]}'`);
        const owner = stringOption(invocation, 'owner');
        if (owner !== undefined) principal('owner', owner);
    },
    async run(invocation) {
        const { output } = invocation;
        const owner = stringOption(invocation, 'owner');
        const { client } = await invocation.connect();
        const assets: Asset[] = [];
        for await (const asset of client.listAssets({ owner: owner === undefined ? undefined : principal('owner', owner) })) assets.push(asset);
        output.result(assets.map(assetJson), () => (assets.length === 0 ? 'no assets' : assets.map((a) => describeAsset(output, a)).join('\n')));
    }
};

export const info: Command = {
    name: 'info',
    personal: true,
    args: '<asset-id>',
    summary: "show an asset's record",
    description: "Shows an asset's record: name, content type, size, SHA-256, owner, visibility, bucket, chunks.",
    options: {},
    check: (invocation) => oneId(invocation, 'info'),
    async run(invocation) {
        const { output } = invocation;
        const { client } = await invocation.connect();
        const asset = await client.getAsset(assetId(invocation.positionals[0]));
        // An encrypted asset: its plaintext's type and size, and (for its owner) whom it is shared with.
        const sealed = asset.content_type === ENCRYPTED_CONTENT_TYPE ? await client.encryption(asset.id) : undefined;
        const json = sealed === undefined ? assetJson(asset) : { ...(assetJson(asset) as object), encryption: encryptionJson(sealed) };
        output.result(json, () =>
            [
                `id            ${asset.id}`,
                `name          ${output.name(asset.name)}`,
                `content type  ${output.name(asset.content_type)}`,
                `size          ${asset.size} bytes`,
                `sha256        ${toHex(asset.sha256)}`,
                `owner         ${asset.owner.toText()}`,
                `visibility    ${Object.keys(asset.visibility)[0]}`,
                `bucket        ${asset.bucket.toText()}`,
                `chunks        ${describeChunks(asset)}`,
                `created       ${new Date(Number(asset.created_at / 1_000_000n)).toISOString()}`,
                ...(sealed === undefined
                    ? []
                    : [
                          `encrypted     v${sealed.info.version}: ${sealed.info.plaintext_size} bytes of ${output.name(sealed.info.content_type)}`,
                          `readers       ${sealed.readers.length === 0 ? (asset.owner.toText() === client.principal.toText() ? 'none (only you)' : 'shared with you') : sealed.readers.map((r) => r.toText()).join(', ')}`
                      ])
            ].join('\n')
        );
    }
};

export const rm: Command = {
    name: 'rm',
    personal: true,
    args: '<asset-id>',
    summary: 'delete an asset',
    description: 'Deletes an asset. It disappears from the index at once; its bucket deletes the chunks.',
    options: {},
    check: (invocation) => oneId(invocation, 'rm'),
    async run(invocation) {
        const id = assetId(invocation.positionals[0]);
        const { client } = await invocation.connect();
        await client.deleteAsset(id);
        invocation.output.result({ deleted: id.toString() }, () => `deleted ${id}`);
    }
};

/** An asset's chunks in words: none for an empty file, the last one's length when it is shorter. */
export function describeChunks(asset: { chunk_count: number; chunk_size: number; size: bigint }): string {
    const count = asset.chunk_count;
    if (count === 0) return 'none (empty file)';
    const last = Number(asset.size - BigInt(asset.chunk_size) * BigInt(count - 1));
    if (count === 1) return `1 of ${last} bytes`;
    if (last === asset.chunk_size) return `${count} × ${asset.chunk_size} bytes`;
    return `${count}: ${count - 1} × ${asset.chunk_size} bytes and one of ${last} bytes`;
}

/** An encrypted asset's format and readers as plain JSON. */
function encryptionJson(sealed: { info: EncryptionInfo; readers: Principal[] }): unknown {
    return {
        version: sealed.info.version,
        plaintext_size: sealed.info.plaintext_size.toString(),
        content_type: sealed.info.content_type,
        readers: sealed.readers.map((r) => r.toText())
    };
}

const shareCheck = (command: string) => (invocation: Invocation) => {
    if (invocation.positionals.length !== 2) throw new UsageError(`${command} takes an asset id and a principal`);
    assetId(invocation.positionals[0]);
    principal('principal', invocation.positionals[1]);
};

export const share: Command = {
    name: 'share',
    args: '<asset-id> <principal>',
    summary: 'let a principal download and decrypt one of your encrypted assets',
    description: `Shares an encrypted asset (uploaded with --encrypt) with a principal: its key, wrapped to that principal,
goes to the index, which releases it to that principal only. They then \`silo download\` it as you do.
Costs one vetKey derivation for this run (the index pays it) unless the key is already known.`,
    options: {},
    check: shareCheck('share'),
    async run(invocation) {
        const id = assetId(invocation.positionals[0]);
        const reader = principal('principal', invocation.positionals[1]);
        const { client } = await invocation.connect();
        await client.share(id, reader);
        invocation.output.result({ shared: id.toString(), principal: reader.toText() }, () => `shared ${id} with ${reader.toText()}`);
    }
};

export const unshare: Command = {
    name: 'unshare',
    args: '<asset-id> <principal>',
    summary: 'stop releasing an encrypted asset\'s key to a principal',
    description: `Stops the index releasing an encrypted asset's key to a principal. It cannot take back what they already
downloaded and decrypted: to change the key itself, upload the file again with --encrypt and delete this one.`,
    options: {},
    check: shareCheck('unshare'),
    async run(invocation) {
        const id = assetId(invocation.positionals[0]);
        const reader = principal('principal', invocation.positionals[1]);
        const { client } = await invocation.connect();
        await client.unshare(id, reader);
        invocation.output.result({ unshared: id.toString(), principal: reader.toText() }, () => `unshared ${id} from ${reader.toText()}`);
    }
};

export const reencrypt: Command = {
    name: 'reencrypt',
    args: '<asset-id>',
    summary: 'encrypt one of your encrypted assets again under a new key (a new id)',
    description: `Downloads and decrypts an encrypted asset, uploads it again encrypted under a new key, shares the new
asset with the current readers and deletes the old one; prints the new asset. After \`silo unshare\`, this
puts the content out of reach of a former reader who kept the old key.`,
    options: {},
    check: (invocation) => oneId(invocation, 'reencrypt'),
    async run(invocation) {
        const id = assetId(invocation.positionals[0]);
        const { client } = await invocation.connect();
        const fresh = await client.reencrypt(id);
        invocation.output.result(assetJson(fresh), () => `re-encrypted ${id} as ${fresh.id}`);
    }
};

export const shared: Command = {
    name: 'shared',
    args: '',
    summary: 'list the encrypted assets others shared with you',
    description: 'Lists the encrypted assets shared with your principal. With --json, one JSON array of assets.',
    options: {},
    check(invocation) {
        if (invocation.positionals.length > 0) throw new UsageError(`shared takes no arguments, got '${invocation.positionals[0]}'`);
    },
    async run(invocation) {
        const { output } = invocation;
        const { client } = await invocation.connect();
        const assets: Asset[] = [];
        for await (const asset of client.listSharedWithMe()) assets.push(asset);
        output.result(assets.map(assetJson), () => (assets.length === 0 ? 'nothing is shared with you' : assets.map((a) => `${describeAsset(output, a)}  (from ${a.owner.toText()})`).join('\n')));
    }
};
