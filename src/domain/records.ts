import type { RecordAggregation } from '../contracts/api/rules.js';

/**
 * Personal records: a metric's value for one event (max/min of the event's value) or for one
 * local day (count or sum of events), and whether it beats the stored best.
 */

export const isDailyAggregation = (aggregation: RecordAggregation): boolean => aggregation === 'daily_count' || aggregation === 'daily_sum';

/** What an event adds to its day's aggregate, or contributes as a value; null when it has no part in the metric (no value). */
export function metricContribution(aggregation: RecordAggregation, value: number | null): number | null {
  if (aggregation === 'daily_count') return 1;
  return value;
}

export function isNewBest(aggregation: RecordAggregation, candidate: number, previous: number | null): boolean {
  if (previous === null) return true;
  return aggregation === 'min_value' ? candidate < previous : candidate > previous;
}
