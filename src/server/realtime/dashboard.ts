import type { Redis } from 'ioredis';
import { v7 as uuidv7 } from 'uuid';
import type { Sql } from '../../repositories/db/client.js';
import { errorFields, type Logger } from '../../platform/logger.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import { FeedTelemetry } from '../../repositories/feed-telemetry.js';
import { BackupStatusStore } from '../../repositories/backup-status.js';
import { tenantOfRoom, type DashboardMetrics } from '../../contracts/socket/contracts.js';
import type { Pusher } from './push.js';
import type { PulseServer } from './types.js';

const PRESENCE_TTL_MS = 15_000;
const PRESENCE_HEARTBEAT_MS = 5_000;
/** How many of the tenant's newest events, and of each running campaign's leaders, a tick carries. */
const LATEST_EVENTS = 10;
const CAMPAIGN_TOP = 5;

/** The smallest UUIDv7 of a millisecond: events ids are time-ordered, so `id >= this` is a time range on the index. */
const firstIdAt = (ms: number) => uuidv7({ msecs: ms, seq: 0, random: new Uint8Array(16) });

export interface DashboardOptions {
  io: PulseServer;
  pusher: Pusher;
  redis: Redis;
  sql: Sql;
  queues: JobQueues;
  prefix: string;
  logger: Logger;
  intervalMs?: number;
  /** Where the workers count feed recomputations; by default read from `redis` under `prefix`, where they write them. */
  feedTelemetry?: FeedTelemetry;
  /** Where the worker stores the backup status; by default read from `redis` under `prefix`. */
  backupStatus?: BackupStatusStore;
}

/**
 * Each hub node sends `dashboard:metrics` once per interval to the dashboard sockets it holds
 * itself (`local`), so no metric is sent twice whatever the number of nodes. Presence is shared:
 * every node heartbeats its connected users into a per-tenant sorted set in Redis. Emits are
 * volatile: a client that cannot keep up skips ticks instead of queueing them (latest wins).
 */
export function startDashboard(options: DashboardOptions) {
  const { io, pusher, redis, sql, queues, logger } = options;
  const feedTelemetry = options.feedTelemetry ?? new FeedTelemetry(redis, options.prefix);
  const backupStatus = options.backupStatus ?? new BackupStatusStore(redis, options.prefix);
  const presenceKey = (tenantId: string) => `${options.prefix}:presence:${tenantId}`;
  const localRooms = (kind: 'tenant' | 'dashboard') =>
    [...io.of('/').adapter.rooms.entries()].flatMap(([room, members]) => {
      const tenantId = tenantOfRoom(kind, room);
      return tenantId ? [{ tenantId, members }] : [];
    });

  async function heartbeat(): Promise<void> {
    const now = Date.now();
    const pipeline = redis.pipeline();
    for (const { tenantId, members } of localRooms('tenant')) {
      const users = new Set([...members].map((socketId) => io.of('/').sockets.get(socketId)?.data.userId).filter(Boolean));
      if (users.size === 0) continue;
      pipeline.zadd(presenceKey(tenantId), ...[...users].flatMap((userId) => [now, userId as string]));
      pipeline.zremrangebyscore(presenceKey(tenantId), '-inf', now - PRESENCE_TTL_MS);
      pipeline.pexpire(presenceKey(tenantId), PRESENCE_TTL_MS * 2);
    }
    await pipeline.exec();
  }

  /** `shared`: what every tenant's tick carries alike (the deployment's queues and backups), read once per tick. */
  async function metricsFor(tenantId: string, shared: Pick<DashboardMetrics, 'queues' | 'backups'>): Promise<DashboardMetrics> {
    const now = Date.now();
    const midnight = new Date(now).setUTCHours(0, 0, 0, 0);
    // One round trip per tenant and tick: the counts (a range on the (tenant_id, id) index), the
    // newest events (the same index, read backwards) and each running campaign's top five (a
    // backward scan of (campaign_id, points)). The lists come back as JSON text.
    const [row] = await sql<{ today: string; last_minute: string; latest: string; campaigns: string }[]>`
      select
        (select count(*) from events where tenant_id = ${tenantId} and id >= ${firstIdAt(midnight)}) as today,
        (select count(*) from events where tenant_id = ${tenantId} and id >= ${firstIdAt(now - 60_000)}) as last_minute,
        (select coalesce(json_agg(json_build_object('id', e.id, 'type', e.type, 'userId', u.external_id, 'occurredAt', e.occurred_at) order by e.id desc), '[]')::text
           from (select id, type, user_id, occurred_at from events where tenant_id = ${tenantId} order by id desc limit ${LATEST_EVENTS}) e
           join users u on u.id = e.user_id) as latest,
        (select coalesce(json_agg(json_build_object('key', c.key, 'name', c.name, 'top', top.entries) order by c.starts_at, c.key), '[]')::text
           from campaigns c
           cross join lateral (
             select coalesce(json_agg(json_build_object('userId', u.external_id, 'points', p.points) order by p.points desc, u.external_id), '[]') as entries
             from (select user_id, points from campaign_progress where campaign_id = c.id order by points desc limit ${CAMPAIGN_TOP}) p
             join users u on u.id = p.user_id
           ) top
           where c.tenant_id = ${tenantId} and c.starts_at <= now() and c.ends_at > now()) as campaigns`;
    const [connectedUsers, feeds] = await Promise.all([redis.zcount(presenceKey(tenantId), now - PRESENCE_TTL_MS, '+inf'), feedTelemetry.figures(tenantId, now)]);
    const latest = JSON.parse(row?.latest ?? '[]') as DashboardMetrics['latestEvents'];
    return {
      at: new Date(now).toISOString(),
      connectedUsers,
      eventsLastMinute: Number(row?.last_minute ?? 0),
      eventsToday: Number(row?.today ?? 0),
      queues: shared.queues,
      // Postgres writes timestamps in JSON as `2026-01-01T10:00:00.123+00:00`: the contract says ISO.
      latestEvents: latest.map((event) => ({ ...event, occurredAt: new Date(event.occurredAt).toISOString() })),
      campaigns: JSON.parse(row?.campaigns ?? '[]') as DashboardMetrics['campaigns'],
      feeds,
      backups: shared.backups,
    };
  }

  async function tick(): Promise<void> {
    const dashboards = localRooms('dashboard');
    if (dashboards.length === 0) return;
    const [queueCounts, backups] = await Promise.all([
      Promise.all(
        [...queues.queues].map(async ([name, queue]) => {
          const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
          const depth = { waiting: counts.waiting ?? 0, active: counts.active ?? 0, delayed: counts.delayed ?? 0, failed: counts.failed ?? 0 };
          return [name, depth] as const;
        }),
      ),
      backupStatus.read(),
    ]);
    const shared = { queues: Object.fromEntries(queueCounts), backups };
    await Promise.all(
      dashboards.map(async ({ tenantId }) => {
        pusher.toDashboard(tenantId, 'dashboard:metrics', await metricsFor(tenantId, shared), { local: true, volatile: true });
      }),
    );
  }

  /** Runs `work` every `ms`, never overlapping itself, logging rather than crashing on failure. */
  const every = (ms: number, name: string, work: () => Promise<void>) => {
    let running: Promise<void> | undefined;
    const timer = setInterval(() => {
      running ??= work()
        .catch((error: unknown) => void logger.warn(`dashboard ${name} failed`, errorFields(error)))
        .finally(() => (running = undefined));
    }, ms);
    return async () => {
      clearInterval(timer);
      await running;
    };
  };
  const stops = [every(options.intervalMs ?? 1_000, 'tick', tick), every(PRESENCE_HEARTBEAT_MS, 'presence', heartbeat)];
  // A fresh node reports its users at once rather than after the first heartbeat interval.
  io.on('connection', (socket) => void redis.zadd(presenceKey(socket.data.tenantId), Date.now(), socket.data.userId).catch(() => undefined));
  return {
    async close() {
      await Promise.all(stops.map((stop) => stop()));
    },
  };
}
