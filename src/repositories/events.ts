import { and, asc, eq, gt, type SQL } from 'drizzle-orm';
import type { EventPage } from '../contracts/api/events.js';
import type { Database } from './db/client.js';
import { events, users } from './db/schema.js';

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
