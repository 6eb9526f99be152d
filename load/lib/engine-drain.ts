import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { jobDefinitions } from '../../src/contracts/queues.js';
import { bullPrefix } from '../../src/platform/queues/producer.js';
import { sleep } from './child-process.js';
import type { ClientFleet } from './fanout-clients.js';
import { collectReceipts, postBenchEvents, type BenchTarget } from './engine-phase.js';

/**
 * The pipeline measured the way the raw BullMQ baseline is: as a consumer of a queue filled
 * beforehand. The `engagement` queue is paused (BullMQ's own global pause: the worker stays up
 * and idle), the events are posted over REST and relayed into it, then the queue is resumed and
 * the clock runs until the last event's `activity:recorded` reaches its client: the engine's
 * transactions, the hand-off, the hubs' delivery and the socket push, without HTTP ingestion
 * competing for the cores (the baseline has no producer either).
 */

export interface DrainPlan {
  /** `p<n>`: the event type is `bench.p<n>`. */
  index: number;
  events: number;
  /** Posting rate while the queue is paused. */
  rate: number;
  /** How long the queued events may take to be applied and pushed. */
  timeoutMs: number;
}

export interface DrainFigures {
  events: number;
  /** Accepted events that were queued when the queue was resumed. */
  queued: number;
  /** Resume → the last push at a client (null: not all arrived in time). */
  elapsedMs: number | null;
  pushed: number;
  /** Events applied and pushed per second, from resume to the last push. */
  perSecond: number;
}

const engagementQueue = jobDefinitions['engagement.event'].queue;
const QUEUE_FILL_TIMEOUT_MS = 120_000;

export async function runDrain(
  plan: DrainPlan,
  target: BenchTarget & { redisUrl: string; redisPrefix: string },
  fleet: ClientFleet,
  signal: AbortSignal,
  /** Called once the queue is full, just before it is resumed (to start measuring). */
  beforeResume: () => Promise<void> = () => Promise.resolve(),
): Promise<DrainFigures> {
  const connection = new Redis(target.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(engagementQueue, { connection, prefix: bullPrefix(target.redisPrefix) });
  try {
    await queue.pause();
    const sent = await postBenchEvents(target, plan.index, plan.rate, plan.events / plan.rate, signal);
    const queued = await waitForQueued(queue, sent.accepted, signal);
    await beforeResume();
    const resumedAt = Date.now();
    await queue.resume();
    const { drained, report } = await collectReceipts(fleet, plan.index, sent.accepted, plan.timeoutMs, signal);
    const elapsedMs = drained ? Math.max(report.lastAt - resumedAt, 1) : null;
    return { events: sent.accepted, queued, elapsedMs, pushed: report.receipts, perSecond: elapsedMs === null ? 0 : (report.receipts * 1000) / elapsedMs };
  } finally {
    // Never leave the hub's queue paused, whatever happened.
    await queue.resume().catch(() => undefined);
    await queue.close();
    connection.disconnect();
  }
}

/** Waits until the relay has moved every accepted event into the paused queue. */
export async function waitForQueued(queue: Queue, expected: number, signal: AbortSignal): Promise<number> {
  const deadline = Date.now() + QUEUE_FILL_TIMEOUT_MS;
  for (;;) {
    // A paused queue keeps its jobs waiting (BullMQ 5+ has no separate paused list).
    const queued = (await queue.getJobCounts('wait')).wait ?? 0;
    if (queued >= expected) return queued;
    if (Date.now() > deadline) {
      throw new Error(`only ${queued} of ${expected} events reached the paused engagement queue within ${QUEUE_FILL_TIMEOUT_MS / 1000} s: ${JSON.stringify(await queue.getJobCounts())}`);
    }
    await sleep(100, signal);
  }
}
