/**
 * The index's periodic work: expire sessions, run due bucket tasks, continue bucket upgrades. One run at a
 * time, held by a lease in stable memory rather than a heap flag: a run that traps after an await leaves
 * its lease behind, and the lease lapses after MAINTENANCE_LEASE_NS (or at the next upgrade, with the
 * boot epoch) instead of blocking maintenance forever.
 */
import { readU64, writeU64 } from '../../shared/stable';
import { runUpgrades } from './buckets';
import { currentEpoch, type Env, type IndexState, MetaKey, type Ports } from './state';
import { runDueTasks } from './tasks';
import { expireSessions } from './uploads';
import { maintainUrls } from './urls';

/** Longer than any healthy run (a few batches of bucket calls), short enough to recover from a trap. */
export const MAINTENANCE_LEASE_NS = 10n * 60n * 1_000_000_000n;

/** Runs maintenance unless a run holds the lease; false when it did not run. */
export async function runMaintenance(state: IndexState, env: Env, ports: Ports): Promise<boolean> {
    const epoch = currentEpoch(state);
    const lease = state.meta.get(MetaKey.maintenanceLease);
    if (lease !== undefined && readU64(lease, 0) === epoch && readU64(lease, 8) > env.now) return false;
    const mine = new Uint8Array(16);
    writeU64(mine, 0, epoch);
    writeU64(mine, 8, env.now + MAINTENANCE_LEASE_NS);
    state.meta.insert(MetaKey.maintenanceLease, mine);
    try {
        await expireSessions(state, env, ports);
        await runDueTasks(state, env, ports);
        await runUpgrades(state, env, ports);
        await maintainUrls(state, ports);
    } finally {
        state.meta.remove(MetaKey.maintenanceLease);
    }
    return true;
}
