import { setTimeout as sleep } from 'node:timers/promises';
import { fusionRuleFor, type EngineRules } from '../../contracts/api/rules.js';
import type { JobPayload } from '../../contracts/queues.js';
import { GroupCommit, ItemFailure } from '../../platform/group-commit.js';
import { errorFields, type Logger } from '../../platform/logger.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import type { Sql } from '../../repositories/db/client.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import { lastFusedAt } from '../../repositories/signals.js';
import { deliverUpdates } from '../../services/deliveries.js';
import { fuseSignal, fuseTenantSignals, type BatchFusion } from '../../services/signal-fusion.js';
import type { JobHandler } from '../registry.js';

export interface SignalFuseDeps {
  sql: Sql;
  queues: JobQueues;
  rules: RulesCache;
  logger: Logger;
  /** At most one fused result per signal per this many milliseconds. */
  minIntervalMs: number;
  /** Told the size of every batch of tenant-wide signals fused together (for tests and metrics). */
  onBatch?: (signals: number) => void;
}

/** Tenant-wide signals fused per transaction at most; the worker's concurrency bounds it too. */
const MAX_SIGNALS_PER_COMMIT = 64;

type FuseJob = JobPayload<'signals.fuse'>;

/**
 * Fuses signals. Jobs are deduplicated per signal (one waiting, one running: see the relay), so
 * a burst of readings costs a computation per interval, and a reading that arrives while a fusion
 * runs gets one more after it. That one waits out the rest of the interval since the stored
 * result, whichever worker process made it, so the interval holds across processes.
 *
 * Tenant-wide signals are fused by group commit: the jobs that arrive while a batch is in flight
 * are fused together in the next one, a constant number of statements whatever its size (see
 * `fuseTenantSignals`), and their results go to the hubs in one `addBulk`. The interval is checked
 * in the batch's first statement: a signal fused too recently is left untouched and its job
 * submits it again once the rest of the interval has passed. A user's signal is fused on its own,
 * through the user's lock (it becomes a per-user update with its seq).
 */
export function createSignalFuseHandler(deps: SignalFuseDeps): JobHandler<'signals.fuse'> {
  const commits = new GroupCommit<FuseJob, BatchFusion>({
    commit: async (jobs) => {
      deps.onBatch?.(jobs.length);
      const tenants = [...new Set(jobs.map((job) => job.tenantId))];
      const rules = new Map(await Promise.all(tenants.map(async (tenantId) => [tenantId, (await deps.rules.get(tenantId)).rules] as const)));
      const signals = jobs.map((job) => ({ tenantId: job.tenantId, key: job.key, rule: fusionRuleFor(rules.get(job.tenantId) as EngineRules, job.key) }));
      const outcomes = await fuseTenantSignals(deps.sql, signals, new Date(), deps.minIntervalMs);
      const pushes = outcomes.flatMap((outcome, i) =>
        'signal' in outcome && outcome.signal ? [{ payload: { tenantId: (jobs[i] as FuseJob).tenantId, signal: outcome.signal }, options: { removeOnComplete: true } }] : [],
      );
      if (pushes.length === 0) return outcomes;
      try {
        await deps.queues.enqueueMany('realtime.signal', pushes);
        return outcomes;
      } catch (error) {
        // Stored but not pushed: those jobs fail and are retried, and their retry fuses and pushes again after the interval.
        deps.logger.warn('pushing fused signals failed', { signals: pushes.length, ...errorFields(error) });
        return outcomes.map((outcome) => ('signal' in outcome && outcome.signal ? new ItemFailure(error) : outcome));
      }
    },
    maxSize: MAX_SIGNALS_PER_COMMIT,
    maxInFlight: 2,
    groupOf: (job) => job.tenantId,
    onBatchFailure: (error, signals) => deps.logger.warn('signal fusion batch failed; fusing its signals in halves', { signals, ...errorFields(error) }),
  });

  return {
    name: 'signals.fuse',
    async handle(scope) {
      if (scope.userId !== null) return fuseUserSignal(deps, { ...scope, userId: scope.userId });
      for (;;) {
        const outcome = await commits.submit(scope);
        if ('waitMs' in outcome) {
          await sleep(outcome.waitMs);
          continue;
        }
        return outcome.signal ? { fused: true, value: outcome.signal.value } : { fused: false };
      }
    },
  };
}

/** A user's signal, on its own: waits out the rest of the interval since its stored result, then fuses it under the user's lock. */
async function fuseUserSignal(deps: SignalFuseDeps, scope: FuseJob & { userId: string }) {
  const last = await lastFusedAt(deps.sql, scope);
  const wait = last === undefined ? 0 : last.getTime() + deps.minIntervalMs - Date.now();
  if (wait > 0) await sleep(wait);
  const { rules } = await deps.rules.get(scope.tenantId);
  const { signal, updates } = await fuseSignal(deps.sql, scope, fusionRuleFor(rules, scope.key), new Date());
  if (!signal) return { fused: false };
  await deliverUpdates(deps, [{ tenantId: scope.tenantId, userId: scope.userId, updates }]);
  return { fused: true, value: signal.value };
}
