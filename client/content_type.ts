/**
 * The one content-type rule of the library, the `silo` command and the web app: an explicit type first,
 * then a Blob's or File's own `type`, then the name's extension (the `mime` package's table), else
 * `application/octet-stream`.
 */
import mime from 'mime';

/** What the type is decided from; each part is optional. */
export interface ContentTypeHints {
    /** The type the caller named (`contentType` option, `--content-type`): used as is. */
    explicit?: string;
    /** The content itself: a Blob or File contributes its `type` when it has one. */
    input?: unknown;
    /** The name recorded with the asset, or the file's path: its extension is looked up. */
    name?: string;
}

/** The fallback when nothing says what the bytes are. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/**
 * The content type to record for an upload, by the rule above.
 *
 * @example
 * contentTypeFor({ name: 'photo.jpg' })                      // 'image/jpeg'
 * contentTypeFor({ input: new Blob([], { type: 'text/plain' }), name: 'x.bin' }) // 'text/plain'
 */
export function contentTypeFor(hints: ContentTypeHints): string {
    if (hints.explicit !== undefined && hints.explicit !== '') return hints.explicit;
    const blobType = typeof Blob !== 'undefined' && hints.input instanceof Blob ? hints.input.type : '';
    if (blobType !== '') return blobType;
    return (hints.name === undefined ? null : mime.getType(hints.name)) ?? DEFAULT_CONTENT_TYPE;
}
