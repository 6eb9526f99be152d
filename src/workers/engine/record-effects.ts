import { matchesEventType, type RecordMetric } from '../../shared/api/rules.js';
import { localDay } from '../../shared/engine/calendar.js';
import { isDailyAggregation, isNewBest, metricContribution } from '../../shared/engine/records.js';
import type { EffectContext } from './context.js';

/** Updates every personal record the event takes part in and reports each new best with the previous one. */
export async function applyRecords(context: EffectContext): Promise<void> {
  for (const metric of context.rules.records) {
    if (matchesEventType(metric.eventType, context.event.type)) await applyRecord(context, metric);
  }
}

async function applyRecord(context: EffectContext, metric: RecordMetric): Promise<void> {
  const { tx, event } = context;
  const contribution = metricContribution(metric.aggregation, event.value);
  if (contribution === null) return;
  const daily = isDailyAggregation(metric.aggregation);
  // A daily metric belongs to a calendar day: past the late-event grace the day is closed.
  if (daily && !context.countsForItsDay) return;
  const day = localDay(event.occurredAt, context.zone);
  let candidate = contribution;
  if (daily) {
    const [aggregate] = await tx<{ value: number }[]>`
      insert into record_days (user_id, metric_key, day, value) values (${event.userId}, ${metric.key}, ${day}, ${contribution})
      on conflict (user_id, metric_key, day) do update set value = record_days.value + excluded.value
      returning value`;
    candidate = aggregate?.value ?? contribution;
  }
  const [stored] = await tx<{ best: number }[]>`select best from personal_records where user_id = ${event.userId} and metric_key = ${metric.key}`;
  const previous = stored?.best ?? null;
  if (!isNewBest(metric.aggregation, candidate, previous)) return;
  await tx`
    insert into personal_records (user_id, metric_key, tenant_id, best, day, event_id, achieved_at)
    values (${event.userId}, ${metric.key}, ${event.tenantId}, ${candidate}, ${day}, ${event.id}, ${event.occurredAt.toISOString()})
    on conflict (user_id, metric_key) do update set best = excluded.best, day = excluded.day, event_id = excluded.event_id, achieved_at = excluded.achieved_at`;
  context.updates.push({ event: 'record:broken', payload: { key: metric.key, value: candidate, previous, day, eventId: event.id } });
}
