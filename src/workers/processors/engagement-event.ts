import type { Sql } from '../../shared/db/client.js';
import type { JobQueues } from '../../shared/queues/producer.js';
import { appendUserUpdates } from '../../shared/repositories/user-updates.js';
import type { UserUpdate } from '../../shared/socket/user-updates.js';
import type { JobHandler } from '../registry.js';

/**
 * Applies one ingested event. Its effects and a processed-event marker commit together, so a
 * redelivered job (BullMQ is at-least-once) finds the marker and changes nothing. The updates
 * are then handed to the hubs for live delivery; if that hand-off fails the stored updates
 * still reach the client through `sync`.
 */
export function createEngagementHandler(deps: { sql: Sql; queues: JobQueues }): JobHandler<'engagement.event'> {
  return {
    name: 'engagement.event',
    async handle({ eventId, tenantId, userId }) {
      const updates = await deps.sql.begin(async (tx): Promise<UserUpdate[]> => {
        const [event] = await tx<{ type: string; value: number | null }[]>`select type, value from events where id = ${eventId}`;
        if (!event) return [];
        const [fresh] = await tx`insert into processed_events (event_id) values (${eventId}) on conflict do nothing returning event_id`;
        if (!fresh) return [];
        return appendUserUpdates(tx, tenantId, userId, [
          { event: 'activity:recorded', payload: { eventId, type: event.type, ...(event.value === null ? {} : { value: event.value }) } },
        ]);
      });
      if (updates.length > 0) {
        await deps.queues.enqueue('realtime.deliver', { tenantId, userId, updates }, { removeOnComplete: true });
      }
      return { updates: updates.length };
    },
  };
}
