/** `silo ls`, `info` and `rm`: the assets of the index. */
import { toHex } from '../../shared/sha256';
import type { Asset } from '../../shared/types';
import { assetId, principal, UsageError } from './args';
import { type Command, type Invocation, stringOption } from './command';
import { formatBytes, type Output } from './output';
import { assetJson } from './upload';

const oneId = (invocation: Invocation, command: string): void => {
    if (invocation.positionals.length !== 1) throw new UsageError(`${command} takes one asset id`);
    assetId(invocation.positionals[0]);
};

const describeAsset = (output: Output, a: Asset): string =>
    `${String(a.id).padStart(6)}  ${formatBytes(Number(a.size)).padStart(10)}  ${'public' in a.visibility ? 'public ' : 'private'}  ${output.name(a.name)}`;

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
        output.result(assetJson(asset), () =>
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
                `created       ${new Date(Number(asset.created_at / 1_000_000n)).toISOString()}`
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
