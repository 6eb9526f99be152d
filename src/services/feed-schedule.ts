import type { JobPayload } from '../contracts/queues.js';
import type { JobQueues } from '../platform/queues/producer.js';

export interface FeedRecomputeRequest {
  tenantId: string;
  userId: string;
  reason: JobPayload<'feed.recompute'>['reason'];
  /** Debounce: the recomputation runs this long after the first request, and takes every later one with it. */
  delayMs: number;
}

/**
 * Asks for feed recomputations, at most one waiting per user: requests for a user whose job is
 * already waiting add nothing (it will read their effects); one more is kept while it runs, so the
 * last change is always taken into account. A held announcement's release is its own job, at its
 * instant.
 */
export async function requestFeedRecomputes(queues: JobQueues, requests: readonly FeedRecomputeRequest[]): Promise<void> {
  const perUser = new Map(requests.map((request) => [request.userId, request]));
  if (perUser.size === 0) return;
  await queues.enqueueMany(
    'feed.recompute',
    [...perUser.values()].map(({ tenantId, userId, reason, delayMs }) => ({
      payload: { tenantId, userId, reason },
      options: {
        delay: delayMs,
        deduplication: reason === 'release' ? { id: `feed-release:${userId}` } : { id: `feed:${userId}`, keepLastIfActive: true },
        removeOnComplete: true,
      },
    })),
  );
}
