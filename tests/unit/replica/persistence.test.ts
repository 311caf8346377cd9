import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Principal } from '@dfinity/principal';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { PocketIc, Replica } from '../../../replica';
import { ImageFile, ReplicaStore, restoreInto, StateCorruptError, StateInUseError } from '../../../replica/persistence';
import { ic0Imports, wat } from '../../replica/wat';
import { decodeCounts, spinWasm } from '../../helpers/spin';

/** A canister that writes its argument (u64 offset, then bytes) to stable memory and counts writes on the heap. */
const KV = `(module ${ic0Imports('msg_arg_data_size', 'msg_arg_data_copy', 'msg_reply', 'msg_reply_data_append', 'stable64_size', 'stable64_grow', 'stable64_write', 'stable64_read')}
  (memory 4)
  (global $writes (mut i32) (i32.const 0))
  (func (export "canister_update write") (local $n i32) (local $end i64)
    (local.set $n (call $msg_arg_data_size))
    (call $msg_arg_data_copy (i32.const 0) (i32.const 0) (local.get $n))
    (local.set $end (i64.add (i64.load (i32.const 0)) (i64.extend_i32_u (i32.sub (local.get $n) (i32.const 8)))))
    (block $done (loop $grow
      (br_if $done (i64.ge_u (i64.mul (call $stable64_size) (i64.const 65536)) (local.get $end)))
      (drop (call $stable64_grow (i64.const 16)))
      (br $grow)))
    (call $stable64_write (i64.load (i32.const 0)) (i64.const 8) (i64.extend_i32_u (i32.sub (local.get $n) (i32.const 8))))
    (global.set $writes (i32.add (global.get $writes) (i32.const 1)))
    (call $msg_reply))
  (func (export "canister_query read")
    (call $msg_arg_data_copy (i32.const 0) (i32.const 0) (i32.const 12))
    (call $stable64_read (i64.const 16) (i64.load (i32.const 0)) (i64.extend_i32_u (i32.load (i32.const 8))))
    (call $msg_reply_data_append (i32.const 16) (i32.load (i32.const 8)))
    (call $msg_reply))
  (func (export "canister_query writes")
    (i32.store (i32.const 0) (global.get $writes))
    (call $msg_reply_data_append (i32.const 0) (i32.const 4))
    (call $msg_reply))
  (func (export "canister_post_upgrade")))`;

const OWNER = Principal.fromText('rrkah-fqaaa-aaaaa-aaaaq-cai');

function pattern(length: number, seed: number): Uint8Array {
    return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

async function write(pic: PocketIc, id: Principal, offset: number, data: Uint8Array): Promise<void> {
    const arg = new Uint8Array(8 + data.length);
    new DataView(arg.buffer).setBigUint64(0, BigInt(offset), true);
    arg.set(data, 8);
    await pic.updateCall({ canisterId: id, method: 'write', arg, sender: OWNER });
}

async function read(pic: PocketIc, id: Principal, offset: number, length: number): Promise<Uint8Array> {
    const arg = new Uint8Array(12);
    new DataView(arg.buffer).setBigUint64(0, BigInt(offset), true);
    new DataView(arg.buffer).setUint32(8, length, true);
    return pic.queryCall({ canisterId: id, method: 'read', arg });
}

async function writes(pic: PocketIc, id: Principal): Promise<number> {
    return new DataView((await pic.queryCall({ canisterId: id, method: 'writes' })).buffer).getUint32(0, true);
}

/** Opens `dir` in a fresh replica, restoring what it holds. */
function reopen(dir: string): { store: ReplicaStore; pic: PocketIc } {
    const store = ReplicaStore.open(dir);
    const replica = new Replica();
    const loaded = store.load();
    if (loaded !== null) restoreInto(replica, loaded, () => new Uint8Array());
    return { store, pic: new PocketIc(replica) };
}

const stores: ReplicaStore[] = [];
afterEach(() => {
    for (const store of stores.splice(0)) store.close();
    vi.restoreAllMocks();
});

async function withCanister(dir: string) {
    const { store, pic } = reopen(dir);
    stores.push(store);
    const id = await pic.createCanister({ sender: OWNER, controllers: [OWNER], cycles: 123_000_000_000_000n });
    await pic.installCode({ canisterId: id, wasm: await wat(KV), sender: OWNER });
    return { store, pic, id };
}

describe('replica persistence', () => {
    it('brings canisters back exactly: stable memory, heap, globals and settings, without running post_upgrade', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'silo-persist-'));
        const { store, pic, id } = await withCanister(dir);
        await write(pic, id, 0, pattern(1000, 1));
        await write(pic, id, 5 * 1024 * 1024 + 7, pattern(70_000, 2));
        const { version, cycles } = pic.replica.getCanister(id)!;
        store.save(pic.replica, { note: 'app data' });
        store.close();

        const again = reopen(dir);
        stores.push(again.store);
        expect(await read(again.pic, id, 0, 1000)).toEqual(pattern(1000, 1));
        expect(await read(again.pic, id, 5 * 1024 * 1024 + 7, 70_000)).toEqual(pattern(70_000, 2));
        expect(await read(again.pic, id, 2 * 1024 * 1024, 16)).toEqual(new Uint8Array(16));
        // The heap global counting writes came back with the heap.
        expect(await writes(again.pic, id)).toBe(2);
        const restored = again.pic.replica.getCanister(id)!;
        expect(restored.controllers.map((c) => c.toText())).toEqual([OWNER.toText()]);
        // Nothing ran on restore: the balance and version are the saved ones.
        expect(restored.cycles).toBe(cycles);
        expect(restored.version).toBe(version);
        // Sparse: the image holds the written pages, not the 5 MiB hole.
        const image = readdirSync(join(dir, 'stable')).find((f) => f.endsWith('.img'))!;
        expect(readFileSync(join(dir, 'stable', image)).length).toBeGreaterThan(5 * 1024 * 1024);
    });

    it('saves incrementally and keeps memory bounded to what changed', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'silo-persist-'));
        const { store, pic, id } = await withCanister(dir);
        await write(pic, id, 0, pattern(65_536, 3));
        store.save(pic.replica, {});
        const canister = pic.replica.getCanister(id)!;
        expect(canister.stable.overlayBytes).toBe(0);
        await write(pic, id, 65_536, pattern(100, 4));
        expect(canister.stable.overlayBytes).toBe(65_536);
        store.save(pic.replica, {});
        store.close();
        const again = reopen(dir);
        stores.push(again.store);
        expect(await read(again.pic, id, 0, 65_636)).toEqual(new Uint8Array([...pattern(65_536, 3), ...pattern(100, 4)]));
    });

    it('finishes a checkpoint interrupted after its commit point', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'silo-persist-'));
        const { store, pic, id } = await withCanister(dir);
        store.save(pic.replica, {});
        await write(pic, id, 0, pattern(3000, 5));
        // The process dies while applying the write-ahead pages to the image.
        vi.spyOn(ImageFile.prototype, 'write').mockImplementation(() => {
            throw new Error('killed');
        });
        expect(() => store.save(pic.replica, {})).toThrow('killed');
        vi.restoreAllMocks();
        store.close();
        const again = reopen(dir);
        stores.push(again.store);
        expect(await read(again.pic, id, 0, 3000)).toEqual(pattern(3000, 5));
        expect(readdirSync(join(dir, 'stable')).filter((f) => f.endsWith('.wal'))).toEqual([]);
    });

    it('keeps the previous state when a checkpoint dies before its commit point', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'silo-persist-'));
        const { store, pic, id } = await withCanister(dir);
        await write(pic, id, 0, pattern(10, 6));
        store.save(pic.replica, {});
        await write(pic, id, 0, pattern(10, 7));
        const commit = vi.spyOn(ReplicaStore.prototype as unknown as { commit: () => void }, 'commit').mockImplementation(() => {
            throw new Error('killed');
        });
        expect(() => store.save(pic.replica, {})).toThrow('killed');
        commit.mockRestore();
        store.close();
        const again = reopen(dir);
        stores.push(again.store);
        expect(await read(again.pic, id, 0, 10)).toEqual(pattern(10, 6));
    });

    it('checkpoints at any round boundary: an open call context, queued messages, callbacks and the timer come back', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'silo-persist-'));
        const { store, pic } = reopen(dir);
        stores.push(store);
        const id = await pic.createCanister({ sender: OWNER, controllers: [OWNER], cycles: 123_000_000_000_000n });
        await pic.installCode({ canisterId: id, wasm: await spinWasm(), sender: OWNER });
        const counts = async (p: PocketIc) => decodeCounts(await p.queryCall({ canisterId: id, method: 'counts' }));
        // The call context of `spin` never closes: each round holds its request to `tick` or the reply.
        pic.replica.submitIngress(OWNER, id, 'spin', id.toUint8Array());
        for (let i = 0; i < 7; i++) pic.replica.tick();
        await pic.updateCall({ canisterId: id, method: 'bump', sender: OWNER });
        const armAt = new Uint8Array(8);
        new DataView(armAt.buffer).setBigUint64(0, pic.replica.time + 60_000_000_000n, true);
        await pic.updateCall({ canisterId: id, method: 'arm', arg: armAt, sender: OWNER });
        for (const parity of [0, 1]) {
            if (parity === 1) pic.replica.tick();
            const canister = pic.replica.getCanister(id)!;
            expect(canister.callContexts.size).toBe(1);
            expect(pic.replica.busy).toBe(true);
            const before = await counts(pic);
            store.save(pic.replica, {});

            const again = reopen(dir);
            stores.push(again.store);
            expect(await counts(again.pic)).toEqual(before);
            expect(again.pic.replica.getCanister(id)!.callContexts.size).toBe(1);
            // The loop goes on where it was: one tick per two rounds.
            for (let i = 0; i < 10; i++) again.pic.replica.tick();
            expect((await counts(again.pic)).ticks).toBe(before.ticks + 5);
            // The timer is kept, and fires when due.
            again.pic.replica.advanceTime(61_000_000_000n);
            again.pic.replica.tick();
            expect((await counts(again.pic)).fired).toBe(1);
            again.store.close();
        }
    });

    it('a heap that shrank (reinstall) and grew again comes back with zeros, not the older heap\'s pages', async () => {
        const GROWS = `(module ${ic0Imports('msg_reply', 'msg_reply_data_append')}
  (memory 1)
  (func (export "canister_update grow") (drop (memory.grow (i32.const 3))) (call $msg_reply))
  (func (export "canister_update poke") (i32.store (i32.const 200000) (i32.const 0x5eed)) (call $msg_reply))
  (func (export "canister_query peek")
    (i32.store (i32.const 0) (i32.load (i32.const 200000)))
    (call $msg_reply_data_append (i32.const 0) (i32.const 4))
    (call $msg_reply)))`;
        const dir = mkdtempSync(join(tmpdir(), 'silo-persist-'));
        const { store, pic } = reopen(dir);
        stores.push(store);
        const id = await pic.createCanister({ sender: OWNER, controllers: [OWNER], cycles: 123_000_000_000_000n });
        const wasm = await wat(GROWS);
        await pic.installCode({ canisterId: id, wasm, sender: OWNER });
        const peek = async (p: PocketIc) => new DataView((await p.queryCall({ canisterId: id, method: 'peek' })).buffer).getUint32(0, true);
        await pic.updateCall({ canisterId: id, method: 'grow', sender: OWNER });
        await pic.updateCall({ canisterId: id, method: 'poke', sender: OWNER });
        store.save(pic.replica, {});
        await pic.reinstallCode({ canisterId: id, wasm, sender: OWNER });
        store.save(pic.replica, {});
        await pic.updateCall({ canisterId: id, method: 'grow', sender: OWNER });
        expect(await peek(pic)).toBe(0);
        store.save(pic.replica, {});
        store.close();
        const again = reopen(dir);
        stores.push(again.store);
        expect(await peek(again.pic)).toBe(0);
    });

    it('refuses a directory a live process holds, and takes over a dead one', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'silo-persist-'));
        writeFileSync(join(dir, 'lock'), String(process.ppid));
        expect(() => ReplicaStore.open(dir)).toThrow(StateInUseError);
        writeFileSync(join(dir, 'lock'), '4194303');
        const store = ReplicaStore.open(dir);
        expect(readFileSync(join(dir, 'lock'), 'utf8')).toBe(String(process.pid));
        store.close();
        expect(existsSync(join(dir, 'lock'))).toBe(false);
    });

    it('reports a damaged state instead of half-reading it', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'silo-persist-'));
        const { store, pic, id } = await withCanister(dir);
        await write(pic, id, 0, pattern(10, 8));
        store.save(pic.replica, {});
        store.close();
        const module = readdirSync(join(dir, 'modules'))[0];
        writeFileSync(join(dir, 'modules', module), 'tampered');
        expect(() => reopen(dir)).toThrow(StateCorruptError);
        writeFileSync(join(dir, 'state.json'), '{"format": "silo-rep');
        expect(() => reopen(dir)).toThrow(/not valid JSON/);
    });
});
