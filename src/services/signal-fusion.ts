import type { FusedSignal, FusionRule } from '../contracts/api/signals.js';
import type { UserUpdate } from '../contracts/socket/user-updates.js';
import { fuse } from '../domain/fusion.js';
import type { Sql, Transaction } from '../repositories/db/client.js';
import { fusedSignalView, latestReadings, saveFused, takeSignalOutbox, type SignalScope } from '../repositories/signals.js';
import { appendUserUpdates } from '../repositories/user-updates.js';
import { inUserTransaction } from './user-locks.js';

export interface FusionOutcome {
  /** The new fused value; null when no reading of the window is left to fuse. */
  signal: FusedSignal | null;
  /** For a user's signal: the stored `signal:fused` update, to hand to the hubs. */
  updates: UserUpdate[];
}

/**
 * Fuses one signal from each source's newest reading within twice the stale window (staler ones
 * are shown as excluded for a while, then dropped), stores the result and its history point, and
 * takes the signal's outbox rows, all in one transaction. A user's signal goes through the user's
 * lock and becomes a per-user update (seq, `sync`) in the same transaction.
 */
export async function fuseSignal(sql: Sql, scope: SignalScope, rule: FusionRule, now: Date): Promise<FusionOutcome> {
  const since = new Date(now.getTime() - 2 * rule.staleAfterSeconds * 1000);

  const fuseIn = async (tx: Transaction, externalUserId: string | null): Promise<FusedSignal | null> => {
    await takeSignalOutbox(tx, scope);
    const readings = await latestReadings(tx, scope, since);
    const fused = fuse(readings, rule, now);
    if (!fused) return null;
    const unit = rule.unit ?? readings.find((reading) => reading.unit !== null)?.unit ?? null;
    const signal = fusedSignalView({ key: scope.key, externalUserId, unit }, fused);
    await saveFused(tx, scope, signal);
    return signal;
  };

  const { userId } = scope;
  if (userId === null) return { signal: await sql.begin((tx) => fuseIn(tx, null)), updates: [] };
  return inUserTransaction(
    sql,
    [userId],
    async (tx, [user]) => {
      // A user deleted since: nothing of theirs is left to fuse.
      if (!user) return { signal: null, updates: [] };
      const signal = await fuseIn(tx, user.external_id);
      const updates = signal ? await appendUserUpdates(tx, scope.tenantId, userId, [{ event: 'signal:fused', payload: signal }]) : [];
      return { signal, updates };
    },
    { columns: ['external_id'], tenantId: scope.tenantId },
  );
}
