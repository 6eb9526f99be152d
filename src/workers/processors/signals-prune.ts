import type { Sql } from '../../repositories/db/client.js';
import { pruneSignals } from '../../repositories/signals.js';
import type { JobHandler } from '../registry.js';

export function createSignalsPruneHandler(deps: { sql: Sql; retentionDays: number }): JobHandler<'signals.prune'> {
  return {
    name: 'signals.prune',
    async handle(_payload, { logger }) {
      const removed = await pruneSignals(deps.sql, deps.retentionDays);
      logger.info('pruned signal history and readings', { removed, retentionDays: deps.retentionDays });
      return { removed };
    },
  };
}
