import type { Config } from '../platform/config.js';
import type { JobQueues } from '../platform/queues/producer.js';

const BACKUP_SCHEDULER_ID = 'db.backup:scheduled';
const PRUNE_SCHEDULER_ID = 'user-updates.prune:daily';
const MISSION_SWEEP_SCHEDULER_ID = 'missions.sweep:every';
const SIGNALS_PRUNE_SCHEDULER_ID = 'signals.prune:hourly';
const FEED_SWEEP_SCHEDULER_ID = 'feed.sweep:every';
/** Recently active users' feeds are recomputed this often (recency ages; a lost hand-off is caught up). */
const FEED_SWEEP_MINUTES = 15;

/** Idempotent: every worker process upserts the same schedulers, so the latest config wins. */
export async function applySchedules(queues: JobQueues, config: Pick<Config, 'BACKUP_CRON' | 'MISSION_SWEEP_MINUTES'>): Promise<void> {
  const maintenance = queues.get('maintenance');
  await maintenance.upsertJobScheduler(PRUNE_SCHEDULER_ID, { pattern: '17 4 * * *', tz: 'UTC' }, { name: 'user-updates.prune', data: {} });
  await maintenance.upsertJobScheduler(SIGNALS_PRUNE_SCHEDULER_ID, { pattern: '41 * * * *', tz: 'UTC' }, { name: 'signals.prune', data: {} });
  await queues.get('feeds').upsertJobScheduler(FEED_SWEEP_SCHEDULER_ID, { every: FEED_SWEEP_MINUTES * 60_000 }, { name: 'feed.sweep', data: {} });
  await maintenance.upsertJobScheduler(MISSION_SWEEP_SCHEDULER_ID, { every: config.MISSION_SWEEP_MINUTES * 60_000 }, { name: 'missions.sweep', data: {} });
  if (config.BACKUP_CRON === 'off') {
    await maintenance.removeJobScheduler(BACKUP_SCHEDULER_ID);
    return;
  }
  await maintenance.upsertJobScheduler(
    BACKUP_SCHEDULER_ID,
    { pattern: config.BACKUP_CRON, tz: 'UTC' },
    { name: 'db.backup', data: { reason: 'scheduled' } },
  );
}

/** When the scheduled backup runs next; null when BACKUP_CRON is off. */
export async function nextBackupRun(queues: JobQueues): Promise<Date | null> {
  const scheduler = await queues.get('maintenance').getJobScheduler(BACKUP_SCHEDULER_ID);
  return scheduler?.next ? new Date(scheduler.next) : null;
}
