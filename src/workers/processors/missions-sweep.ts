import type { Sql } from '../../repositories/db/client.js';
import { localDay } from '../../domain/calendar.js';
import { missionDaysToAssign } from '../../domain/missions.js';
import { deliverUpdates } from '../../services/deliveries.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import { assignMissions } from '../../repositories/missions.js';
import { appendUserUpdates } from '../../repositories/user-updates.js';
import type { JobHandler } from '../registry.js';

/** Users with an event this recent get missions without having to come back first. */
const RECENTLY_ACTIVE_DAYS = 7;
const BATCH = 500;

interface SweepUser {
  id: string;
  tenant_id: string;
  timezone: string;
  last_day: string | null;
}

export interface MissionSweepDeps {
  sql: Sql;
  queues: JobQueues;
  rules: RulesCache;
  now?: () => Date;
}

/**
 * Assigns daily missions to recently active users for every local day that began since their
 * last assignment (within the late-event grace), in batches of users. Assignment is
 * deterministic and unique per (user, day, slot), so a re-run, or a user's first event racing
 * the sweep, assigns nothing twice. Today's new missions are pushed as `missions:assigned`.
 */
export function createMissionSweepHandler(deps: MissionSweepDeps): JobHandler<'missions.sweep'> {
  const now = deps.now ?? (() => new Date());
  return {
    name: 'missions.sweep',
    async handle(_payload, { logger }) {
      const startedAt = now();
      let after = '00000000-0000-0000-0000-000000000000';
      let users = 0;
      let assignedDays = 0;
      for (;;) {
        const batch = await deps.sql<SweepUser[]>`
          select u.id, u.tenant_id, u.timezone, (select max(day) from user_missions m where m.user_id = u.id) as last_day
          from users u
          where u.id > ${after} and u.last_active_at > ${startedAt.toISOString()}::timestamptz - make_interval(days => ${RECENTLY_ACTIVE_DAYS})
          order by u.id limit ${BATCH}`;
        for (const user of batch) assignedDays += await sweepUser(deps, user, startedAt);
        users += batch.length;
        const last = batch.at(-1);
        if (!last || batch.length < BATCH) break;
        after = last.id;
      }
      logger.info('mission sweep done', { users, assignedDays });
      return { users, assignedDays };
    },
  };
}

async function sweepUser(deps: MissionSweepDeps, user: SweepUser, at: Date): Promise<number> {
  const { rules } = await deps.rules.get(user.tenant_id);
  const days = missionDaysToAssign(user.last_day, at, user.timezone, rules.lateEventGraceHours);
  if (days.length === 0 || rules.missions.perDay === 0) return 0;
  const today = localDay(at, user.timezone);
  let assigned = 0;
  const delivered = await deps.sql.begin(async (tx) => {
    // The user's row first, as the engine takes it: locking it only after the mission rows could deadlock with an event of the user.
    await tx`select 1 from users where id = ${user.id} for no key update`;
    let updates: Awaited<ReturnType<typeof appendUserUpdates>> = [];
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
