import type postgres from 'postgres';
import { RulesCache } from '../../src/repositories/engine-rules.js';
import { FeedStore } from '../../src/repositories/feeds.js';
import { FeedRecomputer, type FeedRecomputeResult } from '../../src/services/feed-recompute.js';
import type { LatencySummary } from './ms-histogram.js';

/**
 * Recompute time per user, measured on the recomputation itself: FeedRecomputer.recompute (what
 * the worker's `feed.recompute` handler runs) called in this process against the hub's Postgres
 * for a sample of users, as many at once as the `feeds` queue runs, with each FeedStore call timed
 * on the way, so the table says which statement the time goes to. The one place a bench calls
 * services directly: the per-user figure is the service's, without the queue around it.
 */

/** A latency spread, as the other benches report theirs. */
export type Spread = LatencySummary;

export interface StepFigures {
  step: string;
  calls: number;
  meanMs: number;
  p99Ms: number;
  /** Of the summed recompute time. */
  share: number;
}

export interface RecomputePassFigures {
  label: string;
  users: number;
  concurrency: number;
  wallMs: number;
  usersPerSecond: number;
  /** FeedRecomputeResult.durationMs: what the worker records and the dashboard shows. */
  recomputeMs: Spread;
  steps: StepFigures[];
  announcements: Record<string, number>;
  meanEntries: number;
}

/** Percentiles by nearest rank over exact values (sub-millisecond resolution matters here). */
export function spreadOf(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (fraction: number) => sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN, mean: sorted.reduce((sum, value) => sum + value, 0) / Math.max(sorted.length, 1) };
}

/** The store with every method's time recorded under its name (the statements of one recompute). */
function timedStore(store: FeedStore, times: Map<string, number[]>): FeedStore {
  return new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function' || typeof name !== 'string') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        const started = performance.now();
        try {
          return await method.apply(target, args);
        } finally {
          const list = times.get(name) ?? [];
          list.push(performance.now() - started);
          times.set(name, list);
        }
      };
    },
  });
}

/** Runs `work` over `items`, `concurrency` at a time. */
export async function eachConcurrently<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

export class RecomputeSampler {
  private readonly rules: RulesCache;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly tenantId: string,
  ) {
    this.rules = new RulesCache(sql);
  }

  /** One recompute of each user, `concurrency` at a time. */
  async pass(label: string, userIds: readonly string[], concurrency: number): Promise<RecomputePassFigures> {
    const times = new Map<string, number[]>();
    const recomputer = new FeedRecomputer({ sql: this.sql, store: timedStore(new FeedStore(this.sql), times), rules: this.rules });
    const results: FeedRecomputeResult[] = [];
    const started = performance.now();
    await eachConcurrently(userIds, concurrency, async (userId) => {
      const result = await recomputer.recompute(this.tenantId, userId);
      if (!result) throw new Error(`user ${userId} was not recomputed (not found in tenant ${this.tenantId})`);
      results.push(result);
    });
    const wallMs = performance.now() - started;
    const durations = results.map((result) => result.durationMs);
    const total = durations.reduce((sum, value) => sum + value, 0);
    const measured = [...times].map(([step, list]): StepFigures => {
      const spread = spreadOf(list);
      return { step, calls: list.length, meanMs: spread.mean, p99Ms: spread.p99, share: (spread.mean * list.length) / total };
    });
    const inStore = measured.reduce((sum, step) => sum + step.meanMs * step.calls, 0);
    const announcements: Record<string, number> = {};
    for (const result of results) announcements[result.announcement.kind] = (announcements[result.announcement.kind] ?? 0) + 1;
    return {
      label,
      users: results.length,
      concurrency,
      wallMs,
      usersPerSecond: (results.length * 1000) / wallMs,
      recomputeMs: spreadOf(durations),
      steps: [
        ...measured.sort((a, b) => b.share - a.share),
        // Ranking, explanations, the user lock and the update append, and waiting for this process's event loop.
        { step: '(outside the store)', calls: results.length, meanMs: (total - inStore) / results.length, p99Ms: Number.NaN, share: (total - inStore) / total },
      ],
      announcements,
      meanEntries: results.reduce((sum, result) => sum + result.entries, 0) / Math.max(results.length, 1),
    };
  }
}
