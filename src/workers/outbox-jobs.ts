import type { JobPayload } from '../contracts/queues.js';
import type { JobQueues } from '../platform/queues/producer.js';
import { sqlColumns, type SqlPick } from '../repositories/db/rows.js';
import { outbox } from '../repositories/db/schema.js';

/** The columns of an outbox row the relay and the reconciler hand over (`returning ${sql(OUTBOX_JOB_COLUMNS)}`). */
export const OUTBOX_JOB_COLUMNS = sqlColumns(outbox, 'event_id', 'kind', 'tenant_id', 'user_id', 'type', 'occurred_at', 'value', 'feed');

/** An outbox row as the relay and the reconciler read it (timestamps arrive as strings: drizzle shares this client). */
export type OutboxRow = SqlPick<typeof outbox, (typeof OUTBOX_JOB_COLUMNS)[number]>;

/** The `engagement.event` job of an event's row: it carries what the engine reads, and its id is the event's, so a second hand-over adds nothing. */
const engagementJobOf = (row: OutboxRow) => ({
  payload: {
    eventId: row.event_id,
    tenantId: row.tenant_id,
    // Events always name their user (the column is nullable for tenant-wide signal readings only).
    userId: row.user_id as string,
    event: { type: row.type, occurredAt: new Date(row.occurred_at).toISOString(), value: row.value, ...(row.feed ? { feed: row.feed } : {}) },
  } satisfies JobPayload<'engagement.event'>,
  options: { jobId: row.event_id },
});

/**
 * The `signals.fuse` job a signal reading's row asks for. Deduplicated per signal with
 * `keepLastIfActive`: while one fusion of the signal waits, further readings add nothing (it will
 * read them); while one runs, one more is kept to run after it, so the last reading is always fused.
 */
const fuseJobOf = (row: OutboxRow) => {
  const payload: JobPayload<'signals.fuse'> = { tenantId: row.tenant_id, userId: row.user_id, key: row.type };
  return { payload, options: { deduplication: { id: `fuse:${row.tenant_id}:${row.user_id ?? '*'}:${row.type}`, keepLastIfActive: true } } };
};

/** Hands claimed outbox rows to their queues: events to the engine, signal readings to fusion (one job per signal). */
export async function enqueueOutboxRows(queues: JobQueues, rows: readonly OutboxRow[]): Promise<void> {
  const events = rows.filter((row) => row.kind === 'event');
  const fusions = new Map(rows.filter((row) => row.kind === 'signal').map((row) => {
    const job = fuseJobOf(row);
    return [job.options.deduplication.id, job] as const;
  }));
  await Promise.all([
    events.length > 0 ? queues.enqueueMany('engagement.event', events.map(engagementJobOf)) : undefined,
    fusions.size > 0 ? queues.enqueueMany('signals.fuse', [...fusions.values()]) : undefined,
  ]);
}
