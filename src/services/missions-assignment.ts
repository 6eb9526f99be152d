import type { Sql } from '../repositories/db/client.js';
import type { SqlPick, SqlRow } from '../repositories/db/rows.js';
import type { userMissions, users } from '../repositories/db/schema.js';
import { localDay } from '../domain/calendar.js';
import { missionDaysToAssign } from '../domain/missions.js';
import type { JobQueues } from '../platform/queues/producer.js';
import type { RulesCache } from '../repositories/engine-rules.js';
import { assignMissions } from '../repositories/missions.js';
import { appendUserUpdates } from '../repositories/user-updates.js';
import type { UserUpdate } from '../contracts/socket/user-updates.js';
import { deliverUpdates } from './deliveries.js';
import { inUserTransaction } from './user-locks.js';

/** A user to assign missions to, as the sweep lists them. */
export type MissionsUser = SqlPick<typeof users, 'id' | 'tenant_id' | 'timezone'> & {
  /** The latest day the user has missions of, if any. */
  last_day: SqlRow<typeof userMissions>['day'] | null;
};

export interface MissionsAssignmentDeps {
  sql: Sql;
  queues: JobQueues;
  rules: RulesCache;
}

/**
 * Assigns a user's daily missions for every local day that began since their last assignment
 * (within the late-event grace), in one transaction under the user's row lock (taken first, as
 * the engine takes it: locking it only after the mission rows could deadlock with an event of the
 * user). Assignment is deterministic and unique per (user, day, slot), so a re-run, or the user's
 * first event racing it, assigns nothing twice. Today's new missions are pushed as
 * `missions:assigned` after the commit. Answers the number of days that got missions.
 */
export async function assignDueMissions(deps: MissionsAssignmentDeps, user: MissionsUser, at: Date): Promise<number> {
  const { rules } = await deps.rules.get(user.tenant_id);
  const days = missionDaysToAssign(user.last_day, at, user.timezone, rules.lateEventGraceHours);
  if (days.length === 0 || rules.missions.perDay === 0) return 0;
  const today = localDay(at, user.timezone);
  let assigned = 0;
  const delivered = await inUserTransaction(deps.sql, [user.id], async (tx) => {
    let updates: UserUpdate[] = [];
    for (const day of days) {
      const missions = await assignMissions(tx, { tenantId: user.tenant_id, userId: user.id, day, zone: user.timezone }, rules);
      if (missions.length > 0) assigned += 1;
      if (day === today && missions.length > 0) {
        updates = await appendUserUpdates(tx, user.tenant_id, user.id, [{ event: 'missions:assigned', payload: { day, missions } }]);
      }
    }
    return updates;
  });
  await deliverUpdates(deps, [{ tenantId: user.tenant_id, userId: user.id, updates: delivered }]);
  return assigned;
}
