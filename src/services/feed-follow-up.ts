import type { JobQueues } from '../platform/queues/producer.js';
import type { Sql } from '../repositories/db/client.js';
import { deliverUpdates } from './deliveries.js';
import type { FeedRecomputeResult } from './feed-recompute.js';
import { requestFeedRecomputes } from './feed-schedule.js';

/**
 * What a recomputation leaves to its caller (a worker job, or a read computing a first version):
 * its `feed:updated` delivered live now, or, when quiet hours or the budget held it, a release
 * recomputation at the hold's end (which sends it, coalesced).
 */
export async function followUpFeedRecompute(deps: { queues: JobQueues; sql: Sql }, tenantId: string, userId: string, result: FeedRecomputeResult): Promise<void> {
  const { announcement } = result;
  if (announcement.kind === 'pushed') await deliverUpdates(deps, [{ tenantId, userId, updates: [announcement.update] }]);
  if (announcement.kind === 'held') {
    await requestFeedRecomputes(deps.queues, [{ tenantId, userId, reason: 'release', delayMs: Math.max(announcement.releaseAt.getTime() - Date.now(), 0) }]);
  }
}
