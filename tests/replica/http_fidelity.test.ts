/**
 * Where the local network once differed from the IC, checked through `@dfinity/agent` against the HTTP
 * interface, with hand-written canisters (`RELAY_WAT`): composite queries, the reject texts a calling
 * canister sees, the unknown management method, calls to ids no subnet hosts, the call queue limit,
 * one-way calls (and a `stop_canister` after them), and certified data read back and verified.
 */
import { Actor, Certificate, CanisterStatus, HttpAgent, lookupResultToBuffer, pollForResponse, type ActorSubclass } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FreeCosts, MANAGEMENT_CANISTER_ID, Replica } from '../../replica';
import { canisterIdFromIndex } from '../../replica/ids';
import { idlFactory as probeIdl, type ProbeService } from '../fixtures/probe/idl';
import { serveIcApi } from '../helpers/ic_api';
import { PROBE_WASM, probeArg } from './probe';
import { CERTIFIED_WAT, RELAY_WAT, wat } from './wat';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
const identity = Ed25519KeyIdentity.generate(text('fidelity'.padEnd(32, '.')));
const controller = identity.getPrincipal();
const MAINNET_ID = Principal.fromText('ryjl3-tyaaa-aaaaa-aaaba-cai');

/** `[n][callee][m][method]`: a call target for the relay (the management canister as an empty callee). */
function target(callee: Principal, method: string): Uint8Array {
    const id = callee.toText() === MANAGEMENT_CANISTER_ID.toText() ? new Uint8Array() : callee.toUint8Array();
    const name = text(method);
    return Uint8Array.of(id.length, ...id, name.length, ...name);
}

const TRAP_HELP =
    'Consider gracefully handling failures from this canister or altering the canister to handle exceptions. See documentation: http://internetcomputer.org/docs/current/references/execution-errors#trapped-explicitly';

const ManagementIdl = ({ IDL: I }: { IDL: typeof IDL }) =>
    I.Service({
        stop_canister: I.Func([I.Record({ canister_id: I.Principal })], [], []),
        start_canister: I.Func([I.Record({ canister_id: I.Principal })], [], []),
        install_code: I.Func(
            [I.Record({ mode: I.Variant({ install: I.Null, reinstall: I.Null, upgrade: I.Opt(I.Record({})) }), canister_id: I.Principal, wasm_module: I.Vec(I.Nat8), arg: I.Vec(I.Nat8) })],
            [],
            []
        ),
        no_such_method: I.Func([I.Record({ canister_id: I.Principal })], [], [])
    });
type Management = {
    stop_canister(a: { canister_id: Principal }): Promise<void>;
    start_canister(a: { canister_id: Principal }): Promise<void>;
    install_code(a: { mode: { upgrade: [] }; canister_id: Principal; wasm_module: Uint8Array; arg: Uint8Array }): Promise<void>;
    no_such_method(a: { canister_id: Principal }): Promise<void>;
};

let replica: Replica;
let host: string;
let close: () => Promise<void>;
let agent: HttpAgent;
let management: ActorSubclass<Management>;
let a: Principal;
let b: Principal;
let c: Principal;

beforeAll(async () => {
    replica = new Replica({ costs: FreeCosts });
    ({ host, close } = await serveIcApi(replica));
    const relay = await wat(RELAY_WAT);
    const make = (name: string) => {
        const canister = replica.createCanister([controller], 100_000_000_000_000n);
        const error = replica.installCode(canister, { install: null }, relay, text(name), controller);
        if (error !== null) throw new Error(error.toString());
        return canister.id;
    };
    [a, b, c] = [make('alice'), make('bob'), make('carol')];
    agent = await HttpAgent.create({ host, identity, shouldFetchRootKey: true, retryTimes: 0 });
    management = Actor.createActor<Management>(ManagementIdl as never, {
        agent,
        canisterId: MANAGEMENT_CANISTER_ID,
        callTransform: (_m, args) => ({ effectiveCanisterId: (args[0] as { canister_id: Principal }).canister_id }),
        queryTransform: (_m, args) => ({ effectiveCanisterId: (args[0] as { canister_id: Principal }).canister_id })
    });
});

afterAll(async () => {
    await close();
});

/** An update call through the agent; resolves to the raw reply. */
async function update(canisterId: Principal, method: string, arg: Uint8Array = new Uint8Array()): Promise<Uint8Array> {
    const { requestId } = await agent.call(canisterId, { methodName: method, arg });
    const { reply } = await pollForResponse(agent, canisterId, requestId);
    return new Uint8Array(reply!);
}

/** A query through the agent (its signature verified); the reply bytes, or the reject's fields. */
async function query(canisterId: Principal, method: string, arg: Uint8Array = new Uint8Array()) {
    const response = await agent.query(canisterId, { methodName: method, arg });
    if (response.status === 'replied') return { reply: str(new Uint8Array(response.reply.arg)) };
    return { code: response.reject_code as number, message: response.reject_message, errorCode: response.error_code };
}

/** What the relay's `call` saw: the reject code (0 for a reply) and the text. */
async function relayCall(callee: Principal, method: string, payload: Uint8Array = new Uint8Array()) {
    const out = await update(a, 'call', Uint8Array.of(...target(callee, method), ...payload));
    return { code: out[0], text: str(out.subarray(1)) };
}

/** Runs rounds until no message is waiting (the HTTP interface only runs rounds while calls it received are pending). */
function settle(): void {
    for (let i = 0; replica.busy && i < 10_000; i++) replica.tick();
}

describe('composite queries', () => {
    it('call two other canisters, run their callbacks on the changes the query made, and persist nothing', async () => {
        expect(await query(a, 'cq', Uint8Array.of(...target(b, 'name'), ...target(c, 'name')))).toEqual({ reply: '0bobcarol#1' });
        // A composite query calling a composite query; the hits each made are gone afterwards.
        expect(await query(a, 'cq', target(b, 'cq'))).toEqual({ reply: '00#1#1' });
        expect(await query(a, 'hits')).toEqual({ reply: '0' });
        expect(await query(b, 'hits')).toEqual({ reply: '0' });
    });

    it('see the callee’s errors as rejects carrying their IC codes, and only query methods', async () => {
        const out = await query(a, 'cq', Uint8Array.of(...target(b, 'replicated'), ...target(c, 'trap_q'), ...target(MAINNET_ID, 'name')));
        expect(out.reply).toBe(
            `0!5:IC0536: Error from Canister ${b.toText()}: Canister has no query method 'replicated'..\n` +
                'Check that the method being called is exported by the target canister. See documentation: http://internetcomputer.org/docs/current/references/execution-errors#method-not-found' +
                `!5:IC0503: Error from Canister ${c.toText()}: Canister called \`ic0.trap\` with message: ''.\n${TRAP_HELP}` +
                `!3:No route to canister ${MAINNET_ID.toText()}#1`
        );
    });

    it('refuse a call graph that re-enters a canister (IC0517)', async () => {
        const loop = { code: 5, message: 'Query calls re-entering the same canister are not allowed yet.', errorCode: 'IC0517' };
        expect(await query(a, 'cq', target(a, 'name'))).toEqual(loop);
        expect(await query(a, 'chain', Uint8Array.of(...target(b, 'chain'), ...target(a, 'name')))).toEqual(loop);
        // Calling the same canister twice, one call after the other, is no re-entry.
        expect(await query(a, 'cq', Uint8Array.of(...target(b, 'name'), ...target(b, 'name')))).toEqual({ reply: '0bobbob#1' });
    });

    it('share one instruction budget across the call graph (IC0526)', async () => {
        expect(await query(a, 'cq', target(b, 'spin'))).toEqual({ code: 5, message: 'Composite query calls exceeded the instruction limit.', errorCode: 'IC0526' });
    });

    it('nest at most 6 calls deep (IC0525)', async () => {
        const relay = await wat(RELAY_WAT);
        const chain = Array.from({ length: 8 }, (_, i) => {
            const canister = replica.createCanister([controller], 100_000_000_000_000n);
            expect(replica.installCode(canister, { install: null }, relay, text(`r${i}`), controller)).toBeNull();
            return canister.id;
        });
        const path = (ids: Principal[]) => Uint8Array.of(...ids.flatMap((id) => [...target(id, 'chain')]));
        expect(await query(chain[0], 'chain', path(chain.slice(1, 7)))).toEqual({ reply: 'r0r1r2r3r4r5r6' });
        expect(await query(chain[0], 'chain', path(chain.slice(1, 8)))).toEqual({
            code: 5,
            message: 'Composite query calls exceeded the maximum call depth.',
            errorCode: 'IC0525'
        });
    });

    it('cannot be called in replicated mode: not as an update, not by a canister (IC0527)', async () => {
        expect(await relayCall(b, 'cq')).toEqual({ code: 5, text: 'IC0527: Composite query cannot be called in replicated mode' });
        await expect(update(b, 'cq')).rejects.toThrow(/Composite query cannot be called in replicated mode[\s\S]*IC0527|IC0527[\s\S]*Composite query cannot be called in replicated mode/);
    });

    it('ic0.in_replicated_execution tells each mode apart', async () => {
        expect(str(await update(a, 'replicated'))).toBe('1');
        expect(str(await update(a, 'replicated_q'))).toBe('1'); // a query called as an update runs replicated
        expect(await query(a, 'replicated_q')).toEqual({ reply: '0' });
    });
});

describe('rejects a calling canister sees', () => {
    it('a trapping callee: IC0503 and the IC’s text; the ingress caller gets the text and the code apart', async () => {
        expect(await relayCall(b, 'trap', text('boom'))).toEqual({
            code: 5,
            text: `IC0503: Error from Canister ${b.toText()}: Canister called \`ic0.trap\` with message: 'boom'.\n${TRAP_HELP}`
        });
        const error = await update(b, 'trap', text('boom')).then(
            () => null,
            (e: Error) => e
        );
        expect(error?.message).toContain(`Error from Canister ${b.toText()}: Canister called \`ic0.trap\` with message: 'boom'`);
        expect(error?.message).toContain('IC0503');
        expect(error?.message).not.toContain('IC0503: Error from Canister');
    });

    it('an unknown management method: reject code 5, IC0536, by a canister and by ingress', async () => {
        expect(await relayCall(MANAGEMENT_CANISTER_ID, 'no_such_method')).toEqual({ code: 5, text: "IC0536: Management canister has no method 'no_such_method'" });
        await expect(management.no_such_method({ canister_id: a })).rejects.toThrow(/Management canister has no method 'no_such_method'[\s\S]*IC0536|IC0536[\s\S]*no method 'no_such_method'/);
    });

    it('a canister id no subnet hosts: No route to canister (code 3); ingress to it is refused as the IC’s boundary nodes refuse it', async () => {
        expect(await relayCall(MAINNET_ID, 'name')).toEqual({ code: 3, text: `No route to canister ${MAINNET_ID.toText()}` });
        // An id in the subnet's range that no canister has: the subnet answers, IC0301.
        const unused = canisterIdFromIndex(50_000n);
        expect(await relayCall(unused, 'name')).toEqual({ code: 3, text: `IC0301: Canister ${unused.toText()} not found` });
        await expect(agent.call(MAINNET_ID, { methodName: 'name', arg: new Uint8Array() })).rejects.toThrow(/400[\s\S]*canister_not_found[\s\S]*The specified canister does not exist/);
        await expect(agent.query(MAINNET_ID, { methodName: 'name', arg: new Uint8Array() })).rejects.toThrow(/canister_not_found/);
    });

    it('a canister created at a specified id outside the range (a local ledger at its mainnet id) is routed', async () => {
        const ledger = Principal.fromText('qoctq-giaaa-aaaaa-aaaea-cai');
        const created = await agent.call(MANAGEMENT_CANISTER_ID, {
            methodName: 'provisional_create_canister_with_cycles',
            effectiveCanisterId: ledger,
            arg: IDL.encode(
                [IDL.Record({ amount: IDL.Opt(IDL.Nat), settings: IDL.Opt(IDL.Record({})), specified_id: IDL.Opt(IDL.Principal) })],
                [{ amount: [], settings: [], specified_id: [ledger] }]
            )
        });
        await pollForResponse(agent, MANAGEMENT_CANISTER_ID, created.requestId);
        expect(replica.getCanister(ledger)).toBeDefined();
        // Empty, so IC0537 from the subnet rather than the boundary nodes' 400.
        expect(await query(ledger, 'name')).toMatchObject({ code: 5, errorCode: 'IC0537' });
        expect(await relayCall(ledger, 'name')).toMatchObject({ code: 5, text: expect.stringMatching(/^IC0537: /) });
    });
});

describe('outgoing calls', () => {
    it('the queue to one destination holds 500 calls: call_perform then fails with 2 until responses come back', async () => {
        const flood = async (count: number) => {
            const out = await update(a, 'flood', Uint8Array.of(...new Uint8Array(new Uint32Array([count]).buffer), ...target(b, 'name')));
            const view = new DataView(out.buffer, out.byteOffset);
            return [view.getUint32(0, true), view.getUint32(4, true)];
        };
        expect(await flood(600)).toEqual([500, 2]);
        // Another destination has its own queue.
        expect(await update(a, 'call', target(c, 'name')).then((r) => str(r.subarray(1)))).toBe('carol');
        settle();
        expect(replica.getCanister(a)!.callContexts.size).toBe(0);
        expect(await flood(600)).toEqual([500, 2]);
        settle();
    });

    it('one-way calls: the response runs no callback, the call context closes, and stop_canister completes', async () => {
        const balance = replica.getCanister(a)!.cycles;
        expect(Array.from(await update(a, 'notify', target(b, 'name')))).toEqual([0]);
        expect(Array.from(await update(a, 'notify', target(b, 'trap')))).toEqual([0]);
        // Cycles sent with a one-way call the callee does not take come back with the response.
        expect(Array.from(await update(a, 'notify_cycles', target(b, 'trap')))).toEqual([0]);
        settle();
        expect(replica.getCanister(a)!.callContexts.size).toBe(0);
        expect(replica.getCanister(a)!.cycles).toBe(balance);
        expect(replica.getCanister(a)!.logs.map((r) => str(r.content)).filter((l) => l.includes('non-existent Wasm function'))).toEqual([]);
        expect(Array.from(await update(a, 'notify', target(b, 'trap')))).toEqual([0]);
        await management.stop_canister({ canister_id: a });
        expect(replica.getCanister(a)!.status).toBe('stopped');
        await management.start_canister({ canister_id: a });
        expect(await query(a, 'name')).toEqual({ reply: 'alice' });
    });
});

describe('outgoing calls a canister cannot pay for', () => {
    it('call_perform answers 2 (SysTransient) once the liquid balance cannot cover a call, and nothing is sent', () => {
        const metered = new Replica();
        const relay = metered.createCanister([controller], 100_000_000_000_000n);
        const callee = metered.createCanister([controller], 100_000_000_000_000n);
        return wat(RELAY_WAT).then((wasm) => {
            expect(metered.installCode(relay, { install: null }, wasm, text('payer'), controller)).toBeNull();
            expect(metered.installCode(callee, { install: null }, wasm, text('callee'), controller)).toBeNull();
            // Enough to be admitted (a maximal update's fee above the freezing reserve) and for a few calls beyond:
            // each reserves the fee of a 2 MiB response (~2.1 B cycles).
            relay.cycles = metered.costs.freezingReserve(relay) + 40_005_000_000n + 10_000_000_000n;
            const response = metered.awaitIngress(
                metered.submitIngress(controller, relay.id, 'flood', Uint8Array.of(...new Uint8Array(new Uint32Array([100]).buffer), ...target(callee.id, 'name')))
            );
            if (response.type !== 'reply') throw new Error(response.message);
            const view = new DataView(response.data.buffer, response.data.byteOffset);
            const [sent, result] = [view.getUint32(0, true), view.getUint32(4, true)];
            expect(result).toBe(2);
            expect(sent).toBeGreaterThan(0);
            expect(sent).toBeLessThan(30);
            for (let i = 0; metered.busy && i < 100; i++) metered.tick();
            expect(relay.callContexts.size).toBe(0);
            // Below its freezing threshold, a canister answers no query, as the IC words it.
            relay.cycles = 0n;
            expect(metered.query(controller, relay.id, 'name', new Uint8Array())).toEqual({
                type: 'reject',
                code: 2,
                errorCode: 207,
                message: `Canister ${relay.id.toText()} is unable to process query calls because it's frozen. Please top up the canister with cycles and try again.`
            });
        });
    });
});

describe('Azle canisters (the framework whose example suites found these differences)', () => {
    it('run a composite query over two others and one-way calls whose callee replies or traps, then stop', async () => {
        const wasm = new Uint8Array(gunzipSync(readFileSync(PROBE_WASM)));
        const ids = [0, 1, 2].map((i) => {
            const canister = replica.createCanister([controller], 100_000_000_000_000n);
            const error = replica.installCode(canister, { install: null }, wasm, probeArg(`probe ${i}`), controller);
            if (error !== null) throw new Error(error.toString());
            return canister.id;
        });
        // Installing blocks the event loop for seconds: an agent that retries, for a keep-alive socket the server closed meanwhile.
        const retrying = await HttpAgent.create({ host, identity, shouldFetchRootKey: true });
        const probes = ids.map((canisterId) => Actor.createActor<ProbeService>(probeIdl, { agent: retrying, canisterId }));
        const [p0, p1, p2] = probes;
        const [id0, id1, id2] = ids;
        await p1.inc();
        await p2.inc();
        await p2.inc();
        const before = await p0.get();
        expect(await p0.sum_counters([id1, id2])).toBe(3n);
        expect(await p0.get()).toBe(before);

        await p0.notify(id1, 'inc');
        await p0.notify(id1, 'trap_with');
        settle();
        expect(await p1.get()).toBe(2n);
        expect(replica.getCanister(id0)!.callContexts.size).toBe(0);
        await Actor.createActor<Management>(ManagementIdl as never, {
            agent: retrying,
            canisterId: MANAGEMENT_CANISTER_ID,
            callTransform: () => ({ effectiveCanisterId: id0 })
        }).stop_canister({ canister_id: id0 });
        expect(replica.getCanister(id0)!.status).toBe('stopped');
    });
});

describe('certified data, end to end', () => {
    it('a query’s data certificate and the certified update verify with the agent, before and after an upgrade', async () => {
        const certified = replica.createCanister([controller], 100_000_000_000_000n);
        const id = certified.id;
        const v1 = await wat(CERTIFIED_WAT);
        expect(replica.installCode(certified, { install: null }, v1, new Uint8Array(), controller)).toBeNull();

        const certifiedData = async () => {
            const result = await agent.query(id, { methodName: 'cert', arg: new Uint8Array() });
            if (result.status !== 'replied') throw new Error('cert was rejected');
            const certificate = await Certificate.create({ certificate: new Uint8Array(result.reply.arg), rootKey: agent.rootKey!, canisterId: id });
            return str(lookupResultToBuffer(certificate.lookup_path(['canister', id.toUint8Array(), 'certified_data']))!);
        };
        const moduleHash = async () => (await CanisterStatus.request({ canisterId: id, agent, paths: ['module_hash'] })).get('module_hash');
        const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

        // The update's reply comes from a certificate read through read_state (request_status) and verified.
        expect(str(await update(id, 'set', text('first')))).toBe('first');
        expect(await certifiedData()).toBe('first');
        expect(await moduleHash()).toBe(sha(v1));

        const v2 = await wat(CERTIFIED_WAT.replace('(memory 1)', '(memory 1) (func (export "canister_query v2"))'));
        await management.install_code({ mode: { upgrade: [] }, canister_id: id, wasm_module: v2, arg: new Uint8Array() });
        expect(await moduleHash()).toBe(sha(v2));
        // Certified data survives an upgrade; the new module certifies new data.
        expect(await certifiedData()).toBe('first');
        expect(str(await update(id, 'set', text('second')))).toBe('second');
        expect(await certifiedData()).toBe('second');
    });
});
