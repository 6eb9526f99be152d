import { and, asc, eq, gt, type SQL } from 'drizzle-orm';
import type { EventPage } from '../contracts/api/events.js';
import type { Database } from './db/client.js';
import type { JobPayload } from '../contracts/queues.js';
import { sqlColumns, type SqlPick } from './db/rows.js';
import { events, outbox, users } from './db/schema.js';

export interface EventFilter {
  tenantId: string;
  /** Internal user id. */
  userId?: string;
  /** The tenant's id for the user. */
  externalUserId?: string;
  type?: string;
  /** Cursor: the last id of the previous page (ids are time-ordered UUIDv7). */
  after?: string;
  limit: number;
}

export async function listEvents(db: Database, filter: EventFilter): Promise<EventPage> {
  const conditions: SQL[] = [eq(events.tenantId, filter.tenantId)];
  if (filter.userId) conditions.push(eq(events.userId, filter.userId));
  if (filter.externalUserId) conditions.push(eq(users.externalId, filter.externalUserId));
  if (filter.type) conditions.push(eq(events.type, filter.type));
  if (filter.after) conditions.push(gt(events.id, filter.after));
  const rows = await db
    .select({
      id: events.id,
      userId: users.externalId,
      type: events.type,
      occurredAt: events.occurredAt,
      receivedAt: events.receivedAt,
      value: events.value,
      data: events.data,
      idempotencyKey: events.idempotencyKey,
    })
    .from(events)
    .innerJoin(users, eq(users.id, events.userId))
    .where(and(...conditions))
    .orderBy(asc(events.id))
    .limit(filter.limit + 1);
  const page = rows.slice(0, filter.limit);
  return {
    items: page.map((row) => ({ ...row, occurredAt: row.occurredAt.toISOString(), receivedAt: row.receivedAt.toISOString() })),
    next: rows.length > filter.limit ? (page.at(-1)?.id ?? null) : null,
  };
}

/** The columns of an outbox row the relay and the reconciler hand over (`returning ${sql(OUTBOX_JOB_COLUMNS)}`). */
export const OUTBOX_JOB_COLUMNS = sqlColumns(outbox, 'event_id', 'tenant_id', 'user_id', 'type', 'occurred_at', 'value');

/** An outbox row as the relay and the reconciler read it (timestamps arrive as strings: drizzle shares this client). */
export type OutboxRow = SqlPick<typeof outbox, (typeof OUTBOX_JOB_COLUMNS)[number]>;

/** The `engagement.event` job of an outbox row: it carries what the engine reads, and its id is the event's, so a second hand-over adds nothing. */
export const engagementJobOf = (row: OutboxRow) => ({
  payload: {
    eventId: row.event_id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    event: { type: row.type, occurredAt: new Date(row.occurred_at).toISOString(), value: row.value },
  } satisfies JobPayload<'engagement.event'>,
  options: { jobId: row.event_id },
});
