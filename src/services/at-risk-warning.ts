import type { Sql } from '../repositories/db/client.js';
import type { SqlPick } from '../repositories/db/rows.js';
import type { streaks, users } from '../repositories/db/schema.js';
import { streakAsOf } from '../domain/streaks.js';
import type { JobQueues } from '../platform/queues/producer.js';
import { appendUserUpdates } from '../repositories/user-updates.js';
import type { UserUpdate } from '../contracts/socket/user-updates.js';
import { deliverUpdates } from './deliveries.js';
import { inUserTransaction } from './user-locks.js';

type StreakCheckRow = SqlPick<typeof streaks, 'current' | 'longest' | 'freezes' | 'last_day' | 'run_start'> & SqlPick<typeof users, 'timezone'>;

/** A streak check that came due: the user's streak and the local day that may break it. */
export interface AtRiskWarning {
  tenantId: string;
  userId: string;
  streakKey: string;
  day: string;
}

/**
 * Warns the user at the at-risk hour of a local day: if the streak is still alive and the day has
 * no qualifying event yet, `streak:at_risk` is stored and pushed after the commit. An event that
 * came first makes it a no-op. Under the user's row lock, taken first as the engine takes it
 * (users, then their streaks): taking the streak first and the user's row later (appending the
 * update) deadlocked with the engine.
 */
export async function warnAtRisk(deps: { sql: Sql; queues: JobQueues }, { tenantId, userId, streakKey, day }: AtRiskWarning): Promise<{ warned: boolean }> {
  const updates = await inUserTransaction(deps.sql, [userId], async (tx): Promise<UserUpdate[]> => {
    const [row] = await tx<StreakCheckRow[]>`
      select s.current, s.longest, s.freezes, s.last_day, s.run_start, u.timezone
      from streaks s join users u on u.id = s.user_id
      where s.user_id = ${userId} and s.streak_key = ${streakKey} for update of s`;
    if (!row) return [];
    const view = streakAsOf({ current: row.current, longest: row.longest, freezes: row.freezes, lastDay: row.last_day, runStart: row.run_start }, day, row.timezone);
    if (!view.atRisk) return [];
    return appendUserUpdates(tx, tenantId, userId, [{ event: 'streak:at_risk', payload: { key: streakKey, current: view.current, day, freezes: view.freezes } }]);
  });
  await deliverUpdates(deps, [{ tenantId, userId, updates }]);
  return { warned: updates.length > 0 };
}
