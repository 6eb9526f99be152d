import { setTimeout as sleep } from 'node:timers/promises';
import type { Sql } from '../repositories/db/client.js';
import { errorFields, type Logger } from '../platform/logger.js';
import type { JobQueues } from '../platform/queues/producer.js';
import { enqueueOutboxRows, OUTBOX_JOB_COLUMNS, type OutboxRow } from './outbox-jobs.js';
import { sqlColumns, type SqlPick } from '../repositories/db/rows.js';
import { outbox } from '../repositories/db/schema.js';

export interface OutboxRelayOptions {
  sql: Sql;
  queues: JobQueues;
  logger: Logger;
  batchSize?: number;
  /** Fallback poll for notifications lost while the LISTEN connection was down. */
  pollIntervalMs?: number;
  /**
   * After relaying a partial batch, wait this long before the next one, so that under load the
   * relay moves a few large batches instead of one tiny batch per ingest commit.
   */
  coalesceMs?: number;
}

/** Notified by the outbox insert trigger (migration 0002) once per inserting statement. */
const OUTBOX_CHANNEL = 'pulse_outbox';
const MAX_BACKOFF_MS = 5_000;
/** What a relayed row answers: the job's columns and the id that orders the batch. */
const RELAYED_COLUMNS = sqlColumns(outbox, 'id', ...OUTBOX_JOB_COLUMNS);

/**
 * Hands outbox rows to the `engagement` queue. Rows are claimed with FOR UPDATE SKIP LOCKED, so
 * several relays (one per worker process) share the work, and stamped relayed by a transaction
 * that commits only after BullMQ accepted them. If Redis is down the transaction rolls back, the rows
 * stay, and the relay retries with backoff: ingestion keeps answering 202 and the backlog flows
 * once Redis is back. Job id = event id, so a retry after a crash between enqueue and commit adds nothing new.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly coalesceMs: number;
  private wakeUp: (() => void) | undefined;
  /** Set by every notification: one that arrives while a batch is relayed must not be slept through. */
  private notified = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.coalesceMs = options.coalesceMs ?? 20;
  }

  async start(): Promise<void> {
    const listener = await this.options.sql.listen(OUTBOX_CHANNEL, () => {
      this.notified = true;
      this.wakeUp?.();
    });
    this.unlisten = () => listener.unlisten();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
    await this.unlisten?.();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        this.notified = false;
        const moved = await this.relayBatch();
        if (failures > 0) this.options.logger.info('outbox relay recovered', { failures });
        failures = 0;
        if (moved === this.batchSize) continue;
        if (moved > 0) await sleep(this.coalesceMs);
        // Rows committed after this batch's snapshot notified while nobody waited: relay them now.
        else if (!this.notified) await this.idle(this.pollIntervalMs);
      } catch (error) {
        failures += 1;
        if (failures === 1) this.options.logger.warn('outbox relay cannot reach the queue; retrying', errorFields(error));
        await this.idle(Math.min(100 * 2 ** failures, MAX_BACKOFF_MS));
      }
    }
  }

  /** Sleeps until a notification, a stop, or the timeout, whichever comes first. */
  private async idle(ms: number): Promise<void> {
    // A stop that came while a batch was relayed has already called (an absent) wakeUp.
    if (this.stopped) return;
    const controller = new AbortController();
    const woken = new Promise<void>((resolve) => (this.wakeUp = resolve));
    await Promise.race([woken, sleep(ms, undefined, { signal: controller.signal }).catch(() => undefined)]);
    controller.abort();
    this.wakeUp = undefined;
  }

  /** Relays one batch; resolves to the number of rows moved. */
  async relayBatch(): Promise<number> {
    return this.options.sql.begin(async (tx) => {
      // Claimed and stamped in one statement; the stamps go if the enqueue below fails and the transaction rolls back.
      // The rows themselves stay until the engine applies their events (it deletes them with the processed marker), so
      // a job that Redis loses is found again by the reconciler. The update goes by tuple id: by key, its plan read the
      // whole table, which grows with dead rows until vacuum (0.6 ms per batch on a 2.6 MB outbox, pg_stat_statements).
      const rows = (
        await tx<(OutboxRow & SqlPick<typeof outbox, 'id'>)[]>`
          update outbox set relayed_at = now() where ctid = any(array(
            select ctid from outbox where relayed_at is null order by id limit ${this.batchSize} for update skip locked))
          returning ${tx(RELAYED_COLUMNS)}`
      ).sort((a, b) => Number(a.id) - Number(b.id));
      if (rows.length === 0) return 0;
      await enqueueOutboxRows(this.options.queues, rows);
      return rows.length;
    });
  }
}
