import type { Sql } from '../../shared/db/client.js';
import { scheduleAtRiskChecks } from '../../shared/queues/at-risk.js';
import type { JobQueues } from '../../shared/queues/producer.js';
import type { RulesCache } from '../../shared/repositories/engine-rules.js';
import type { Leaderboards } from '../../shared/repositories/leaderboards.js';
import { appendUserUpdates } from '../../shared/repositories/user-updates.js';
import type { UserUpdate } from '../../shared/socket/user-updates.js';
import { applyEvent, type AppliedEvent } from '../engine/apply-event.js';
import type { JobHandler } from '../registry.js';

export interface EngagementDeps {
  sql: Sql;
  queues: JobQueues;
  rules: RulesCache;
  leaderboards: Leaderboards;
}

/**
 * Applies one ingested event. Its effects and a processed-event marker commit together, so a
 * redelivered job (BullMQ is at-least-once) finds the marker and changes nothing. The updates
 * are then handed to the hubs for live delivery and the leaderboards get their new scores; if
 * either hand-off fails, the stored updates still reach the client through `sync` and the
 * leaderboard is rebuilt from Postgres.
 */
export function createEngagementHandler(deps: EngagementDeps): JobHandler<'engagement.event'> {
  return {
    name: 'engagement.event',
    async handle({ eventId, tenantId, userId }) {
      const { rules } = await deps.rules.get(tenantId);
      const result = await deps.sql.begin(async (tx): Promise<{ updates: UserUpdate[]; applied: AppliedEvent } | null> => {
        // The marker and the event in one round trip: nothing comes back when it was processed already.
        const [event] = await tx<{ type: string; value: number | null; occurred_at: string }[]>`
          with fresh as (insert into processed_events (event_id) select id from events where id = ${eventId} on conflict do nothing returning event_id)
          select e.type, e.value, e.occurred_at from events e join fresh on fresh.event_id = e.id`;
        if (!event) return null;
        const applied = await applyEvent(tx, { id: eventId, tenantId, userId, type: event.type, value: event.value, occurredAt: new Date(event.occurred_at) }, rules, new Date());
        return { updates: await appendUserUpdates(tx, tenantId, userId, applied.updates), applied };
      });
      if (!result) return { updates: 0 };
      await deps.leaderboards.setScores(result.applied.leaderboard);
      await scheduleAtRiskChecks(deps.queues, { tenantId, userId }, result.applied.atRisk);
      await deps.queues.enqueue('realtime.deliver', { tenantId, userId, updates: result.updates }, { removeOnComplete: true });
      return { updates: result.updates.length };
    },
  };
}
