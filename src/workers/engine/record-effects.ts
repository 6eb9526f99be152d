import { matchesEventType, type RecordMetric } from '../../shared/api/rules.js';
import { localDay } from '../../shared/engine/calendar.js';
import { isDailyAggregation, isNewBest, metricContribution } from '../../shared/engine/records.js';
import { inParallel, type EffectContext } from './context.js';

/** Updates every personal record the event takes part in and reports each new best with the previous one. */
export async function applyRecords(context: EffectContext): Promise<void> {
  const metrics = context.rules.records.filter((metric) => matchesEventType(metric.eventType, context.event.type));
  await inParallel(
    context,
    metrics.map((metric) => (part) => applyRecord(part, metric)),
  );
}

/** One metric: the day's aggregate and the stored best are read in one round trip; a new best is written. */
async function applyRecord(context: EffectContext, metric: RecordMetric): Promise<void> {
  const { tx, event } = context;
  const contribution = metricContribution(metric.aggregation, event.value);
  if (contribution === null) return;
  const daily = isDailyAggregation(metric.aggregation);
  // A daily metric belongs to a calendar day: past the late-event grace the day is closed.
  if (daily && !context.countsForItsDay) return;
  const day = localDay(event.occurredAt, context.zone);
  const [aggregate, [stored]] = await Promise.all([
    daily
      ? tx<{ value: number }[]>`
          insert into record_days (user_id, metric_key, day, value) values (${event.userId}, ${metric.key}, ${day}, ${contribution})
          on conflict (user_id, metric_key, day) do update set value = record_days.value + excluded.value
          returning value`.then(([row]) => row?.value ?? contribution)
      : contribution,
    tx<{ best: number }[]>`select best from personal_records where user_id = ${event.userId} and metric_key = ${metric.key}`,
  ]);
  const previous = stored?.best ?? null;
  if (!isNewBest(metric.aggregation, aggregate, previous)) return;
  await tx`
    insert into personal_records (user_id, metric_key, tenant_id, best, day, event_id, achieved_at)
    values (${event.userId}, ${metric.key}, ${event.tenantId}, ${aggregate}, ${day}, ${event.id}, ${event.occurredAt.toISOString()})
    on conflict (user_id, metric_key) do update set best = excluded.best, day = excluded.day, event_id = excluded.event_id, achieved_at = excluded.achieved_at`;
  context.updates.push({ event: 'record:broken', payload: { key: metric.key, value: aggregate, previous, day, eventId: event.id } });
}
