import type { Sql } from '../../repositories/db/client.js';
import { pruneUserUpdates } from '../../repositories/user-updates.js';
import type { JobHandler } from '../registry.js';

export function createPruneUserUpdatesHandler(deps: { sql: Sql; retentionDays: number }): JobHandler<'user-updates.prune'> {
  return {
    name: 'user-updates.prune',
    async handle(_payload, { logger }) {
      const removed = await pruneUserUpdates(deps.sql, deps.retentionDays);
      logger.info('pruned user updates', { removed, retentionDays: deps.retentionDays });
      return { removed };
    },
  };
}
