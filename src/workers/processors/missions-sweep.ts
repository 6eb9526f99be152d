import type { Sql } from '../../repositories/db/client.js';
import { assignDueMissions, type MissionsUser } from '../../services/missions-assignment.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import type { JobHandler } from '../registry.js';

/** Users with an event this recent get missions without having to come back first. */
const RECENTLY_ACTIVE_DAYS = 7;
const BATCH = 500;

export interface MissionSweepDeps {
  sql: Sql;
  queues: JobQueues;
  rules: RulesCache;
  now?: () => Date;
}

/**
 * Assigns daily missions to recently active users for every local day that began since their
 * last assignment (within the late-event grace), in batches of users, each in its own transaction
 * through the missions assignment (`services/missions-assignment.ts`). Assignment is
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
        const batch = await deps.sql<MissionsUser[]>`
          select u.id, u.tenant_id, u.timezone, (select max(day) from user_missions m where m.user_id = u.id) as last_day
          from users u
          where u.id > ${after} and u.last_active_at > ${startedAt.toISOString()}::timestamptz - make_interval(days => ${RECENTLY_ACTIVE_DAYS})
          order by u.id limit ${BATCH}`;
        for (const user of batch) assignedDays += await assignDueMissions(deps, user, startedAt);
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
