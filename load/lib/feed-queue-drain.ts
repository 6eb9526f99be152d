import { Redis } from 'ioredis';
import type postgres from 'postgres';
import { jobDefinitions } from '../../src/contracts/queues.js';
import { JobQueues, bullPrefix } from '../../src/platform/queues/producer.js';
import { FeedTelemetry } from '../../src/repositories/feed-telemetry.js';
import { requestFeedRecomputes } from '../../src/services/feed-schedule.js';
import { sleep } from './child-process.js';

/**
 * Users recomputed per second by the worker: one `feed.recompute` per user (the job the sweep adds,
 * through the same scheduling function) queued while the `feeds` queue is paused (BullMQ's global
 * pause: the worker stays up, idle), then the queue resumed and the clock run until every user's
 * feed state says it was computed after the resume (read in Postgres, not inferred from the queue).
 */

export interface FeedDrainFigures {
  users: number;
  /** Resume → the last user's recompute stored (null: not all within the timeout). */
  elapsedMs: number | null;
  recomputed: number;
  usersPerSecond: number;
  /** The worker's own median of its latest 200 recomputes (the dashboard's figure), read at the end. */
  workerMedianMs: number | null;
}

const ENQUEUE_CHUNK = 1_000;
const POLL_MS = 200;

export async function drainFeedRecomputes(
  target: { sql: postgres.Sql; redisUrl: string; redisPrefix: string; tenantId: string; userIds: readonly string[]; timeoutMs: number },
  signal: AbortSignal,
  /** Called once every job waits, just before the resume (to start measuring). */
  beforeResume: () => Promise<void>,
): Promise<FeedDrainFigures> {
  const connection = new Redis(target.redisUrl, { maxRetriesPerRequest: null });
  const queues = new JobQueues(connection, bullPrefix(target.redisPrefix));
  const queue = queues.get(jobDefinitions['feed.recompute'].queue);
  const { sql, tenantId, userIds } = target;
  try {
    await queue.pause();
    for (let start = 0; start < userIds.length; start += ENQUEUE_CHUNK) {
      await requestFeedRecomputes(queues, userIds.slice(start, start + ENQUEUE_CHUNK).map((userId) => ({ tenantId, userId, reason: 'sweep' as const, delayMs: 0 })));
    }
    const waiting = (await queue.getJobCounts('wait')).wait ?? 0;
    if (waiting < userIds.length) throw new Error(`only ${waiting} of ${userIds.length} feed.recompute jobs wait in the paused queue`);
    await beforeResume();
    // Postgres's clock stamps computed_at: the resume is taken on it too.
    const [{ resumed_at: resumedAt } = { resumed_at: '' }] = await sql<{ resumed_at: string }[]>`select now()::text as resumed_at`;
    const startedAt = performance.now();
    await queue.resume();
    const deadline = startedAt + target.timeoutMs;
    let done = { recomputed: 0, lastMs: 0 };
    while (done.recomputed < userIds.length && performance.now() < deadline) {
      await sleep(POLL_MS, signal);
      // computed_at is taken as a recompute starts: the last one's own few milliseconds are left out.
      const [row] = await sql<{ recomputed: number; last_ms: number | null }[]>`
        select count(*)::int as recomputed, (extract(epoch from max(computed_at) - ${resumedAt}::timestamptz) * 1000)::float8 as last_ms
        from feed_states where tenant_id = ${tenantId} and computed_at >= ${resumedAt}::timestamptz`;
      done = { recomputed: row?.recomputed ?? 0, lastMs: row?.last_ms ?? 0 };
    }
    const { recomputed } = done;
    const elapsedMs = recomputed >= userIds.length ? done.lastMs : null;
    const figures = await new FeedTelemetry(connection, target.redisPrefix).figures(tenantId);
    return { users: userIds.length, elapsedMs, recomputed, usersPerSecond: (recomputed * 1000) / (elapsedMs ?? target.timeoutMs), workerMedianMs: figures.medianRecomputeMs };
  } finally {
    await queue.resume().catch(() => undefined);
    await queues.close();
    connection.disconnect();
  }
}
