import type { Sql } from '../../repositories/db/client.js';
import { streakAsOf } from '../../domain/streaks.js';
import { deliverUpdates } from '../../services/deliveries.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import { appendUserUpdates } from '../../repositories/user-updates.js';
import type { JobHandler } from '../registry.js';

interface StreakCheckRow {
  current: number;
  longest: number;
  freezes: number;
  last_day: string;
  run_start: string;
  timezone: string;
}

/**
 * Fires at the at-risk hour of a user's local day (a delayed job scheduled when the day before
 * was credited): if the streak is still alive and the day has no qualifying event yet, the user
 * gets `streak:at_risk`. An event that came first makes it a no-op.
 */
export function createStreakAtRiskHandler(deps: { sql: Sql; queues: JobQueues }): JobHandler<'streak.at-risk'> {
  return {
    name: 'streak.at-risk',
    async handle({ tenantId, userId, streakKey, day }) {
      const updates = await deps.sql.begin(async (tx) => {
        // The user's row first, as the engine locks it (users, then their streaks): taking the
        // streak first and the user's row later (appending the update) deadlocked with the engine.
        await tx`select 1 from users where id = ${userId} for no key update`;
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
    },
  };
}
