import type { JobsOptions } from 'bullmq';
import type { CircuitState } from '../../contracts/api/connections.js';
import { jobDefinitions, syncJobName, syncQueueName, syncQueueNames } from '../../contracts/queues.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import type { ConnectionRow } from '../../repositories/connections.js';
import type { SyncTelemetry } from '../../repositories/sync-telemetry.js';

/** What a connection's view shows beyond its row: its provider's circuit and its next scheduled run. */
export interface SyncLiveState {
  circuit: CircuitState;
  nextRunAt: Date | null;
}

/** A failed sync is retried with exponential backoff and jitter; a throttled or busy one uses no attempt. */
const syncJobOptions: JobsOptions = { attempts: 5, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 } };

const schedulerId = (connectionId: string) => `sync:${connectionId}`;

type ScheduledRow = Pick<ConnectionRow, 'id' | 'tenantId' | 'provider' | 'status' | 'scheduleMinutes'>;

/**
 * A connection's syncs in BullMQ: a job scheduler per active connection with a schedule (in its
 * provider's queue), and manual runs deduplicated per connection, so one is queued at most while
 * another may run (the run itself takes the connection's lease: one at a time).
 */
export class SyncScheduler {
  constructor(
    private readonly queues: JobQueues,
    private readonly telemetry: SyncTelemetry,
  ) {}

  /** Creates, moves or removes the connection's scheduler to match its row (idempotent). */
  async reschedule(row: ScheduledRow): Promise<void> {
    const queue = this.queues.get(syncQueueName(row.provider));
    if (row.status !== 'active' || row.scheduleMinutes === null) {
      await queue.removeJobScheduler(schedulerId(row.id));
      return;
    }
    const name = syncJobName(row.provider);
    await queue.upsertJobScheduler(
      schedulerId(row.id),
      { every: row.scheduleMinutes * 60_000 },
      { name, data: jobDefinitions[name].payload.parse({ connectionId: row.id, tenantId: row.tenantId, reason: 'scheduled' }), opts: syncJobOptions },
    );
  }

  /** Removes a deleted connection's scheduler (a job already queued finds no connection and ends). */
  async unschedule(row: Pick<ConnectionRow, 'id' | 'provider'>): Promise<void> {
    await this.queues.get(syncQueueName(row.provider)).removeJobScheduler(schedulerId(row.id));
  }

  /**
   * Brings every scheduler in step with the stored connections (at worker start: a change made
   * while Redis was away, or a connection deleted meanwhile, is caught up).
   */
  async reconcile(rows: ScheduledRow[]): Promise<void> {
    for (const row of rows) await this.reschedule(row);
    const wanted = new Set(rows.filter((row) => row.status === 'active' && row.scheduleMinutes !== null).map((row) => schedulerId(row.id)));
    for (const queueName of syncQueueNames) {
      const queue = this.queues.get(queueName);
      for (const scheduler of await queue.getJobSchedulers()) {
        if (scheduler.key.startsWith('sync:') && !wanted.has(scheduler.key)) await queue.removeJobScheduler(scheduler.key);
      }
    }
  }

  /** Queues a sync now. A second request while one is still waiting is the same job. */
  async trigger(row: ScheduledRow): Promise<string> {
    const job = await this.queues.enqueue(
      syncJobName(row.provider),
      { connectionId: row.id, tenantId: row.tenantId, reason: 'manual' },
      { ...syncJobOptions, deduplication: { id: `sync:${row.id}:manual` } },
    );
    return job.id ?? schedulerId(row.id);
  }

  async live(rows: ScheduledRow[]): Promise<Map<string, SyncLiveState>> {
    const circuits = await this.telemetry.circuits();
    const entries = await Promise.all(
      rows.map(async (row) => {
        const scheduler = row.scheduleMinutes === null ? undefined : await this.queues.get(syncQueueName(row.provider)).getJobScheduler(schedulerId(row.id));
        const next = scheduler?.next;
        return [row.id, { circuit: circuits[row.provider], nextRunAt: typeof next === 'number' ? new Date(next) : null }] as const;
      }),
    );
    return new Map(entries);
  }
}
