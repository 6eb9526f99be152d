import type { Redis } from 'ioredis';
import type { Config } from '../platform/config.js';
import type { Sql } from '../repositories/db/client.js';
import type { SqlPick } from '../repositories/db/rows.js';
import type { streaks as streaksTable, users as usersTable } from '../repositories/db/schema.js';
import { errorFields, type Logger } from '../platform/logger.js';
import { checkAfter, scheduleAtRiskChecks } from '../services/at-risk-checks.js';
import type { JobQueues } from '../platform/queues/producer.js';
import type { RulesCache } from '../repositories/engine-rules.js';
import { enqueueOutboxRows, OUTBOX_JOB_COLUMNS, type OutboxRow } from './outbox-jobs.js';
import { takeOverduePushes } from '../repositories/user-updates.js';
import { applySchedules } from './schedules.js';
import { requeuedCounterKey } from '../platform/queues/reconciliation.js';

/** Rows handled per statement: bounded work per pass, whatever the backlog. */
const PAGE = 500;

/** Present while Redis keeps what workers put in it; gone after a flush or a restart without persistence. */
const sentinelKey = (redisPrefix: string) => `${redisPrefix}:sentinel`;

export interface ReconcilerDeps {
  sql: Sql;
  redis: Redis;
  queues: JobQueues;
  rules: RulesCache;
  logger: Logger;
  config: Pick<Config, 'REDIS_PREFIX' | 'BACKUP_CRON' | 'MISSION_SWEEP_MINUTES' | 'OUTBOX_REDELIVER_AFTER_SECONDS' | 'PUSH_REDELIVER_AFTER_SECONDS' | 'RECONCILE_INTERVAL_MS'>;
}

/**
 * Makes "accepted means applied, stored means pushed" hold whatever Redis does. Postgres is the
 * record; each pass compares it with Redis and hands over again what Redis lost:
 * - outbox rows relayed long ago whose job Redis no longer has (the engine is exactly-once by
 *   marker, so handing over an event twice changes nothing);
 * - pending pushes never confirmed (a worker died between commit and hand-off);
 * - after Redis lost its data (the sentinel key is gone): the job schedulers and the at-risk
 *   checks of live streaks.
 * Every worker process runs one; rows are claimed with SKIP LOCKED and everything is idempotent.
 * Each pass is a few indexed queries that find nothing when nothing is missing.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: ReconcilerDeps) {}

  async start(): Promise<void> {
    await this.markRedisIntact();
    this.timer = setInterval(() => {
      this.running ??= this.pass()
        .catch((error: unknown) => void this.deps.logger.warn('reconciliation pass failed; retrying next pass', errorFields(error)))
        .finally(() => (this.running = undefined));
    }, this.deps.config.RECONCILE_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async pass(): Promise<void> {
    await this.restoreIfRedisLostData();
    while ((await this.pushOverdue()) === PAGE);
    while ((await this.requeueLostEvents()) === PAGE);
  }

  private async markRedisIntact(): Promise<void> {
    await this.deps.redis.set(sentinelKey(this.deps.config.REDIS_PREFIX), new Date().toISOString());
  }

  private async restoreIfRedisLostData(): Promise<void> {
    if ((await this.deps.redis.exists(sentinelKey(this.deps.config.REDIS_PREFIX))) === 1) return;
    this.deps.logger.warn('Redis lost its data: restoring job schedulers and at-risk checks (lost events and pushes are handed over again)');
    await applySchedules(this.deps.queues, this.deps.config);
    const restored = await this.restoreAtRiskChecks();
    await this.markRedisIntact();
    this.deps.logger.info('job schedulers and at-risk checks restored', { atRiskChecks: restored });
  }

  /** Schedules again the next check of every live streak (job ids make existing ones stay as they are). */
  private async restoreAtRiskChecks(): Promise<number> {
    let after = { userId: '00000000-0000-0000-0000-000000000000', key: '' };
    let scheduled = 0;
    for (;;) {
      const rows = await this.deps.sql<(SqlPick<typeof streaksTable, 'user_id' | 'streak_key' | 'last_day'> & SqlPick<typeof usersTable, 'tenant_id' | 'timezone'>)[]>`
        select s.user_id, u.tenant_id, s.streak_key, s.last_day, u.timezone from streaks s join users u on u.id = s.user_id
        where s.current > 0 and s.last_day >= current_date - 2 and (s.user_id, s.streak_key) > (${after.userId}::uuid, ${after.key})
        order by s.user_id, s.streak_key limit ${PAGE}`;
      const users = await Promise.all(
        rows.map(async (row) => {
          const { rules } = await this.deps.rules.get(row.tenant_id);
          return { tenantId: row.tenant_id, userId: row.user_id, checks: [checkAfter(row.streak_key, row.last_day, row.timezone, rules.atRiskHour)] };
        }),
      );
      await scheduleAtRiskChecks(this.deps.queues, users);
      scheduled += users.length;
      const last = rows.at(-1);
      if (!last || rows.length < PAGE) return scheduled;
      after = { userId: last.user_id, key: last.streak_key };
    }
  }

  /** Pushes stored updates whose hand-off was never confirmed; answers how many users it took. */
  private async pushOverdue(): Promise<number> {
    return this.deps.sql.begin(async (tx) => {
      const deliveries = await takeOverduePushes(tx, this.deps.config.PUSH_REDELIVER_AFTER_SECONDS, PAGE);
      if (deliveries.length === 0) return 0;
      await this.deps.queues.enqueue('realtime.deliver', { deliveries }, { removeOnComplete: true });
      this.deps.logger.warn('pushed stored updates whose hand-off was never confirmed', { users: deliveries.length });
      return deliveries.length;
    });
  }

  /** Hands over again events relayed long ago whose job Redis no longer holds; answers how many rows it looked at. */
  private async requeueLostEvents(): Promise<number> {
    return this.deps.sql.begin(async (tx) => {
      const rows = await tx<OutboxRow[]>`
        update outbox set relayed_at = now() where ctid = any(array(
          select ctid from outbox where relayed_at < now() - make_interval(secs => ${this.deps.config.OUTBOX_REDELIVER_AFTER_SECONDS})
          order by relayed_at limit ${PAGE} for update skip locked))
        returning ${tx(OUTBOX_JOB_COLUMNS)}`;
      if (rows.length === 0) return 0;
      const engagement = this.deps.queues.get('engagement');
      // A signal reading's row is asked for again as it is: its fusion job is deduplicated per signal, so a
      // fusion still queued absorbs it, and one that ran meanwhile took the row (this one committed later).
      const states = await Promise.all(rows.map((row) => (row.kind === 'event' ? engagement.getJobState(row.event_id) : Promise.resolve('unknown'))));
      // Waiting in a long queue, being applied, or failed (kept for an operator to retry): Redis still has them.
      const lost = rows.filter((_, i) => states[i] === 'unknown');
      if (lost.length > 0) {
        await enqueueOutboxRows(this.deps.queues, lost);
        await this.deps.redis.incrby(requeuedCounterKey(this.deps.config.REDIS_PREFIX), lost.length);
        this.deps.logger.warn('handed over again accepted events whose jobs Redis lost', { events: lost.length });
      }
      return rows.length;
    });
  }
}
