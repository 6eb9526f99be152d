import type { Sql } from '../../shared/db/client.js';
import { errorFields, type Logger } from '../../shared/logger.js';
import { scheduleAtRiskChecks } from '../../shared/queues/at-risk.js';
import { deliverUpdates } from '../../shared/queues/deliveries.js';
import type { JobQueues } from '../../shared/queues/producer.js';
import type { RulesCache } from '../../shared/repositories/engine-rules.js';
import type { Leaderboards } from '../../shared/repositories/leaderboards.js';
import { GroupCommit } from '../../shared/runtime/group-commit.js';
import { applyEvents, type AppliedJob, type EngagementJob } from '../engine/apply-batch.js';
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

/**
 * Applies ingested events. Jobs that arrive while a commit is in flight are applied together in
 * the next one (group commit: under load the round trips of a transaction are shared by many
 * events; a lone event still goes at once). After the commit, the updates are handed to the hubs
 * for live delivery and the leaderboards get their new scores; if that hand-off fails, the stored
 * updates still reach the clients through `sync` and the leaderboards are rebuilt from Postgres.
 */
export function createEngagementHandler(deps: EngagementDeps): JobHandler<'engagement.event'> {
  const commits = new GroupCommit<EngagementJob, Committed>({
    commit: async (jobs) => {
      const tenants = [...new Set(jobs.map((job) => job.tenantId))];
      const rules = new Map(await Promise.all(tenants.map(async (tenantId) => [tenantId, (await deps.rules.get(tenantId)).rules] as const)));
      const results = await applyEvents(deps.sql, jobs, rules, new Date());
      // The next commit need not wait for this hand-off; the jobs do (they complete once it is done).
      // Committed is done: a failed hand-off must not fail the jobs (a retry would find them applied and hand off nothing).
      const handedOff = handOff(deps, jobs, results).catch((error: unknown) => {
        deps.logger.warn('hand-off after the engine commit failed; clients catch up through sync', { events: jobs.length, ...errorFields(error) });
      });
      return results.map((result) => ({ result, handedOff }));
    },
    maxSize: MAX_EVENTS_PER_COMMIT,
    maxInFlight: 2,
    onBatchFailure: (error, events) => deps.logger.warn('engine batch failed; applying its events one by one', { events, ...errorFields(error) }),
  });
  return {
    name: 'engagement.event',
    async handle(job) {
      const { result, handedOff } = await commits.submit(job);
      await handedOff;
      return { updates: result?.updates.length ?? 0 };
    },
  };
}

interface Committed {
  result: AppliedJob | null;
  handedOff: Promise<void>;
}

/**
 * After the commit, for the whole batch at once and side by side: live delivery, leaderboard
 * scores, at-risk checks (a few round trips, not a few per event).
 */
async function handOff(deps: EngagementDeps, jobs: readonly EngagementJob[], results: readonly (AppliedJob | null)[]): Promise<void> {
  const applied = jobs.flatMap((job, i) => {
    const result = results[i];
    return result ? [{ ...job, ...result }] : [];
  });
  if (applied.length === 0) return;
  await Promise.all([
    deliverUpdates(
      deps.queues,
      applied.map(({ tenantId, userId, updates }) => ({ tenantId, userId, updates })),
    ),
    deps.leaderboards.setScores(applied.flatMap((entry) => entry.leaderboard)),
    scheduleAtRiskChecks(
      deps.queues,
      applied.map(({ tenantId, userId, atRisk }) => ({ tenantId, userId, checks: atRisk })),
    ),
  ]);
}
