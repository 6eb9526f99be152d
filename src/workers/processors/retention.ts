import type { Sql } from '../../repositories/db/client.js';
import { pruneSignals } from '../../repositories/signals.js';
import { pruneUserUpdates } from '../../repositories/user-updates.js';
import type { JobHandler } from '../registry.js';

type RetentionJob = 'user-updates.prune' | 'signals.prune';

/** What each retention job drops, older than its retention. */
const pruners: Record<RetentionJob, { prune: (sql: Sql, retentionDays: number) => Promise<number>; what: string }> = {
  'user-updates.prune': { prune: pruneUserUpdates, what: 'user updates' },
  'signals.prune': { prune: pruneSignals, what: 'signal history and readings' },
};

/** A scheduled retention job: drops what is older than `retentionDays` and logs how much went. */
export function createRetentionHandler<N extends RetentionJob>(name: N, deps: { sql: Sql; retentionDays: number }): JobHandler<N> {
  const { prune, what } = pruners[name];
  return {
    name,
    async handle(_payload, { logger }) {
      const removed = await prune(deps.sql, deps.retentionDays);
      logger.info(`pruned ${what}`, { removed, retentionDays: deps.retentionDays });
      return { removed };
    },
  };
}
