import { setTimeout as sleep } from 'node:timers/promises';
import type { IngestResponse } from '../../src/contracts/api/events.js';

export interface PacedSenderOptions {
  /** Hubs to post to, read before each request (a test may swap a dead one out): batches go round-robin. */
  hubs: () => readonly string[];
  apiKey: string;
  /** External user ids; events go to them in turn. */
  users: readonly string[];
  batches: number;
  batchSize: number;
  /** A batch starts every this many ms (later if the previous one is still being retried). */
  intervalMs: number;
  /** Makes idempotency keys unique to the run: `${keyPrefix}-${batch}-${i}`. */
  keyPrefix: string;
  eventType?: string;
  /** A request that keeps failing is retried this long before the sender gives up (and the test fails). */
  retryForMs?: number;
}

export interface PacedSenderReport {
  /** Distinct event ids answered with 202. */
  accepted: Set<string>;
  requests: number;
  /** Attempts that failed (no connection, a reset, 5xx, 429) and were sent again with the same keys. */
  retries: number;
  /** Events a retry found already stored (the failed attempt had committed them). */
  duplicates: number;
  /** Idempotency keys answered with two different ids: must stay 0. */
  keyConflicts: number;
  failures: string[];
}

/**
 * Posts batches of events at a steady pace over REST, as a client SDK would: each event has an
 * idempotency key, and a request that fails (connection refused or reset, a 5xx, a 429) is sent
 * again, unchanged, to the next hub until it is answered with 202.
 */
export class PacedSender {
  readonly report: PacedSenderReport = { accepted: new Set(), requests: 0, retries: 0, duplicates: 0, keyConflicts: 0, failures: [] };
  private readonly idsByKey = new Map<string, string>();
  private stopped = false;
  private sent = 0;
  readonly done: Promise<PacedSenderReport>;

  constructor(private readonly options: PacedSenderOptions) {
    this.done = this.run();
  }

  /** Batches sent so far (answered with 202). */
  get batchesSent(): number {
    return this.sent;
  }

  /** Stops after the batch in flight (for a test that failed elsewhere). */
  stop(): void {
    this.stopped = true;
  }

  private async run(): Promise<PacedSenderReport> {
    const { batches, batchSize, intervalMs, users } = this.options;
    const started = Date.now();
    for (let batch = 0; batch < batches && !this.stopped; batch += 1) {
      const wait = started + batch * intervalMs - Date.now();
      if (wait > 0) await sleep(wait);
      const events = Array.from({ length: batchSize }, (_, i) => ({
        type: this.options.eventType ?? 'lesson.done',
        userId: users[(batch * batchSize + i) % users.length] as string,
        idempotencyKey: `${this.options.keyPrefix}-${batch}-${i}`,
      }));
      await this.post(batch, { events });
      this.sent += 1;
    }
    return this.report;
  }

  private async post(batch: number, body: { events: { idempotencyKey: string }[] }): Promise<void> {
    const deadline = Date.now() + (this.options.retryForMs ?? 30_000);
    for (let attempt = 0; ; attempt += 1) {
      const hubs = this.options.hubs();
      const hub = hubs[(batch + attempt) % hubs.length];
      this.report.requests += 1;
      let problem: string;
      try {
        const response = await fetch(`${hub}/api/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.options.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await response.text();
        if (response.status === 202) {
          this.record((JSON.parse(text) as IngestResponse).accepted);
          return;
        }
        problem = `${hub} answered ${response.status}: ${text.slice(0, 200)}`;
        // Anything but an outage or a limit is the test's own mistake: retrying would not help.
        if (response.status < 500 && response.status !== 429) {
          this.report.failures.push(problem);
          return;
        }
      } catch (error) {
        const cause = (error as Error).cause;
        problem = `${hub}: ${(error as Error).message}${cause instanceof Error ? ` (${cause.message})` : ''}`;
      }
      if (Date.now() > deadline) {
        this.report.failures.push(`gave up on batch ${batch}: ${problem}`);
        return;
      }
      this.report.retries += 1;
      await sleep(Math.min(50 * 2 ** attempt, 500));
    }
  }

  private record(accepted: IngestResponse['accepted']): void {
    for (const event of accepted) {
      this.report.accepted.add(event.id);
      if (event.duplicate) this.report.duplicates += 1;
      if (event.idempotencyKey === null) continue;
      const known = this.idsByKey.get(event.idempotencyKey);
      if (known !== undefined && known !== event.id) this.report.keyConflicts += 1;
      this.idsByKey.set(event.idempotencyKey, event.id);
    }
  }
}
