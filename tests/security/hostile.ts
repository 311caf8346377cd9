/**
 * Hostile canisters for the security specs: hand-written Wasm that answers `http_request` (and
 * `http_request_update`) with fixed Candid bytes the spec chose, so a spec can make a canister answer
 * anything the wire allows — an upgrade to a page with script, a Candid bomb, a lying Content-Range.
 */
import { IDL } from '@dfinity/candid';

import { HeaderField } from '../../shared/types';
import { ic0Imports, wat } from '../replica/wat';

/** The gateway protocol's response, without a streaming strategy. */
export const PlainHttpResponse = IDL.Record({ status_code: IDL.Nat16, headers: IDL.Vec(HeaderField), body: IDL.Vec(IDL.Nat8), upgrade: IDL.Opt(IDL.Bool) });

export function httpResponse(status: number, headers: [string, string][], body: string | Uint8Array, upgrade?: boolean): Uint8Array {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    return new Uint8Array(IDL.encode([PlainHttpResponse], [{ status_code: status, headers, body: bytes, upgrade: upgrade === undefined ? [] : [upgrade] }]));
}

const escape = (bytes: Uint8Array): string => Array.from(bytes, (b) => `\\${b.toString(16).padStart(2, '0')}`).join('');

/** A canister whose `http_request` query replies `query` and whose `http_request_update` replies `update`, whatever the request. */
export function fixedReplyWasm(query: Uint8Array, update: Uint8Array = query): Promise<Uint8Array> {
    const pages = Math.ceil((query.length + update.length) / 65536) + 1;
    return wat(`(module
  ${ic0Imports('msg_reply', 'msg_reply_data_append')}
  (memory ${pages})
  (data (i32.const 0) "${escape(query)}")
  (data (i32.const ${query.length}) "${escape(update)}")
  (func (export "canister_query http_request")
    (call $msg_reply_data_append (i32.const 0) (i32.const ${query.length}))
    (call $msg_reply))
  (func (export "canister_update http_request_update")
    (call $msg_reply_data_append (i32.const ${query.length}) (i32.const ${update.length}))
    (call $msg_reply)))`);
}

/**
 * The page the origin-takeover canister serves: its script looks for the web app's IndexedDB key and
 * tries to export it, and reports what it found in the document title (`PWNED <json>`).
 */
export const HOSTILE_PAGE = `<!doctype html><meta charset="utf-8"><title>hostile</title><script>
(async () => {
    const out = { origin: location.origin, records: 0, exported: [] };
    try {
        const db = await new Promise((ok, no) => { const r = indexedDB.open('silo-web'); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
        if (db.objectStoreNames.contains('identity')) {
            const all = await new Promise((ok) => { const g = db.transaction('identity').objectStore('identity').getAll(); g.onsuccess = () => ok(g.result); });
            out.records = all.length;
            for (const value of all) {
                for (const key of Object.values(value)) {
                    try { out.exported.push(Array.from(new Uint8Array(await crypto.subtle.exportKey('pkcs8', key)))); } catch (e) { out.exportError = String(e); }
                }
            }
        }
    } catch (e) { out.error = String(e); }
    document.title = 'PWNED ' + JSON.stringify(out);
})();
</script><p>hostile canister</p>`;
