import type { Sql } from '../../repositories/db/client.js';
import { errorFields, type Logger } from '../../platform/logger.js';
import { AtRiskScheduler } from '../../services/at-risk-checks.js';
import { deliverUpdates } from '../../services/deliveries.js';
import { requestFeedRecomputes } from '../../services/feed-schedule.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import type { Leaderboards } from '../../repositories/leaderboards.js';
import { GroupCommit } from '../../platform/group-commit.js';
import { applyEvents, type AppliedJob, type EngagementJob } from '../../services/engine/apply-batch.js';
import type { JobHandler } from '../registry.js';

export interface EngagementDeps {
  sql: Sql;
  queues: JobQueues;
  rules: RulesCache;
  leaderboards: Leaderboards;
  logger: Logger;
}

/** Events applied per transaction at most; the worker's concurrency bounds it too. */
const MAX_EVENTS_PER_COMMIT = 64;

export interface EngagementHandler extends JobHandler<'engagement.event'> {
  /** Resolves once every hand-off started so far is done: shutdown waits for it after the workers stop. */
  settled(): Promise<void>;
}

/**
 * Applies ingested events. Jobs that arrive while a commit is in flight are applied together in
 * the next one (group commit: under load the round trips of a transaction are shared by many
 * events; a lone event still goes at once). After the commit, the updates are handed to the hubs
 * for live delivery and the leaderboards get their new scores; if that hand-off fails (or the
 * process dies first), the updates' pending pushes are pushed by the reconciler, and the
 * leaderboards are rebuilt from Postgres.
 */
export function createEngagementHandler(deps: EngagementDeps): EngagementHandler {
  const handOffs = new Set<Promise<void>>();
  const atRiskScheduler = new AtRiskScheduler(deps.queues);
  const commits = new GroupCommit<EngagementJob, AppliedJob | null>({
    commit: async (jobs) => {
      const tenants = [...new Set(jobs.map((job) => job.tenantId))];
      const rules = new Map(await Promise.all(tenants.map(async (tenantId) => [tenantId, (await deps.rules.get(tenantId)).rules] as const)));
      const results = await applyEvents(deps.sql, jobs, rules, new Date());
      // The jobs are done once committed: the hand-off is best effort (a retry would find the events applied and hand
      // off nothing), so neither the next commit nor the jobs' slots wait for it (bench:engine, one run against three:
      // 718 pushes/s at 1,000/s offered instead of 638-658, drain 1,401/s instead of 1,270-1,336). Shutdown waits for it.
      const handedOff = handOff(deps, atRiskScheduler, jobs, results)
        .catch((error: unknown) => {
          deps.logger.warn('hand-off after the engine commit failed; clients catch up through sync', { events: jobs.length, ...errorFields(error) });
        })
        .finally(() => handOffs.delete(handedOff));
      handOffs.add(handedOff);
      return results;
    },
    maxSize: MAX_EVENTS_PER_COMMIT,
    maxInFlight: 2,
    onBatchFailure: (error, events) => deps.logger.warn('engine batch failed; applying its events one by one', { events, ...errorFields(error) }),
  });
  return {
    name: 'engagement.event',
    async handle(job) {
      const result = await commits.submit(job);
      return { updates: result?.updates.length ?? 0 };
    },
    async settled() {
      await Promise.all([...handOffs]);
    },
  };
}

/**
 * After the commit, for the whole batch at once and side by side: live delivery, leaderboard
 * scores, at-risk checks, feed recomputations (a few round trips, not a few per event).
 */
async function handOff(deps: EngagementDeps, atRiskScheduler: AtRiskScheduler, jobs: readonly EngagementJob[], results: readonly (AppliedJob | null)[]): Promise<void> {
  const applied = jobs.flatMap((job, i) => {
    const result = results[i];
    return result ? [{ ...job, ...result }] : [];
  });
  if (applied.length === 0) return;
  await Promise.all([
    deliverUpdates(
      deps,
      applied.map(({ tenantId, userId, updates }) => ({ tenantId, userId, updates })),
    ),
    deps.leaderboards.setScores(applied.flatMap((entry) => entry.leaderboard)),
    atRiskScheduler.schedule(
      applied.map(({ tenantId, userId, atRisk }) => ({ tenantId, userId, checks: atRisk })),
    ),
    requestFeedRecomputes(
      deps.queues,
      applied.flatMap(({ tenantId, userId, feedRecomputeAfterMs }) => (feedRecomputeAfterMs === undefined ? [] : [{ tenantId, userId, reason: 'activity' as const, delayMs: feedRecomputeAfterMs }])),
    ),
  ]);
}
