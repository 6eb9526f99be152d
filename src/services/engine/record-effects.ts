import { matchesEventType, type RecordMetric } from '../../contracts/api/rules.js';
import { localDay } from '../../domain/calendar.js';
import { isDailyAggregation, isNewBest, metricContribution } from '../../domain/records.js';
import type { EffectContext } from './context.js';

/** Updates every personal record the event takes part in and reports each new best with the previous one. */
export function applyRecords(context: EffectContext): void {
  for (const metric of context.rules.records) {
    if (matchesEventType(metric.eventType, context.event.type)) applyRecord(context, metric);
  }
}

function applyRecord(context: EffectContext, metric: RecordMetric): void {
  const { books, event } = context;
  const contribution = metricContribution(metric.aggregation, event.value);
  if (contribution === null) return;
  const daily = isDailyAggregation(metric.aggregation);
  // A daily metric belongs to a calendar day: past the late-event grace the day is closed.
  if (daily && !context.countsForItsDay) return;
  const day = localDay(event.occurredAt, context.zone);
  const aggregate = daily ? books.records.addToDay(event.userId, metric.key, day, contribution) : contribution;
  const previous = books.records.best(event.userId, metric.key);
  if (!isNewBest(metric.aggregation, aggregate, previous)) return;
  books.records.setBest({ tenantId: event.tenantId, userId: event.userId, metricKey: metric.key, best: aggregate, day, eventId: event.id, achievedAt: event.occurredAt });
  context.updates.push({ event: 'record:broken', payload: { key: metric.key, value: aggregate, previous, day, eventId: event.id } });
}
