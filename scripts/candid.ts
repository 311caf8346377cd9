/**
 * The committed Candid interfaces (`canisters/<name>/<name>.did`): rendered with named types from the
 * types the canisters declare their methods with (`shared/types.ts`, `shared/idl.ts`), and parsed back
 * into a name-free structure so a spec can compare them with the interface Azle generates from the
 * canister code.
 */
import { IDL } from '@dfinity/candid';

import { bucketMethods, indexMethods, verifierMethods } from '../shared/idl';
import * as types from '../shared/types';

/** The public services, with their init arguments. */
export const services = {
    index: { init: [types.IndexInitArgs], methods: indexMethods },
    bucket: { init: [types.BucketInitArgs], methods: bucketMethods },
    verifier: { init: [], methods: verifierMethods }
} as const;

export type ServiceName = keyof typeof services;

// ---------------------------------------------------------------------------------------------------------
// Rendering

const KEYWORDS = new Set(['type', 'service', 'func', 'record', 'variant', 'vec', 'opt', 'blob', 'principal', 'query', 'oneway', 'composite_query', 'import', 'null', 'bool', 'text', 'reserved', 'empty']);

function label(name: string): string {
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !KEYWORDS.has(name) ? name : JSON.stringify(name);
}

/** Names for the types exported from shared/types.ts (the first export wins for aliases). */
function exportedNames(): Map<IDL.Type, string> {
    const names = new Map<IDL.Type, string>();
    for (const [name, value] of Object.entries(types)) {
        if (value instanceof IDL.Type && !names.has(value)) names.set(value, name);
    }
    return names;
}

function upperCamel(text: string): string {
    return text
        .split(/[^A-Za-z0-9]+/)
        .filter((w) => w !== '')
        .map((w) => w[0]!.toUpperCase() + w.slice(1))
        .join('');
}

/** Renders a service as a .did file: one `type` per named type it reaches, then the service. */
export function renderDid(service: ServiceName): string {
    const names = exportedNames();
    const definitions = new Map<string, string>();
    const { init, methods } = services[service];

    const isResult = (t: IDL.Type): t is IDL.VariantClass =>
        t instanceof IDL.VariantClass && t._fields.length === 2 && t._fields.some(([k]) => k === 'Ok') && t._fields.some(([k, v]) => k === 'Err' && v === types.SiloError);

    const nameOf = (t: IDL.Type): string | undefined => {
        const known = names.get(t);
        if (known !== undefined) return known;
        if (isResult(t)) {
            // Result(T) builds a new variant per use: name it after its Ok type.
            const ok = t._fields.find(([k]) => k === 'Ok')![1];
            const okName = ok instanceof IDL.NullClass ? 'Unit' : (nameOf(ok) ?? upperCamel(inline(ok)));
            const name = okName.endsWith('Result') ? `${okName.slice(0, -'Result'.length)}Outcome` : `${okName}Result`;
            names.set(t, name);
            return name;
        }
        return undefined;
    };

    const ref = (t: IDL.Type): string => {
        const name = nameOf(t);
        if (name === undefined) return inline(t);
        if (!definitions.has(name)) {
            definitions.set(name, ''); // placeholder first: keeps definition order and stops recursion
            definitions.set(name, block(t));
        }
        return name;
    };

    const fields = (fs: [string, IDL.Type][], variant: boolean, sep: string): string =>
        fs.map(([k, v]) => (variant && v instanceof IDL.NullClass ? label(k) : `${label(k)} : ${ref(v)}`)).join(sep);

    /** A definition's body: records and variants one field a line. */
    function block(t: IDL.Type): string {
        if (t instanceof IDL.VariantClass || (t instanceof IDL.RecordClass && !(t instanceof IDL.TupleClass))) {
            const keyword = t instanceof IDL.VariantClass ? 'variant' : 'record';
            const fs = (t as IDL.RecordClass)._fields;
            return fs.length === 0 ? `${keyword} {}` : `${keyword} {\n  ${fields(fs, keyword === 'variant', ';\n  ')};\n}`;
        }
        return inline(t);
    }

    function inline(t: IDL.Type): string {
        if (t instanceof IDL.VecClass) {
            const inner = (t as unknown as { _type: IDL.Type })._type;
            return inner instanceof IDL.FixedNatClass && inner._bits === 8 ? 'blob' : `vec ${ref(inner)}`;
        }
        if (t instanceof IDL.OptClass) return `opt ${ref((t as unknown as { _type: IDL.Type })._type)}`;
        if (t instanceof IDL.TupleClass) return `record { ${(t as unknown as { _components: IDL.Type[] })._components.map(ref).join('; ')} }`;
        if (t instanceof IDL.VariantClass) return `variant { ${fields(t._fields, true, '; ')} }`;
        if (t instanceof IDL.RecordClass) return `record { ${fields(t._fields, false, '; ')} }`;
        if (t instanceof IDL.RecClass) return ref((t as unknown as { _type: IDL.Type })._type);
        return t.display();
    }

    const args = (ts: IDL.Type[]): string => `(${ts.map(ref).join(', ')})`;
    const lines = Object.entries(methods)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, f]) => `  ${label(name)} : ${args(f.argTypes)} -> ${args(f.retTypes)}${f.annotations.map((a: string) => ` ${a}`).join('')};`);
    const head = args(init as unknown as IDL.Type[]);
    const body = `service : ${head} -> {\n${lines.join('\n')}\n}\n`;
    const defs = [...definitions].map(([n, d]) => `type ${n} = ${d};`).join('\n');
    return `// Generated by \`npm run did\` from shared/types.ts and shared/idl.ts: do not edit by hand.\n// The public Candid interface of Silo's ${service} canister.\n\n${defs}\n\n${body}`;
}

// ---------------------------------------------------------------------------------------------------------
// Parsing: enough of the Candid grammar for interfaces of this kind (no imports, no service references).

/** A Candid type with every name resolved: what two interfaces must agree on. */
export type Shape =
    | { k: 'prim'; name: string }
    | { k: 'vec' | 'opt'; of: Shape }
    | { k: 'record' | 'variant'; fields: [string, Shape][] }
    | { k: 'func'; args: Shape[]; rets: Shape[]; modes: string[] }
    | { k: 'ref'; name: string };

/** A parsed service: its init arguments and its methods by name. */
export interface ParsedService {
    init: Shape[];
    methods: Record<string, Shape>;
}

function tokenize(text: string): string[] {
    const tokens: string[] = [];
    const re = /\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|(->|[{}();:,=]|"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*|\d+)/y;
    let m: RegExpExecArray | null;
    while (re.lastIndex < text.length) {
        const at = re.lastIndex;
        m = re.exec(text);
        if (m === null) throw new Error(`unexpected character at offset ${at}: ${JSON.stringify(text.slice(at, at + 20))}`);
        if (m[1] !== undefined) tokens.push(m[1]);
    }
    return tokens;
}

/** Parses a .did file into its service, resolving type names. */
export function parseDid(text: string): ParsedService {
    const tokens = tokenize(text);
    let i = 0;
    const peek = (): string | undefined => tokens[i];
    const next = (): string => {
        const t = tokens[i++];
        if (t === undefined) throw new Error('unexpected end of Candid text');
        return t;
    };
    const expect = (t: string): void => {
        const got = next();
        if (got !== t) throw new Error(`expected ${t}, found ${got}`);
    };
    const name = (): string => {
        const t = next();
        return t.startsWith('"') ? (JSON.parse(t) as string) : t;
    };

    const PRIMS = new Set(['nat', 'nat8', 'nat16', 'nat32', 'nat64', 'int', 'int8', 'int16', 'int32', 'int64', 'float32', 'float64', 'bool', 'text', 'null', 'reserved', 'empty', 'principal']);

    const fieldList = (variant: boolean): [string, Shape][] => {
        expect('{');
        const out: [string, Shape][] = [];
        let position = 0;
        while (peek() !== '}') {
            let key: string;
            let shape: Shape;
            const first = name();
            if (peek() === ':') {
                next();
                key = first;
                shape = type();
            } else if (variant) {
                key = first;
                shape = { k: 'prim', name: 'null' };
            } else {
                // A tuple component: `record { text; nat }`.
                i--;
                key = String(position);
                shape = type();
            }
            position++;
            out.push([key, shape]);
            if (peek() === ';') next();
        }
        expect('}');
        return out;
    };

    const tuple = (): Shape[] => {
        expect('(');
        const out: Shape[] = [];
        while (peek() !== ')') {
            out.push(type());
            if (peek() === ',') next();
        }
        expect(')');
        return out;
    };

    function type(): Shape {
        const t = next();
        if (t === 'vec') return { k: 'vec', of: type() };
        if (t === 'opt') return { k: 'opt', of: type() };
        if (t === 'blob') return { k: 'vec', of: { k: 'prim', name: 'nat8' } };
        if (t === 'record') return { k: 'record', fields: fieldList(false) };
        if (t === 'variant') return { k: 'variant', fields: fieldList(true) };
        if (t === 'func') {
            i--;
            return func(true);
        }
        if (PRIMS.has(t)) return { k: 'prim', name: t };
        return { k: 'ref', name: t };
    }

    function func(keyword: boolean): Shape {
        if (keyword) expect('func');
        const args = tuple();
        expect('->');
        const rets = tuple();
        const modes: string[] = [];
        while (peek() === 'query' || peek() === 'oneway' || peek() === 'composite_query') modes.push(next());
        return { k: 'func', args, rets, modes };
    }

    const defs = new Map<string, Shape>();
    let service: ParsedService | undefined;
    while (i < tokens.length) {
        const t = next();
        if (t === 'type') {
            const n = name();
            expect('=');
            defs.set(n, type());
            if (peek() === ';') next();
        } else if (t === 'service') {
            if (peek() !== ':') name();
            expect(':');
            let init: Shape[] = [];
            if (peek() === '(') {
                init = tuple();
                expect('->');
            }
            expect('{');
            const methods: Record<string, Shape> = {};
            while (peek() !== '}') {
                const m = name();
                expect(':');
                methods[m] = peek() === 'func' ? func(true) : func(false);
                if (peek() === ';') next();
            }
            expect('}');
            service = { init, methods };
            if (peek() === ';') next();
        } else {
            throw new Error(`unexpected ${t} at top level`);
        }
    }
    if (service === undefined) throw new Error('no service in Candid text');

    const resolve = (s: Shape, seen: string[] = []): Shape => {
        switch (s.k) {
            case 'ref': {
                if (seen.includes(s.name)) throw new Error(`recursive type ${s.name} is not supported here`);
                const d = defs.get(s.name);
                if (d === undefined) throw new Error(`unknown type ${s.name}`);
                return resolve(d, [...seen, s.name]);
            }
            case 'vec':
            case 'opt':
                return { k: s.k, of: resolve(s.of, seen) };
            case 'record':
            case 'variant':
                // Field order carries no meaning in Candid: compare sorted by label.
                return { k: s.k, fields: s.fields.map(([f, v]) => [f, resolve(v, seen)] as [string, Shape]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
            case 'func':
                return { k: 'func', args: s.args.map((a) => resolve(a, seen)), rets: s.rets.map((a) => resolve(a, seen)), modes: [...s.modes].sort() };
            default:
                return s;
        }
    };
    return {
        init: service.init.map((s) => resolve(s)),
        methods: Object.fromEntries(Object.entries(service.methods).map(([m, s]) => [m, resolve(s)]))
    };
}

/** Pretty-prints a shape for diagnostics. */
export function showShape(s: Shape): string {
    switch (s.k) {
        case 'prim':
        case 'ref':
            return s.name;
        case 'vec':
        case 'opt':
            return `${s.k} ${showShape(s.of)}`;
        case 'record':
        case 'variant':
            return `${s.k} {${s.fields.map(([f, v]) => `${f}:${showShape(v)}`).join('; ')}}`;
        case 'func':
            return `(${s.args.map(showShape).join(', ')}) -> (${s.rets.map(showShape).join(', ')})${s.modes.map((m) => ` ${m}`).join('')}`;
    }
}
