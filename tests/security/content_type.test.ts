/**
 * Content types (issue 17 item 4): begin_upload takes one media type (RFC 9110), normalised, and refuses
 * lists, control characters and malformed types with InvalidArgument, so `application/pdf, text/html`
 * (which a browser may render as HTML) never earns the PDF viewer's unsandboxed CSP. A bucket serves an
 * asset stored before this check with its type parsed again: unparseable means octet-stream, sandboxed.
 */
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { bucketIdlFactory } from '../../shared/idl';
import { CommitSessionArgs, OpenSessionArgs, type HttpResponse } from '../../shared/types';
import { setupForwarder } from '../helpers/forwarder';
import { canisterWasm, createPic, type TestPic } from '../helpers/pic';
import { beginArgs, bytes, deployBucket, deploySilo, identity, type Service, type Silo, upload } from '../helpers/silo';

const alice = identity('alice');
let pic: TestPic;
let silo: Silo;

beforeAll(async () => {
    pic = await createPic();
    silo = await deploySilo(pic);
});
afterAll(async () => {
    await pic.tearDown();
});

async function serve(bucket: Principal, id: bigint): Promise<Map<string, string>> {
    const actor = pic.createActor<Service>(bucketIdlFactory, bucket);
    actor.setPrincipal(Principal.anonymous());
    const raw: HttpResponse = await actor.http_request({ method: 'GET', url: `/a/${id}`, headers: [], body: new Uint8Array(), certificate_version: [2] });
    expect(raw.status_code).toBe(200);
    return new Map(raw.headers.map(([k, v]) => [k.toLowerCase(), v]));
}

const REFUSED = [
    'application/pdf, text/html',
    'application/pdf,text/html',
    'text/html, application/pdf',
    'application/pdf; name="a,b"',
    'application/pdf\r\nX-Injected: 1',
    'application/pdf\ttext/html',
    'application/pdf\u0000',
    'text/html\u007f',
    'applicätion/pdf',
    'application/pdf text/html',
    'application/pdf;text/html',
    'application/pdf; charset',
    'application/pdf; =x',
    'application/pdf; a="unterminated',
    '/pdf',
    'application/',
    'application',
    'application/pdf/html',
    ' ; ',
    '*/* ; q=1,text/html'
];

describe('content types at begin_upload', () => {
    it.each(REFUSED)('refuses %j with InvalidArgument', async (type) => {
        const r = await silo.index(alice).begin_upload(beginArgs(bytes(10, 1), { contentType: type }));
        expect(Object.keys(r.Err ?? {})).toEqual(['InvalidArgument']);
        expect(r.Err.InvalidArgument).toMatch(/media type/);
    });

    it('stores one media type normalised: lowercase type, subtype and parameter names, values kept', async () => {
        const cases: [string, string][] = [
            ['Application/PDF', 'application/pdf'],
            ['text/HTML ;Charset=UTF-8', 'text/html; charset=UTF-8'],
            ['text/plain; format="flowed; really"', 'text/plain; format="flowed; really"'],
            ['image/svg+xml;;', 'image/svg+xml'],
            ['', 'application/octet-stream']
        ];
        for (const [given, stored] of cases) {
            const { asset } = await upload(silo, alice, bytes(10, 2), { contentType: given, visibility: { public: null } });
            expect(asset.content_type).toBe(stored);
        }
        const stats = await silo.admin.stats();
        expect(stats.open_sessions).toBe(0n);
    });

    it('serves the PDF exception only on the exact type application/pdf', async () => {
        const pdf = (await upload(silo, alice, bytes(10, 3), { contentType: 'APPLICATION/PDF; x=1', visibility: { public: null } })).asset;
        const lookalike = (await upload(silo, alice, bytes(10, 4), { contentType: 'application/pdfx', visibility: { public: null } })).asset;
        expect((await serve(pdf.bucket, pdf.id)).get('content-security-policy')).not.toMatch(/sandbox/);
        const served = await serve(lookalike.bucket, lookalike.id);
        expect(served.get('content-type')).toBe('application/pdfx');
        expect(served.get('content-security-policy')).toMatch(/; sandbox$/);
    });
});

describe('content types stored before the check', () => {
    it('serves an unparseable legacy type as application/octet-stream, sandboxed', async () => {
        // A bucket whose "index" is a forwarder the spec drives, to commit what an older index let through.
        const forwarder = await setupForwarder(pic);
        const bucket = await deployBucket(pic, forwarder.id, canisterWasm('bucket'));
        const owner = alice.getPrincipal();
        const call = async (method: string, types: IDL.Type[], args: unknown[]) => {
            const reply = await forwarder.call(bucket, method, new Uint8Array(IDL.encode(types, args)));
            expect(reply.length).toBeGreaterThan(0);
        };
        const legacy = [
            [1n, 'application/pdf, text/html'],
            [2n, 'application/pdf\ttext/html'],
            [3n, 'application/pdf; x=1'],
            [4n, 'text/html,application/pdf']
        ] as const;
        for (const [id, type] of legacy) {
            await call('c2c_open_session', [OpenSessionArgs], [{ session_id: id, owner, size: 0n, chunk_size: 1024, chunk_count: 0, visibility: { public: null } }]);
            await call('c2c_seal_session', [IDL.Nat64], [id]);
            const meta = { id, name: `legacy${id}.pdf`, content_type: type, sha256: new Uint8Array(32) };
            await call('c2c_commit_session', [CommitSessionArgs], [{ session_id: id, owner, visibility: { public: null }, meta: [meta] }]);
        }
        for (const [id, type] of legacy) {
            const headers = await serve(bucket, id);
            if (id === 3n) {
                expect(headers.get('content-type')).toBe('application/pdf; x=1');
                expect(headers.get('content-security-policy')).not.toMatch(/sandbox/);
                continue;
            }
            expect(headers.get('content-type'), type).toBe('application/octet-stream');
            expect(headers.get('content-security-policy'), type).toMatch(/; sandbox$/);
        }
    });
});
