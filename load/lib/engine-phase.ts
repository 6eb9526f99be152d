import { sleep } from './child-process.js';
import type { ClientFleet } from './fanout-clients.js';
import { benchEventType } from './fanout-protocol.js';
import { fetchMetrics } from './prom-metrics.js';
import type { LatencySummary } from './ms-histogram.js';
import { sendAtRate, type PacedResult } from './paced-sender.js';

/**
 * One phase of the engine benchmark: events posted over REST at a fixed rate, round-robin over
 * the users, each timed until its `activity:recorded` reaches the user's socket. A phase is
 * sustainable when the sender kept its schedule, every event was accepted, every one was pushed
 * within the drain time, and the push p99 stayed under `SUSTAINABLE_P99_MS`: the pipeline keeps
 * up instead of building a backlog.
 */

export const SUSTAINABLE_P99_MS = 1_000;
const MIN_SCHEDULE_SHARE = 0.95;

export interface PhasePlan {
  /** `p<n>`: the event type is `bench.p<n>`. */
  index: number;
  label: string;
  rate: number;
  seconds: number;
  /** How long to wait for the pushes after the last post. */
  drainMs: number;
}

export interface PhaseFigures {
  label: string;
  offeredPerSecond: number;
  seconds: number;
  sent: number;
  sentPerSecond: number;
  accepted: number;
  refused: PacedResult['refused'];
  senderMaxLagMs: number;
  /** POST → 202. */
  answer: LatencySummary;
  pushed: number;
  /** Pushes per second from the first post to the last push. */
  pushedPerSecond: number;
  /** Posted (`occurredAt`) → `activity:recorded` at the client. */
  push: LatencySummary;
  /** The update's `at` (its commit time) → receipt. */
  delivery: LatencySummary;
  /** Where the not-yet-pushed events waited when the last post was answered (from the hub's /metrics). */
  backlogAtLastPost: Backlog | null;
  /** Milliseconds from the last post until every push had arrived (null: not all arrived). */
  drainedAfterMs: number | null;
  sustainable: boolean;
}

export interface Backlog {
  /** Accepted events the relay has not moved to BullMQ yet. */
  outbox: number;
  /** Engagement jobs waiting for the worker. */
  engine: number;
  /** Delivery jobs waiting for a hub. */
  realtime: number;
}

async function sampleBacklog(url: string): Promise<Backlog | null> {
  try {
    const metrics = await fetchMetrics(`${url}/metrics`);
    const jobs = (queue: string) => metrics.get(`bullmq_queue_jobs{queue="${queue}",state="waiting"}`) ?? Number.NaN;
    return { outbox: metrics.get('pulse_outbox_backlog{stage="unrelayed"}') ?? Number.NaN, engine: jobs('engagement'), realtime: jobs('realtime') };
  } catch {
    return null;
  }
}

export interface BenchTarget {
  url: string;
  apiKey: string;
  users: number;
  /** 1: one event per request, as a mobile client posts; more: `{events: [...]}`, as an app's backend batches. */
  eventsPerRequest: number;
}

/**
 * Posts `bench.p<index>` events at `rate` events per second for `seconds`, round-robin over the
 * users, each stamped with its post time. Counts are of events; `answerLatency` is per request.
 */
export async function postBenchEvents(target: BenchTarget, index: number, rate: number, seconds: number, signal: AbortSignal): Promise<PacedResult> {
  const type = benchEventType(index);
  const perRequest = target.eventsPerRequest;
  const eventOf = (n: number) => ({ type, userId: `bench-${n % target.users}`, occurredAt: new Date().toISOString() });
  const requests = await sendAtRate({
    url: new URL('/api/v1/events', target.url),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${target.apiKey}` },
    rate: rate / perRequest,
    seconds,
    body: (n) => JSON.stringify(perRequest === 1 ? eventOf(n) : { events: Array.from({ length: perRequest }, (_, i) => eventOf(n * perRequest + i)) }),
    signal,
  });
  return {
    ...requests,
    offeredPerSecond: rate,
    sent: requests.sent * perRequest,
    accepted: requests.accepted * perRequest,
    sentPerSecond: requests.sentPerSecond * perRequest,
  };
}

/** Waits for `expected` receipts of phase `index` (false: not all came in time), then reports the phase. */
export async function collectReceipts(fleet: ClientFleet, index: number, expected: number, timeoutMs: number, signal: AbortSignal) {
  const drained = await fleet.waitForReceipts([index], expected, timeoutMs, signal);
  const drainedAt = Date.now();
  // Receipts reach the parent every 50 ms: let the last batch in before the report.
  await sleep(100, signal);
  return { drained, drainedAt, report: await fleet.report(`p${index}`) };
}

export async function runPhase(
  plan: PhasePlan,
  target: BenchTarget,
  fleet: ClientFleet,
  signal: AbortSignal,
): Promise<PhaseFigures> {
  const startedAt = Date.now();
  const sent = await postBenchEvents(target, plan.index, plan.rate, plan.seconds, signal);
  const lastPostAt = Date.now();
  const backlogAtLastPost = await sampleBacklog(target.url);
  const { drained, drainedAt, report } = await collectReceipts(fleet, plan.index, sent.accepted, plan.drainMs, signal);
  const drainedAfterMs = drained ? drainedAt - lastPostAt : null;
  const push = report.sendLatency.summary();
  const refusedCount = Object.values(sent.refused).reduce((sum, entry) => sum + entry.count, 0);
  return {
    label: plan.label,
    offeredPerSecond: plan.rate,
    seconds: plan.seconds,
    sent: sent.sent,
    sentPerSecond: sent.sentPerSecond,
    accepted: sent.accepted,
    refused: sent.refused,
    senderMaxLagMs: sent.maxLagMs,
    answer: sent.answerLatency.summary(),
    pushed: report.receipts,
    pushedPerSecond: report.receipts > 0 ? (report.receipts * 1000) / Math.max(report.lastAt - startedAt, 1) : 0,
    push,
    delivery: report.serverLatency.summary(),
    backlogAtLastPost,
    drainedAfterMs,
    sustainable:
      refusedCount === 0 && sent.sentPerSecond >= plan.rate * MIN_SCHEDULE_SHARE && drained && report.receipts === sent.accepted && push.p99 <= SUSTAINABLE_P99_MS,
  };
}
