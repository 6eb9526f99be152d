import { z } from 'zod';
import type { UserRole } from '../roles.js';
import { eventInputSchema, type acceptedEventSchema } from '../api/events.js';
import type { FusedSignal } from '../api/signals.js';
import type { SyncProgress } from '../api/connections.js';
import type { BackupStatus } from '../backups.js';
import { EVENT_TYPE_PATTERN } from '../api/events.js';
import { STREAM_NAME } from '../api/streams.js';
import type { StreamMessage } from '../api/streams.js';
import type { UserUpdate, UserUpdateMessage, UserUpdateName } from './user-updates.js';

/**
 * The Socket.IO contract, shared by the hub, the workers, the SDK, tests and load scripts.
 * Every client event carries an ack; every ack is `{ ok: true, ... }` or `{ ok: false, error }`.
 */

export const socketErrorCodes = ['invalid_payload', 'unknown_event', 'forbidden', 'rate_limited', 'unauthorized', 'token_expired', 'session_revoked', 'internal'] as const;
export type SocketErrorCode = (typeof socketErrorCodes)[number];

export type AckResponse<T extends object = object> = ({ ok: true } & T) | { ok: false; error: { code: SocketErrorCode; message: string } };
export type Ack<T extends object = object> = (response: AckResponse<T>) => void;

/** Why a handshake was refused: the `data` of the client's `connect_error`. */
export interface ConnectErrorData {
  /**
   * `rate_limited`: this address failed authentication too often (the REST limit, shared);
   * `too_many_sockets`: the user already holds SOCKET_MAX_PER_USER sockets (the newest is refused).
   */
  code: 'unauthorized' | 'token_expired' | 'session_revoked' | 'rate_limited' | 'too_many_sockets';
}

/** Rooms a client may ask for: `dashboard` (admins) and `stream:<name>` within its own tenant. */
export const STREAM_ROOM = new RegExp(`^stream:${STREAM_NAME.source.slice(1)}`);
/** `signal:<key>`: the fused values of one tenant-wide signal. */
export const SIGNAL_ROOM = new RegExp(`^signal:${EVENT_TYPE_PATTERN.source.slice(1)}`);
export const roomRequestSchema = z.object({ room: z.string().max(80) }).strict();
export const refreshRequestSchema = z.object({ token: z.string().min(1).max(4096) }).strict();
export const trackRequestSchema = eventInputSchema;

type UserUpdateEvents = { [N in Exclude<UserUpdateName, 'signal:fused'>]: (update: UserUpdateMessage<N>) => void };

export interface ServerToClientEvents extends UserUpdateEvents {
  /**
   * A signal's new fused value. User-scoped: a per-user update (with `seq` and `at`, recoverable
   * with `sync`). Tenant-wide: to the `signal:<key>` subscribers and the dashboard, live only (no seq).
   */
  'signal:fused': (signal: FusedSignal | UserUpdateMessage<'signal:fused'>) => void;
  /** The token expired without an `auth:refresh`, or its login was revoked; the server disconnects right after. */
  'session:expired': (notice: { reason: 'token_expired' | 'session_revoked' }) => void;
  /** A message published to a `stream:<name>` room the socket subscribed to. */
  'stream:message': (message: StreamMessage) => void;
  /** To the tenant's `dashboard` room while an integration sync runs (each page) and when it ends or fails. */
  'sync:progress': (progress: SyncProgress) => void;
  /** To the tenant's `dashboard` room, at most once per second; latest wins (dropped for a slow client). */
  'dashboard:metrics': (metrics: DashboardMetrics) => void;
  /** To every tenant's `dashboard` room (backups are the deployment's) when a backup run ends, verified or failed. */
  'backup:status': (status: BackupStatus) => void;
}

export interface DashboardMetrics {
  at: string;
  /** Distinct users with a socket on any hub node (seen within the last 15 seconds). */
  connectedUsers: number;
  eventsLastMinute: number;
  /** Since 00:00 UTC. */
  eventsToday: number;
  queues: Record<string, { waiting: number; active: number; delayed: number; failed: number }>;
  /** The tenant's newest events (at most 10), newest first; `userId` is the tenant's own id for the user. */
  latestEvents: { id: string; type: string; userId: string; occurredAt: string }[];
  /** Campaigns running now, each with the top of its leaderboard (at most 5, highest first; external user ids). */
  campaigns: { key: string; name: string; top: { userId: string; points: number }[] }[];
  /** Feed recomputation by the workers over the last minute (repositories/feed-telemetry.ts). */
  feeds: FeedFigures;
  /** The deployment's backup status as the worker last stored it (the same for every tenant); `backup:status` brings a run's end at once. */
  backups: BackupStatus;
}

/** What a tenant's dashboard shows of its feeds: counts over the last 60 s, from every worker process. */
export interface FeedFigures {
  recomputesLastMinute: number;
  /** Of the latest recomputations (up to 200, however old); null before the first. */
  medianRecomputeMs: number | null;
  /** `feed:updated` announcements delivered. */
  pushesLastMinute: number;
  /** Announcements held to the end of the user's quiet hours, and past the daily budget. */
  heldByQuietHoursLastMinute: number;
  heldByBudgetLastMinute: number;
}

/** `complete: false`: updates after `after` were pruned (or too many): reload the snapshot. */
export interface SyncResult {
  updates: UserUpdate[];
  /** The user's latest seq: continue live from here. */
  seq: number;
  complete: boolean;
}
export const syncRequestSchema = z.object({ after: z.number().int().min(0) }).strict();

export interface ClientToServerEvents {
  track: (event: z.input<typeof trackRequestSchema>, ack: Ack<{ accepted: z.infer<typeof acceptedEventSchema> }>) => void;
  subscribe: (request: z.input<typeof roomRequestSchema>, ack: Ack<{ room: string }>) => void;
  unsubscribe: (request: z.input<typeof roomRequestSchema>, ack: Ack<{ room: string }>) => void;
  'auth:refresh': (request: z.input<typeof refreshRequestSchema>, ack: Ack<{ expiresAt: string }>) => void;
  sync: (request: z.input<typeof syncRequestSchema>, ack: Ack<SyncResult>) => void;
}

/** Between hub nodes, through the adapter. */
export interface InterServerEvents {
  /** These logins were revoked: every node ends their sockets. */
  'session:revoked': (familyIds: string[]) => void;
}

/** What the hub knows about an authenticated socket; restored with it on connection-state recovery. */
export interface SocketData {
  tenantId: string;
  userId: string;
  role: UserRole;
  /** The login (refresh-token family) the socket's token belongs to. */
  familyId: string;
  /** Epoch milliseconds at which the current access token expires. */
  expiresAt: number;
}

/** Internal room names: tenant-scoped, so no client-chosen name can reach another tenant. */
export const rooms = {
  user: (userId: string) => `user:${userId}`,
  tenant: (tenantId: string) => `tenant:${tenantId}`,
  dashboard: (tenantId: string) => `tenant:${tenantId}:dashboard`,
  /** Every tenant's dashboard sockets (joined with each `dashboard` room), for deployment-wide news such as backups. */
  allDashboards: () => 'dashboards',
  stream: (tenantId: string, name: string) => `tenant:${tenantId}:${name}`,
  /** The subscribers of one tenant-wide signal (the client asks for `signal:<key>`). */
  signal: (tenantId: string, key: string) => `tenant:${tenantId}:signal:${key}`,
  /** Every socket of one login, so revoking it disconnects them on every node. */
  family: (familyId: string) => `family:${familyId}`,
};

const TENANT_ID = /^[0-9a-f-]{36}$/;
const SLOT = '\u0000';

/**
 * The tenant of a room name that `rooms.tenant` or `rooms.dashboard` built, or undefined for any
 * other room: read back through the same helpers, so names are spelled in `rooms` alone.
 */
export function tenantOfRoom(kind: 'tenant' | 'dashboard', room: string): string | undefined {
  const [prefix = '', suffix = ''] = rooms[kind](SLOT).split(SLOT);
  if (!room.startsWith(prefix) || !room.endsWith(suffix)) return undefined;
  const tenantId = room.slice(prefix.length, room.length - suffix.length);
  return TENANT_ID.test(tenantId) ? tenantId : undefined;
}
