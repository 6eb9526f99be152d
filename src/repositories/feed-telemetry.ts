import type { Redis } from 'ioredis';
import type { FeedFigures } from '../contracts/socket/contracts.js';

export type { FeedFigures };

export const feedCounters = ['recomputes', 'pushes', 'held_quiet', 'held_budget'] as const;
export type FeedCounter = (typeof feedCounters)[number];

const BUCKET_TTL_SECONDS = 180;
const DURATIONS_KEPT = 200;

/**
 * Feed recomputation figures per tenant, from every worker process, in Redis (the hubs' dashboard
 * and /metrics read them): counters in per-minute buckets, and the latest recompute durations.
 */
export class FeedTelemetry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private bucket(tenantId: string, minute: number): string {
    return `${this.prefix}:feed:stats:${tenantId}:${minute}`;
  }

  private durations(tenantId: string): string {
    return `${this.prefix}:feed:durations:${tenantId}`;
  }

  async record(tenantId: string, counts: Partial<Record<FeedCounter, number>>, durationMs?: number, now = Date.now()): Promise<void> {
    const key = this.bucket(tenantId, Math.floor(now / 60_000));
    const pipeline = this.redis.pipeline();
    for (const [counter, value] of Object.entries(counts)) if (value) pipeline.hincrby(key, counter, value);
    pipeline.expire(key, BUCKET_TTL_SECONDS);
    if (durationMs !== undefined) {
      pipeline.lpush(this.durations(tenantId), durationMs.toFixed(2));
      pipeline.ltrim(this.durations(tenantId), 0, DURATIONS_KEPT - 1);
    }
    await pipeline.exec();
  }

  /** The last 60 seconds (this minute's bucket and the previous one, weighted by the part still inside the window). */
  async figures(tenantId: string, now = Date.now()): Promise<FeedFigures> {
    const minute = Math.floor(now / 60_000);
    const [current, previous, durations] = await Promise.all([
      this.redis.hgetall(this.bucket(tenantId, minute)),
      this.redis.hgetall(this.bucket(tenantId, minute - 1)),
      this.redis.lrange(this.durations(tenantId), 0, DURATIONS_KEPT - 1),
    ]);
    const share = 1 - (now % 60_000) / 60_000;
    const last = (counter: FeedCounter) => Math.round(Number(current[counter] ?? 0) + share * Number(previous[counter] ?? 0));
    const sorted = durations.map(Number).sort((a, b) => a - b);
    return {
      recomputesLastMinute: last('recomputes'),
      medianRecomputeMs: sorted.length === 0 ? null : (sorted[Math.floor((sorted.length - 1) / 2)] ?? null),
      pushesLastMinute: last('pushes'),
      heldByQuietHoursLastMinute: last('held_quiet'),
      heldByBudgetLastMinute: last('held_budget'),
    };
  }
}
