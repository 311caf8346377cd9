/**
 * One media type, as RFC 9110 §8.3.1 defines it, parsed strictly: the index accepts an upload's content
 * type only in this form (normalised), and a bucket grants per-type exceptions (the PDF viewer's CSP) only
 * on the exact parsed type, so a list (`application/pdf, text/html`, whose last type a browser may use),
 * a control character or a malformed type can never reach a response header as something else.
 *
 *     media-type = type "/" subtype *( OWS ";" OWS [ name "=" ( token / quoted-string ) ] )
 *
 * Stricter than the grammar where browsers disagree: no commas anywhere (not even quoted), no control
 * characters (so OWS is spaces only) and ASCII only. Type, subtype and parameter names are
 * case-insensitive and come back lowercase; values are kept as written.
 */

/** A parsed media type. */
export interface MediaType {
    /** `type/subtype`, lowercase: what exceptions compare against. */
    essence: string;
    /** Parameters in order, names lowercase, values as written (a quoted-string with its quotes). */
    parameters: [string, string][];
    /** The normalised text: `essence` then `; name=value` for each parameter. */
    text: string;
}

/** An empty content type stands for this (the upload's bytes are served as a download, sandboxed). */
export const DEFAULT_MEDIA_TYPE = 'application/octet-stream';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TOKEN_PREFIX = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
/** A quoted-string of printable ASCII, with backslash escapes of printable ASCII (no commas: see above). */
const QUOTED_PREFIX = /^"(?:[\x20\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]|\\[\x20-\x2b\x2d-\x7e])*"/;

/** Parses one media type; `{ ok: false, reason }` says what is wrong with it. */
export function parseMediaType(input: string): { ok: true; value: MediaType } | { ok: false; reason: string } {
    const bad = (reason: string) => ({ ok: false as const, reason: `content_type ${JSON.stringify(input)} is not one media type (type/subtype; name=value): ${reason}` });
    if (/[^\x20-\x7e]/.test(input)) return bad('control or non-ASCII characters');
    if (input.includes(',')) return bad('a comma (a list of types is not one type)');
    const text = input.replace(/^ +| +$/g, '');
    const slash = text.indexOf('/');
    if (slash < 0) return bad('no "/" between type and subtype');
    const type = text.slice(0, slash);
    const rest = text.slice(slash + 1);
    const subtype = TOKEN_PREFIX.exec(rest)?.[0] ?? '';
    if (!TOKEN.test(type) || subtype === '') return bad('type and subtype must be tokens');
    const essence = `${type}/${subtype}`.toLowerCase();
    const parameters: [string, string][] = [];
    let at = rest.slice(subtype.length);
    while (at.length > 0) {
        at = at.replace(/^ */, '');
        if (!at.startsWith(';')) return bad(`unexpected ${JSON.stringify(at[0])} after the type`);
        at = at.slice(1).replace(/^ */, '');
        if (at.length === 0 || at.startsWith(';')) continue; // empty parameters are allowed
        const name = TOKEN_PREFIX.exec(at)?.[0];
        if (name === undefined || at[name.length] !== '=') return bad('a parameter must be name=value');
        at = at.slice(name.length + 1);
        const value = (at.startsWith('"') ? QUOTED_PREFIX : TOKEN_PREFIX).exec(at)?.[0];
        if (value === undefined) return bad(`the value of parameter ${name} must be a token or a quoted string`);
        parameters.push([name.toLowerCase(), value]);
        at = at.slice(value.length);
    }
    return { ok: true, value: { essence, parameters, text: [essence, ...parameters.map(([n, v]) => `${n}=${v}`)].join('; ') } };
}

/**
 * What an upload's content type is stored as: its normalised form (an empty one is
 * DEFAULT_MEDIA_TYPE), or the reason it is refused.
 */
export function normaliseContentType(input: string): { ok: true; value: string } | { ok: false; reason: string } {
    if (input === '') return { ok: true, value: DEFAULT_MEDIA_TYPE };
    const parsed = parseMediaType(input);
    return parsed.ok ? { ok: true, value: parsed.value.text } : parsed;
}

/**
 * The type to serve for a stored content type: parsed again (assets stored before uploads were checked
 * may hold anything), and DEFAULT_MEDIA_TYPE for whatever does not parse.
 */
export function servedMediaType(stored: string): MediaType {
    const parsed = parseMediaType(stored);
    if (parsed.ok) return parsed.value;
    return { essence: DEFAULT_MEDIA_TYPE, parameters: [], text: DEFAULT_MEDIA_TYPE };
}
