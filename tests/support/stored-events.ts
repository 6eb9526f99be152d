import type postgres from 'postgres';
import type { EngagementJob } from '../../src/services/engine/apply-batch.js';

export interface StoredEventInput {
  tenantId: string;
  userId: string;
  type?: string;
  occurredAt?: Date;
  value?: number;
}

/**
 * Stores an event without an outbox row (so only the test hands it to the engine) and answers
 * its job as the relay would build it.
 */
export async function storeEvent(sql: postgres.Sql, input: StoredEventInput): Promise<EngagementJob> {
  const event = { type: input.type ?? 'lesson.done', occurredAt: (input.occurredAt ?? new Date()).toISOString(), value: input.value ?? null };
  const [row] = await sql<{ id: string }[]>`
    insert into events (id, tenant_id, user_id, type, occurred_at, value)
    values (gen_random_uuid(), ${input.tenantId}, ${input.userId}, ${event.type}, ${event.occurredAt}, ${event.value}) returning id`;
  if (!row) throw new Error('event insert returned no row');
  return { eventId: row.id, tenantId: input.tenantId, userId: input.userId, event };
}
