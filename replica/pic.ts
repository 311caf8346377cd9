/**
 * A PicJS-compatible surface over the in-process replica, so the same specs run here and on PocketIC.
 * Argument shapes follow `@dfinity/pic`; times are milliseconds since the epoch, as there.
 */
import { readFile } from 'node:fs/promises';

import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import {
    type CanisterInstallMode,
    type CanisterSettings as MgmtSettings,
    ManagementMethods,
    type ManagementMethod
} from '../shared/management';
import { installModule, type Installer } from '../shared/install';
import type { CostModel } from './costs';
import { ErrorCodeName, RejectCodeName } from './errors';
import type { Response } from './execution';
import { MANAGEMENT_CANISTER_ID } from './ids';
import { Replica } from './replica';
import type { VetKdKeys } from './vetkd/keys';


type Bytes = Uint8Array | ArrayBufferLike;

export interface Identity {
    getPrincipal(): Principal;
}

export interface CanisterSettings {
    controllers?: Principal[];
    computeAllocation?: bigint;
    memoryAllocation?: bigint;
    freezingThreshold?: bigint;
    reservedCyclesLimit?: bigint;
    logVisibility?: { controllers: null } | { public: null } | { allowed_viewers: Principal[] };
}
export interface CreateCanisterOptions extends CanisterSettings {
    cycles?: bigint;
    sender?: Principal;
    targetCanisterId?: Principal;
}
export interface SetupCanisterOptions extends CreateCanisterOptions {
    idlFactory: IDL.InterfaceFactory;
    wasm: Bytes | string;
    arg?: Bytes;
}
export interface InstallCodeOptions {
    canisterId: Principal;
    wasm: Bytes | string;
    arg?: Bytes;
    sender?: Principal;
}
export interface UpgradeCanisterOptions extends InstallCodeOptions {
    upgradeModeOptions?: { skip_pre_upgrade: [] | [boolean]; wasm_memory_persistence: [] | [{ keep: null } | { replace: null }] };
}
export interface CallOptions {
    canisterId: Principal;
    method: string;
    arg?: Bytes;
    sender?: Principal;
}
export interface CanisterLogRecord {
    idx: bigint;
    timestampNanos: bigint;
    content: Uint8Array;
}

export type ActorMethod<Args extends unknown[] = any[], Ret = any> = (...args: Args) => Promise<Ret>;
export type ActorInterface<T = object> = { [K in keyof T]: ActorMethod };
export type Actor<T = ActorInterface> = T & {
    setPrincipal(principal: Principal): void;
    setIdentity(identity: Identity): void;
};
export type DeferredActor<T = ActorInterface> = {
    [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => Promise<() => Promise<R>> : never;
} & {
    setPrincipal(principal: Principal): void;
    setIdentity(identity: Identity): void;
};
export interface CanisterFixture<T = ActorInterface> {
    actor: Actor<T>;
    canisterId: Principal;
}

/** A rejected or trapped call, worded as PicJS words it, with the codes as fields. */
export class CanisterCallError extends Error {
    override name = 'CanisterCallError';
    constructor(
        readonly rejectCode: number,
        readonly rejectMessage: string,
        readonly errorCode: number | undefined,
        readonly certified: boolean
    ) {
        super(
            `Canister call failed: ${rejectMessage}. Reject code: ${RejectCodeName[rejectCode] ?? rejectCode}. Error code: ${
                errorCode === undefined ? 'None' : (ErrorCodeName[errorCode] ?? errorCode)
            }. Certified: ${certified}`
        );
    }
}

export interface PocketIcOptions {
    /** Initial time, ms since the epoch. */
    time?: number;
    /** Echo canister logs to the console (also with SILO_REPLICA_LOGS=1). */
    echoLogs?: boolean;
    costs?: CostModel;
    /** Count instructions (default true); false runs modules un-instrumented (for overhead measurements). */
    instrument?: boolean;
    /** vetKD master keys (default: the replica's fixed-seed keys); `VetKdKeys.load(dir)` for keys kept on disk. */
    vetkd?: VetKdKeys;
}

function toBytes(b: Bytes | undefined): Uint8Array {
    if (b === undefined) return new Uint8Array();
    return b instanceof Uint8Array ? b : new Uint8Array(b);
}

function unwrap(response: Response, certified: boolean): Uint8Array {
    if (response.type === 'reply') return response.data;
    // An explicit reject by canister code carries the code CanisterReject and error IC0406.
    const errorCode = response.errorCode ?? (response.code === 4 ? 406 : undefined);
    throw new CanisterCallError(response.code, response.message, errorCode, certified);
}

/**
 * Milliseconds to nanoseconds through whole microseconds: `ms * 1e6` is not exact in a double for
 * present-day times, which would turn a whole millisecond into 1795490738113.999 on the way back.
 */
function msToNanos(ms: number): bigint {
    return BigInt(Math.round(ms * 1_000)) * 1_000n;
}

function decodeReply(types: IDL.Type[], data: Uint8Array): unknown {
    const values = IDL.decode(types, data);
    return values.length === 0 ? null : values.length === 1 ? values[0] : values;
}

export class PocketIc {
    private deleted = false;

    constructor(readonly replica: Replica) {}

    /** Creates an instance; `url` is accepted for PicJS compatibility and ignored. */
    static async create(_url?: string, options: PocketIcOptions = {}): Promise<PocketIc> {
        return new PocketIc(
            new Replica({
                time: options.time === undefined ? undefined : msToNanos(options.time),
                echoLogs: options.echoLogs ?? process.env.SILO_REPLICA_LOGS === '1',
                costs: options.costs,
                instrument: options.instrument,
                vetkd: options.vetkd
            })
        );
    }

    private live(): Replica {
        if (this.deleted) throw new Error('Instance was deleted');
        return this.replica;
    }

    // -------------------------------------------------------------- raw calls

    async updateCall({ canisterId, method, arg, sender }: CallOptions): Promise<Uint8Array> {
        const replica = this.live();
        const id = replica.submitIngress(sender ?? Principal.anonymous(), canisterId, method, toBytes(arg));
        return unwrap(replica.awaitIngress(id), true);
    }

    private async updateCallYielding({ canisterId, method, arg, sender }: CallOptions): Promise<Uint8Array> {
        const replica = this.live();
        const id = replica.submitIngress(sender ?? Principal.anonymous(), canisterId, method, toBytes(arg));
        return unwrap(await replica.awaitIngressYielding(id), true);
    }

    async queryCall({ canisterId, method, arg, sender }: CallOptions): Promise<Uint8Array> {
        return unwrap(this.live().query(sender ?? Principal.anonymous(), canisterId, method, toBytes(arg)), false);
    }

    private async management<M extends ManagementMethod>(method: M, args: unknown[], sender?: Principal): Promise<unknown> {
        const types = ManagementMethods[method];
        const data = await this.updateCall({ canisterId: MANAGEMENT_CANISTER_ID, method, arg: new Uint8Array(IDL.encode(types.args, args)), sender });
        return decodeReply(types.result, data);
    }

    // -------------------------------------------------------------- lifecycle

    async createCanister(options: CreateCanisterOptions = {}): Promise<Principal> {
        const result = (await this.management(
            'provisional_create_canister_with_cycles',
            [{ amount: [options.cycles ?? 1_000_000_000_000_000_000n], settings: [toMgmtSettings(options)], specified_id: options.targetCanisterId ? [options.targetCanisterId] : [], sender_canister_version: [] }],
            options.sender
        )) as { canister_id: Principal };
        return result.canister_id;
    }

    async installCode(options: InstallCodeOptions): Promise<void> {
        await this.install({ install: null }, options);
    }

    async reinstallCode(options: InstallCodeOptions): Promise<void> {
        await this.install({ reinstall: null }, options);
    }

    async upgradeCanister(options: UpgradeCanisterOptions): Promise<void> {
        await this.install({ upgrade: options.upgradeModeOptions ? [options.upgradeModeOptions] : [] }, options);
    }

    /** install_code, or upload_chunk + install_chunked_code when the module does not fit one message. */
    private async install(mode: CanisterInstallMode, { canisterId, wasm, arg, sender }: InstallCodeOptions): Promise<void> {
        const module = typeof wasm === 'string' ? new Uint8Array(await readFile(wasm)) : toBytes(wasm);
        const call = (method: ManagementMethod) => (args: unknown) => this.management(method, [args], sender);
        const installer = {
            install_code: call('install_code'),
            clear_chunk_store: call('clear_chunk_store'),
            upload_chunk: call('upload_chunk'),
            install_chunked_code: call('install_chunked_code')
        } as Installer;
        await installModule(installer, canisterId, module, toBytes(arg), mode);
    }

    async setupCanister<T = ActorInterface>(options: SetupCanisterOptions): Promise<CanisterFixture<T>> {
        const canisterId = await this.createCanister(options);
        await this.installCode({ canisterId, wasm: options.wasm, arg: options.arg, sender: options.sender });
        return { canisterId, actor: this.createActor<T>(options.idlFactory, canisterId) };
    }

    async startCanister({ canisterId, sender }: { canisterId: Principal; sender?: Principal }): Promise<void> {
        await this.management('start_canister', [{ canister_id: canisterId }], sender);
    }

    async stopCanister({ canisterId, sender }: { canisterId: Principal; sender?: Principal }): Promise<void> {
        await this.management('stop_canister', [{ canister_id: canisterId }], sender);
    }

    async updateCanisterSettings({ canisterId, sender, ...settings }: CanisterSettings & { canisterId: Principal; sender?: Principal }): Promise<void> {
        await this.management('update_settings', [{ canister_id: canisterId, settings: toMgmtSettings(settings), sender_canister_version: [] }], sender);
    }

    async getControllers(canisterId: Principal): Promise<Principal[]> {
        return [...this.canister(canisterId).controllers];
    }

    async getCyclesBalance(canisterId: Principal): Promise<bigint> {
        return this.canister(canisterId).cycles;
    }

    /** Adds cycles; returns the new balance. */
    async addCycles(canisterId: Principal, amount: number | bigint): Promise<bigint> {
        const canister = this.canister(canisterId);
        canister.cycles += BigInt(amount);
        return canister.cycles;
    }

    async fetchCanisterLogs({ canisterId, sender }: { canisterId: Principal; sender?: Principal }): Promise<CanisterLogRecord[]> {
        const data = await this.queryCall({
            canisterId: MANAGEMENT_CANISTER_ID,
            method: 'fetch_canister_logs',
            arg: new Uint8Array(IDL.encode(ManagementMethods.fetch_canister_logs.args, [{ canister_id: canisterId }])),
            sender
        });
        const result = decodeReply(ManagementMethods.fetch_canister_logs.result, data) as {
            canister_log_records: { idx: bigint; timestamp_nanos: bigint; content: Uint8Array }[];
        };
        return result.canister_log_records.map((r) => ({ idx: r.idx, timestampNanos: r.timestamp_nanos, content: new Uint8Array(r.content) }));
    }

    private canister(canisterId: Principal) {
        const canister = this.live().getCanister(canisterId);
        if (canister === undefined) throw new Error(`Canister ${canisterId.toText()} not found`);
        return canister;
    }

    // -------------------------------------------------------------- time and rounds

    async tick(times = 1): Promise<void> {
        const replica = this.live();
        for (let i = 0; i < times; i++) replica.tick();
    }

    async getTime(): Promise<number> {
        // Through microseconds, as msToNanos: nanoseconds since the epoch do not fit a double exactly.
        return Number(this.live().time / 1_000n) / 1_000;
    }

    async setTime(time: Date | number): Promise<void> {
        const ms = typeof time === 'number' ? time : time.getTime();
        this.live().setTime(msToNanos(ms));
    }

    async resetTime(): Promise<void> {
        await this.setTime(Date.now());
    }

    async advanceTime(durationMs: number): Promise<void> {
        this.live().advanceTime(msToNanos(durationMs));
    }

    async tearDown(): Promise<void> {
        this.deleted = true;
    }

    // -------------------------------------------------------------- actors

    /**
     * An actor whose update calls run to completion as they are made; with `yielding`, the event loop
     * gets a turn between the rounds of each call (see `Replica.awaitIngressYielding`).
     */
    createActor<T = ActorInterface>(interfaceFactory: IDL.InterfaceFactory, canisterId: Principal, options: { yielding?: boolean } = {}): Actor<T> {
        let sender = Principal.anonymous();
        const actor: Record<string, unknown> = {
            setPrincipal: (p: Principal) => (sender = p),
            setIdentity: (identity: Identity) => (sender = identity.getPrincipal())
        };
        for (const [name, func] of interfaceFactory({ IDL })._fields) {
            const isQuery = func.annotations.includes('query') || func.annotations.includes('composite_query');
            actor[name] = async (...args: unknown[]) => {
                const arg = new Uint8Array(IDL.encode(func.argTypes, args));
                const data = isQuery
                    ? await this.queryCall({ canisterId, method: name, arg, sender })
                    : options.yielding
                      ? await this.updateCallYielding({ canisterId, method: name, arg, sender })
                      : await this.updateCall({ canisterId, method: name, arg, sender });
                return decodeReply(func.retTypes, data);
            };
        }
        return actor as Actor<T>;
    }

    /**
     * Methods submit the message at once and resolve to a function that awaits its result, so a test can
     * interleave messages (submit several, tick, then collect).
     */
    createDeferredActor<T = ActorInterface>(interfaceFactory: IDL.InterfaceFactory, canisterId: Principal): DeferredActor<T> {
        let sender = Principal.anonymous();
        const actor: Record<string, unknown> = {
            setPrincipal: (p: Principal) => (sender = p),
            setIdentity: (identity: Identity) => (sender = identity.getPrincipal())
        };
        for (const [name, func] of interfaceFactory({ IDL })._fields) {
            actor[name] = async (...args: unknown[]) => {
                const replica = this.live();
                const id = replica.submitIngress(sender, canisterId, name, new Uint8Array(IDL.encode(func.argTypes, args)));
                return async () => decodeReply(func.retTypes, unwrap(replica.awaitIngress(id), true));
            };
        }
        return actor as DeferredActor<T>;
    }
}

function toMgmtSettings(s: CanisterSettings): MgmtSettings {
    const opt = <V>(v: V | undefined): [] | [V] => (v === undefined ? [] : [v]);
    return {
        controllers: opt(s.controllers),
        compute_allocation: opt(s.computeAllocation),
        memory_allocation: opt(s.memoryAllocation),
        freezing_threshold: opt(s.freezingThreshold),
        reserved_cycles_limit: opt(s.reservedCyclesLimit),
        log_visibility: opt(s.logVisibility),
        wasm_memory_limit: [],
        wasm_memory_threshold: [],
        environment_variables: []
    };
}
