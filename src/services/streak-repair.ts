import type { StreakRule } from '../contracts/api/rules.js';
import type { StreakRepair } from '../contracts/api/streaks.js';
import type { Sql } from '../repositories/db/client.js';
import { dayExistsIn, localDay, type LocalDay } from '../domain/calendar.js';
import { EMPTY_STREAK, foldStreak, guardAfterRepair } from '../domain/streaks.js';
import { checkAfter, type AtRiskCheck } from './at-risk-checks.js';
import type { UserUpdate } from '../contracts/socket/user-updates.js';
import { recordAuditIn } from '../repositories/audit.js';
import { grantRewards, type Granted } from '../repositories/rewards.js';
import { creditDays, creditedDays, milestoneGrants, readStreak, saveStreaks, streakViewOf } from '../repositories/streaks.js';
import { appendUserUpdates, type NewUserUpdate } from '../repositories/user-updates.js';
import { inUserTransaction } from './user-locks.js';

export interface StreakRepairOrder {
  tenantId: string;
  userId: string;
  rule: StreakRule;
  days: LocalDay[];
  reason: string;
  /** Who repairs, as the audit log names actors. */
  actor: string;
  atRiskHour: number;
  now: Date;
}

export type StreakRepairOutcome =
  | { kind: 'repaired'; repair: StreakRepair; updates: UserUpdate[]; atRisk: AtRiskCheck[] }
  | { kind: 'not_found' }
  /** Days after the user's today, or dates the user's zone never had. */
  | { kind: 'invalid_days'; future: LocalDay[]; nonexistent: LocalDay[]; today: LocalDay; zone: string };

/**
 * Credits days to a user's streak by hand, the way late events would: under the user's row lock
 * (so it serialises with the engine), the streak is refolded from all its days, milestones it now
 * reaches are granted once through the ledger, the change is pushed as `streak:updated`, and the
 * repair is audited in the same transaction, even when every day already counted.
 */
export async function repairStreak(sql: Sql, order: StreakRepairOrder): Promise<StreakRepairOutcome> {
  return inUserTransaction(sql, [order.userId], async (tx, [user]): Promise<StreakRepairOutcome> => {
    if (!user) return { kind: 'not_found' };
    const zone = user.timezone;
    const today = localDay(order.now, zone);
    const future = order.days.filter((day) => day > today);
    const nonexistent = order.days.filter((day) => !dayExistsIn(day, zone));
    if (future.length > 0 || nonexistent.length > 0) return { kind: 'invalid_days', future, nonexistent, today, zone };

    const owner = { tenantId: order.tenantId, userId: order.userId, key: order.rule.key };
    const stored = await readStreak(tx, owner);
    const repaired = (await creditDays(tx, order.days.map((day) => ({ userId: owner.userId, key: owner.key, day })))).map((credited) => credited.day).sort();
    const alreadyCredited = order.days.filter((day) => !repaired.includes(day)).sort();
    let state = stored?.state ?? EMPTY_STREAK;
    const changes: NewUserUpdate[] = [];
    const granted: Granted[] = [];
    const atRisk: AtRiskCheck[] = [];
    if (repaired.length > 0) {
      const folded = foldStreak(await creditedDays(tx, owner), order.rule, zone);
      state = folded.state;
      const lastDay = state.lastDay ?? today;
      await saveStreaks(tx, [{ owner, state, guard: guardAfterRepair(stored?.guard ?? null, lastDay, zone) }]);
      changes.push({
        event: 'streak:updated',
        payload: { key: owner.key, current: state.current, longest: state.longest, freezes: state.freezes, lastDay, freezesSpent: 0, freezesEarned: 0, restarted: false, repairedDays: repaired },
      });
      granted.push(...(await grantRewards(tx, milestoneGrants(owner, order.rule, folded.milestones))).filter((grant) => grant !== null));
      changes.push(...granted.map((payload) => ({ event: 'reward:granted' as const, payload })));
      atRisk.push(checkAfter(owner.key, lastDay, zone, order.atRiskHour));
    }
    const updates = changes.length > 0 ? await appendUserUpdates(tx, order.tenantId, order.userId, changes) : [];
    await recordAuditIn(tx, {
      tenantId: order.tenantId,
      actor: order.actor,
      action: 'streak.repaired',
      target: `user:${order.userId}`,
      details: { streakKey: owner.key, reason: order.reason, repaired, alreadyCredited, before: stored?.state ?? null, after: state },
    });
    return {
      kind: 'repaired',
      repair: {
        repaired,
        alreadyCredited,
        streak: streakViewOf(owner.key, state, today, zone),
        rewards: granted.map(({ reward }) => reward),
        seq: updates.at(-1)?.data.seq ?? Number(user.last_update_seq),
      },
      updates,
      atRisk,
    };
  }, { tenantId: order.tenantId, columns: ['timezone', 'last_update_seq'] });
}
