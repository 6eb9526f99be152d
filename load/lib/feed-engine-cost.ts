import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { jobDefinitions } from '../../src/contracts/queues.js';
import { bullPrefix } from '../../src/platform/queues/producer.js';
import { sleep } from './child-process.js';
import { waitForQueued } from './engine-drain.js';
import { hubRequest } from './hub-api.js';
import { measureCpu, type CpuUsage, type ProcessGroup } from './proc-cpu.js';

/**
 * What feed signals add to the engine's work per event: rounds of N engagement events of the feed
 * types (`feed.viewed`, `feed.opened`, ...), the same users and types every round, posted over
 * REST while the `engagement` queue is paused and then drained as the engine consumes them
 * (like `bench:engine`'s drain); in `plain` rounds the events carry no data, in `feed` rounds
 * `data: {itemId, topics}`, so the engine also updates affinities, first interactions and item
 * counters. The `feeds` queue stays paused throughout: the recomputations these events ask for
 * are measured on their own, not counted as engine work.
 */

export type RoundKind = 'warm-up' | 'plain' | 'feed';

export interface EngineRoundFigures {
  label: string;
  kind: RoundKind;
  events: number;
  /** Resume → the engagement queue empty. */
  drainMs: number;
  eventsPerSecond: number;
  cpu: CpuUsage;
  /** CPU of the hub process (the engine runs in it, role all), Postgres and Redis, per event. */
  engineCpuMsPerEvent: number;
}

export interface EngineTarget {
  url: string;
  apiKey: string;
  redisUrl: string;
  redisPrefix: string;
  externalIds: readonly string[];
  /** Feed items, most recent first; feed rounds name them, skewed towards the newest. */
  items: readonly { itemId: string; topics: string[] }[];
  /** Counted as the engine's: the hub, Postgres, Redis. */
  engineGroups: readonly ProcessGroup[];
  /** Measured too (the bench itself, idle during the drain). */
  otherGroups: readonly ProcessGroup[];
}

const FEED_TYPES = ['feed.viewed', 'feed.viewed', 'feed.viewed', 'feed.opened', 'feed.opened', 'feed.liked', 'feed.shared'];
const EVENTS_PER_REQUEST = 250;
const REQUESTS_IN_FLIGHT = 4;
const DRAIN_POLL_MS = 50;

function eventOf(target: EngineTarget, kind: RoundKind, round: number, n: number) {
  const type = FEED_TYPES[(n + round) % FEED_TYPES.length] as string;
  const userId = target.externalIds[n % target.externalIds.length] as string;
  if (kind !== 'feed') return { type, userId };
  // A different item per user and round, most of them among the newest (as readers find them).
  const spread = ((n * 7_919 + round * 104_729) % 1_000) / 1_000;
  const item = target.items[Math.floor(target.items.length * spread ** 3)] as { itemId: string; topics: string[] };
  return { type, userId, data: { itemId: item.itemId, topics: item.topics } };
}

async function postRound(target: EngineTarget, kind: RoundKind, round: number, events: number): Promise<number> {
  let next = 0;
  let accepted = 0;
  await Promise.all(
    Array.from({ length: REQUESTS_IN_FLIGHT }, async () => {
      while (next < events) {
        const first = next;
        next = Math.min(events, next + EVENTS_PER_REQUEST);
        const batch = Array.from({ length: next - first }, (_, i) => eventOf(target, kind, round, first + i));
        const answer = await hubRequest(`${target.url}/api/v1/events`, target.apiKey, 'POST', { events: batch }, 60_000);
        if (answer.status !== 202) throw new Error(`events refused: ${answer.status} ${answer.body.slice(0, 300)}`);
        accepted += batch.length;
      }
    }),
  );
  return accepted;
}

export class EngineCostRounds {
  private readonly connection: Redis;
  private readonly engagement: Queue;
  private readonly feeds: Queue;

  constructor(private readonly target: EngineTarget) {
    this.connection = new Redis(target.redisUrl, { maxRetriesPerRequest: null });
    const prefix = bullPrefix(target.redisPrefix);
    this.engagement = new Queue(jobDefinitions['engagement.event'].queue, { connection: this.connection, prefix });
    this.feeds = new Queue(jobDefinitions['feed.recompute'].queue, { connection: this.connection, prefix });
  }

  async round(label: string, kind: RoundKind, round: number, events: number, signal: AbortSignal): Promise<EngineRoundFigures> {
    await this.feeds.pause();
    await this.engagement.pause();
    const accepted = await postRound(this.target, kind, round, events);
    await waitForQueued(this.engagement, accepted, signal);
    const stopCpu = await measureCpu([...this.target.engineGroups, ...this.target.otherGroups]);
    const started = performance.now();
    await this.engagement.resume();
    for (;;) {
      const counts = await this.engagement.getJobCounts('wait', 'active', 'prioritized');
      if ((counts.wait ?? 0) + (counts.active ?? 0) + (counts.prioritized ?? 0) === 0) break;
      await sleep(DRAIN_POLL_MS, signal);
    }
    const drainMs = performance.now() - started;
    const cpu = await stopCpu();
    const engineNames = new Set(this.target.engineGroups.map((group) => group.name));
    const engineMs = cpu.groups.filter((group) => engineNames.has(group.name)).reduce((sum, group) => sum + group.cpuMs, 0);
    return { label, kind, events: accepted, drainMs, eventsPerSecond: (accepted * 1000) / drainMs, cpu, engineCpuMsPerEvent: engineMs / accepted };
  }

  async close(): Promise<void> {
    await this.engagement.resume().catch(() => undefined);
    await this.engagement.close();
    await this.feeds.close();
    this.connection.disconnect();
  }
}
