import type { FusedSignal, FusionRule } from '../contracts/api/signals.js';
import type { UserUpdate } from '../contracts/socket/user-updates.js';
import { fuse, type SignalReading } from '../domain/fusion.js';
import type { Sql, Transaction } from '../repositories/db/client.js';
import {
  fusedSignalView,
  latestReadings,
  latestReadingsOfSignals,
  saveFused,
  takeDueSignalOutboxes,
  takeSignalOutbox,
  type SignalScope,
  type TenantSignal,
} from '../repositories/signals.js';
import { tenantKey } from '../repositories/tenant-keys.js';
import { appendUserUpdates } from '../repositories/user-updates.js';
import { inUserTransaction } from './user-locks.js';

export interface FusionOutcome {
  /** The new fused value; null when no reading of the window is left to fuse. */
  signal: FusedSignal | null;
  /** For a user's signal: the stored `signal:fused` update, to hand to the hubs. */
  updates: UserUpdate[];
}

/** Readings are fused from twice the stale window: staler ones are shown as excluded for a while, then dropped. */
const windowStart = (rule: FusionRule, now: Date) => new Date(now.getTime() - 2 * rule.staleAfterSeconds * 1000);

/** The fused value of a signal's readings (null when none is left to fuse), its unit the rule's or the first reading's that has one. */
function fusedOf(key: string, externalUserId: string | null, readings: readonly (SignalReading & { unit: string | null })[], rule: FusionRule, now: Date): FusedSignal | null {
  const fused = fuse(readings, rule, now);
  if (!fused) return null;
  const unit = rule.unit ?? readings.find((reading) => reading.unit !== null)?.unit ?? null;
  return fusedSignalView({ key, externalUserId, unit }, fused);
}

/**
 * Fuses one signal from each source's newest reading within twice the stale window (staler ones
 * are shown as excluded for a while, then dropped), stores the result and its history point, and
 * takes the signal's outbox rows, all in one transaction. A user's signal goes through the user's
 * lock and becomes a per-user update (seq, `sync`) in the same transaction.
 */
export async function fuseSignal(sql: Sql, scope: SignalScope, rule: FusionRule, now: Date): Promise<FusionOutcome> {
  const fuseIn = async (tx: Transaction, externalUserId: string | null): Promise<FusedSignal | null> => {
    await takeSignalOutbox(tx, scope);
    const signal = fusedOf(scope.key, externalUserId, await latestReadings(tx, scope, windowStart(rule, now)), rule, now);
    if (signal) await saveFused(tx, [{ scope, signal }]);
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

/** A batch's outcome for one tenant-wide signal: fused (null: no reading left to fuse), or fused too recently to be fused again before `waitMs`. */
export type BatchFusion = { signal: FusedSignal | null } | { waitMs: number };

/**
 * Fuses a batch of tenant-wide signals in one transaction of three statements whatever its size:
 * take the outbox rows of those due (last fused at least `minIntervalMs` ago, read in the same
 * statement), read the newest reading of each of their sources (each within its own rule's
 * window), and store every fused value and history point. The others are answered with the wait
 * left before they are due; nothing of theirs is touched. One outcome per signal, in order; a
 * signal named twice is fused once.
 */
export async function fuseTenantSignals(
  sql: Sql,
  signals: readonly (TenantSignal & { rule: FusionRule })[],
  now: Date,
  minIntervalMs: number,
): Promise<BatchFusion[]> {
  const unique = [...new Map(signals.map((signal) => [tenantKey(signal.tenantId, signal.key), signal])).values()];
  const outcomes = await sql.begin(async (tx) => {
    const lastFused = await takeDueSignalOutboxes(tx, unique, new Date(now.getTime() - minIntervalMs));
    const waits = new Map<string, number>();
    const due = unique.filter((signal) => {
      const last = lastFused.get(tenantKey(signal.tenantId, signal.key));
      const wait = last === undefined ? 0 : last.getTime() + minIntervalMs - now.getTime();
      if (wait > 0) waits.set(tenantKey(signal.tenantId, signal.key), wait);
      return wait <= 0;
    });
    const readings = due.length === 0 ? new Map<string, never[]>() : await latestReadingsOfSignals(tx, due.map((signal) => ({ ...signal, since: windowStart(signal.rule, now) })));
    const fused = new Map(due.map((signal) => {
      const id = tenantKey(signal.tenantId, signal.key);
      return [id, fusedOf(signal.key, null, readings.get(id) ?? [], signal.rule, now)] as const;
    }));
    await saveFused(tx, due.flatMap((signal) => {
      const signalOf = fused.get(tenantKey(signal.tenantId, signal.key));
      return signalOf ? [{ scope: { tenantId: signal.tenantId, userId: null, key: signal.key }, signal: signalOf }] : [];
    }));
    return { waits, fused };
  });
  return signals.map((signal): BatchFusion => {
    const id = tenantKey(signal.tenantId, signal.key);
    const waitMs = outcomes.waits.get(id);
    return waitMs === undefined ? { signal: outcomes.fused.get(id) ?? null } : { waitMs };
  });
}
