import type { AppContext } from './context.js';
import { RulesCache } from '../repositories/engine-rules.js';
import { Leaderboards } from '../repositories/leaderboards.js';
import { OutboxRelay } from '../workers/outbox-relay.js';
import { Reconciler } from '../workers/reconciler.js';
import { createBackupHandler, createBackupVerifyHandler } from '../workers/processors/db-backup.js';
import { createEngagementHandler } from '../workers/processors/engagement-event.js';
import { createMissionSweepHandler } from '../workers/processors/missions-sweep.js';
import { createStreakAtRiskHandler } from '../workers/processors/streak-at-risk.js';
import { createRetentionHandler } from '../workers/processors/retention.js';
import { createSignalFuseHandler } from '../workers/processors/signals-fuse.js';
import { createConnectionSyncHandlers } from '../workers/processors/connection-sync.js';
import { createFeedItemsHandler, createFeedRecomputeHandler, createFeedSweepHandler } from '../workers/processors/feeds.js';
import { FeedRecomputer } from '../services/feed-recompute.js';
import { FeedStore } from '../repositories/feeds.js';
import { FeedTelemetry } from '../repositories/feed-telemetry.js';
import { createSyncRunner } from './sync-engine.js';
import { buildHandlerRegistry } from '../platform/queues/registry.js';
import { applySchedules, nextBackupRun } from '../workers/schedules.js';
import { PublishedBackupStatusStore } from '../services/backup-status-events.js';
import { backupSettingsFrom } from '../services/backups/settings.js';
import { consumedJobNames, startWorkerPool, type WorkerPool } from '../platform/queues/worker-pool.js';

/** Time kept back from the shutdown budget for closing queues and pools after the workers drain. */
const CLOSE_RESERVE_MS = 2_000;

/** The worker role: one BullMQ worker per queue, dispatching each job to its registered handler. */
export async function startWorkerRole(context: AppContext): Promise<WorkerPool> {
  const { config, logger, lifecycle } = context;
  const rules = new RulesCache(context.database.sql);
  const engagement = createEngagementHandler({
    sql: context.database.sql,
    queues: context.queues,
    rules,
    leaderboards: new Leaderboards(context.redis, config.REDIS_PREFIX),
    logger,
  });
  const syncs = await createSyncRunner(context);
  const feeds = {
    sql: context.database.sql,
    queues: context.queues,
    rules,
    recomputer: new FeedRecomputer({ sql: context.database.sql, store: new FeedStore(context.database.sql), rules }),
    telemetry: new FeedTelemetry(context.redis, config.REDIS_PREFIX),
    logger,
  };
  const backups = new PublishedBackupStatusStore(context.redis, config.REDIS_PREFIX, context.queues, logger);
  const backupSettings = backupSettingsFrom(config, context.databaseUrl);
  const registry = buildHandlerRegistry([
    createBackupHandler({ settings: backupSettings, sql: context.database.sql, status: backups, nextRun: () => nextBackupRun(context.queues) }),
    createBackupVerifyHandler({ settings: backupSettings }),
    engagement,
    createStreakAtRiskHandler({ sql: context.database.sql, queues: context.queues }),
    createMissionSweepHandler({ sql: context.database.sql, queues: context.queues, rules }),
    createRetentionHandler('user-updates.prune', { sql: context.database.sql, retentionDays: config.USER_UPDATES_RETENTION_DAYS }),
    createSignalFuseHandler({ sql: context.database.sql, queues: context.queues, rules, logger, minIntervalMs: config.FUSION_MIN_INTERVAL_MS }),
    createRetentionHandler('signals.prune', { sql: context.database.sql, retentionDays: config.SIGNAL_HISTORY_RETENTION_DAYS }),
    ...createConnectionSyncHandlers({ runner: syncs.runner, queues: context.queues }),
    createFeedRecomputeHandler(feeds),
    createFeedItemsHandler(feeds),
    createFeedSweepHandler(feeds),
  ], consumedJobNames('worker'));
  // Registered before the pool so it runs after the workers stopped: the last batches' hand-offs finish before Redis closes.
  lifecycle.defer('engine hand-offs', () => engagement.settled());
  const pool = startWorkerPool({ role: 'worker', redisUrl: context.redisUrl, prefix: context.queues.prefix, registry, logger });
  lifecycle.defer('workers', (remainingMs) => pool.close(Math.max(remainingMs - CLOSE_RESERVE_MS, 0)));
  await applySchedules(context.queues, config);
  await backups.update({ nextRunAt: (await nextBackupRun(context.queues))?.toISOString() ?? null });
  await syncs.reconcileSchedules();
  const relay = new OutboxRelay({ sql: context.database.sql, queues: context.queues, logger });
  await relay.start();
  // Registered after the pool so it stops first: no new jobs are enqueued while workers drain.
  lifecycle.defer('outbox relay', () => relay.stop());
  const reconciler = new Reconciler({ sql: context.database.sql, redis: context.redis, queues: context.queues, rules, logger, config });
  await reconciler.start();
  lifecycle.defer('reconciler', () => reconciler.stop());
  logger.info('workers started', { queues: pool.workers.map((worker) => worker.name) });
  return pool;
}
