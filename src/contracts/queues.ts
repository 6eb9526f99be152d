import { z } from 'zod';
import { backupStatusSchema } from './backups.js';
import { connectionProviders, syncProgressSchema, type ConnectionProvider } from './api/connections.js';
import { fusedSignalSchema } from './api/signals.js';
import { userUpdateSchema } from './socket/user-updates.js';

/** Queue names are persisted in Redis keys: renaming one orphans its jobs. */
export const queueNames = ['maintenance', 'engagement', 'realtime', 'signals', 'feeds', 'sync-shopify', 'sync-stripe', 'sync-etsy', 'sync-tiktok_shop'] as const;
export type QueueName = (typeof queueNames)[number];

const syncPayload = z.object({ connectionId: z.uuid(), tenantId: z.uuid(), reason: z.enum(['scheduled', 'manual']) });

/**
 * One queue per provider, since BullMQ's limiter (which a provider's Retry-After drives) is per
 * queue: one provider throttling never holds up another's syncs.
 */
function syncJob<P extends ConnectionProvider>(provider: P) {
  return { [`sync.${provider}`]: { queue: `sync-${provider}`, payload: syncPayload } } as { [K in `sync.${P}`]: { queue: `sync-${P}`; payload: typeof syncPayload } };
}

export const syncJobName = <P extends ConnectionProvider>(provider: P): `sync.${P}` => `sync.${provider}`;
export const syncQueueName = <P extends ConnectionProvider>(provider: P): `sync-${P}` => `sync-${provider}`;
export const syncQueueNames = connectionProviders.map(syncQueueName);

/** Every job the system runs: its queue and the schema of its payload, validated before a handler sees it. */
export const jobDefinitions = {
  /** Dump, manifest, verification by restore, retention, then the status in Redis for the hubs. */
  'db.backup': {
    queue: 'maintenance',
    payload: z.object({ reason: z.enum(['scheduled', 'manual']) }),
  },
  /** Verifies one existing backup again (a dump file name in BACKUP_DIR) by restoring it into a scratch database. */
  'db.backup.verify': {
    queue: 'maintenance',
    payload: z.object({ file: z.string().regex(/^pulse-hub-\d{8}T\d{6}(\d{3})?Z\.dump$/, 'a backup file name in BACKUP_DIR') }),
  },
  /** Drops user updates older than the retention (clients further behind reload their snapshot). */
  'user-updates.prune': {
    queue: 'maintenance',
    payload: z.object({}),
  },
  /** Assigns the daily missions of recently active users whose local day began, catching up on missed days. */
  'missions.sweep': {
    queue: 'maintenance',
    payload: z.object({}),
  },
  /** Stored updates of one or more users (a worker's batch), for whichever hub nodes hold their sockets; consumed by hubs. */
  'realtime.deliver': {
    queue: 'realtime',
    payload: z.object({
      deliveries: z.array(z.object({ tenantId: z.uuid(), userId: z.uuid(), updates: z.array(userUpdateSchema).min(1) })).min(1),
    }),
  },
  /**
   * A tenant-wide signal's new fused value, for whichever hub takes it to push to the `signal:<key>`
   * subscribers and the tenant's dashboard (through the adapter, so every node's sockets get it).
   */
  'realtime.signal': {
    queue: 'realtime',
    payload: z.object({ tenantId: z.uuid(), signal: fusedSignalSchema }),
  },
  /**
   * Recompute one signal from its stored readings. Added (deduplicated per signal) for every
   * relayed reading, so a burst of readings costs one computation; `userId` null is tenant-wide.
   */
  'signals.fuse': {
    queue: 'signals',
    payload: z.object({ tenantId: z.uuid(), userId: z.uuid().nullable(), key: z.string() }),
  },
  /** Drops fused history and readings older than the retention. */
  'signals.prune': {
    queue: 'maintenance',
    payload: z.object({}),
  },
  /** Delayed to the at-risk hour of a user's local day: warns when a live streak has nothing yet that day. */
  'streak.at-risk': {
    queue: 'engagement',
    payload: z.object({ tenantId: z.uuid(), userId: z.uuid(), streakKey: z.string(), day: z.iso.date() }),
  },
  /**
   * One ingested event, relayed from the outbox; the job id is the event id, so a relay retry cannot add it twice.
   * `event` is what the engine needs of it (events never change once stored), so the engine never reads `events`.
   */
  'engagement.event': {
    queue: 'engagement',
    payload: z.object({
      eventId: z.uuid(),
      tenantId: z.uuid(),
      userId: z.uuid(),
      event: z.object({
        type: z.string(),
        occurredAt: z.iso.datetime({ offset: true }),
        value: z.number().nullable(),
        /** What feeds read of its data (the outbox's `feed`, extracted by pulse_feed_refs): absent when neither. */
        feed: z.object({ itemId: z.string().optional(), topics: z.array(z.string()).optional() }).optional(),
      }),
    }),
  },
  /**
   * Recompute one user's feed. Added after their feed-relevant events (delayed by the tenant's
   * debounce, deduplicated per user), for users whose affinities match new items, by the sweep,
   * and at the end of a hold (quiet hours, budget) to deliver the coalesced `feed:updated`.
   */
  'feed.recompute': {
    queue: 'feeds',
    payload: z.object({ tenantId: z.uuid(), userId: z.uuid(), reason: z.enum(['activity', 'items', 'sweep', 'release']) }),
  },
  /** New or changed items of a tenant: recompute the feeds of the users whose topic or author affinities match them. */
  'feed.items': {
    queue: 'feeds',
    payload: z.object({ tenantId: z.uuid(), itemIds: z.array(z.string()).min(1).max(500) }),
  },
  /** Recomputes the feeds of recently active users (catches anything a lost hand-off missed). */
  'feed.sweep': {
    queue: 'feeds',
    payload: z.object({}),
  },
  /** A sync's progress (and end), for the tenant's dashboard on whichever node holds its sockets. */
  'realtime.sync': {
    queue: 'realtime',
    payload: z.object({ tenantId: z.uuid(), progress: syncProgressSchema }),
  },
  /**
   * The deployment's backup status after a backup run ended (verified or failed), from the worker
   * that ran it: for whichever hub takes it to push `backup:status` to every tenant's dashboard.
   */
  'realtime.backup': {
    queue: 'realtime',
    payload: backupStatusSchema,
  },
  ...syncJob('shopify'),
  ...syncJob('stripe'),
  ...syncJob('etsy'),
  ...syncJob('tiktok_shop'),
} as const satisfies Record<string, { queue: QueueName; payload: z.ZodType }>;

export type JobName = keyof typeof jobDefinitions;
export type JobPayload<N extends JobName> = z.infer<(typeof jobDefinitions)[N]['payload']>;
export const jobNames = Object.keys(jobDefinitions) as JobName[];

export function jobsOfQueue(queue: QueueName): JobName[] {
  return jobNames.filter((name) => jobDefinitions[name].queue === queue);
}
