import type { Sql } from '../../repositories/db/client.js';
import { warnAtRisk } from '../../services/at-risk-warning.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import type { JobHandler } from '../registry.js';

/**
 * Fires at the at-risk hour of a user's local day (a delayed job scheduled when the day before
 * was credited): the at-risk warning (`services/at-risk-warning.ts`) warns the user if the streak
 * is still alive and the day has no qualifying event yet.
 */
export function createStreakAtRiskHandler(deps: { sql: Sql; queues: JobQueues }): JobHandler<'streak.at-risk'> {
  return {
    name: 'streak.at-risk',
    handle: (payload) => warnAtRisk(deps, payload),
  };
}
