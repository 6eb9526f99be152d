import type http from 'node:http';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Redis } from 'ioredis';
import { Server } from 'socket.io';
import type { Config } from '../../platform/config.js';
import type { Sql } from '../../repositories/db/client.js';
import { updatesSince } from '../../repositories/user-updates.js';
import type { Logger } from '../../platform/logger.js';
import type { EventWriter } from '../../services/event-writer.js';
import type { UserDirectory } from '../../repositories/users.js';
import {
  refreshRequestSchema,
  roomRequestSchema,
  rooms,
  SIGNAL_ROOM,
  STREAM_ROOM,
  syncRequestSchema,
  trackRequestSchema,
  type ClientToServerEvents,
  type InterServerEvents,
  type ServerToClientEvents,
  type SocketData,
} from '../../contracts/socket/contracts.js';
import { AccessTokenError, type AccessTokens } from '../auth/access-tokens.js';
import { attributeEvents } from '../ingest.js';
import { clientEventLimiter } from './client-rate-limit.js';
import { clientEvent, clientEventDispatcher, SocketError, type ClientEventTable } from './handlers.js';
import { isSessionLive } from './session-expiry.js';
import type { SessionGuard } from './sessions.js';
import type { UserSocketQuota } from './socket-quota.js';
import type { RateLimits } from '../rate-limits.js';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { authenticateHandshake } from './handshake.js';
import type { PulseServer, PulseSocket } from './types.js';

export interface SocketServerDeps {
  config: Config;
  logger: Logger;
  /** A connection of its own: the streams adapter blocks on XREAD. */
  adapterRedis: Redis;
  accessTokens: AccessTokens;
  users: UserDirectory;
  writer: EventWriter;
  sql: Sql;
  limits: RateLimits;
  quota: UserSocketQuota;
  sessions: SessionGuard;
}

/** Beyond this many missed updates a client is better served by reloading its snapshot. */
const MAX_SYNC_UPDATES = 1_000;

/** Socket.IO payloads above this are refused, protecting the hub from oversized frames. */
export const MAX_SOCKET_PAYLOAD_BYTES = 64 * 1024;
/**
 * Maps a client's room name to the internal rooms it stands for, or refuses it. `dashboard` is the
 * tenant's dashboard room and the deployment-wide one, so news of the deployment (backups) reaches
 * every tenant's dashboard in one emit.
 */
function resolveRooms(socket: PulseSocket, room: string): string[] {
  if (room === 'dashboard') {
    if (socket.data.role !== 'admin') throw new SocketError('forbidden', 'the dashboard room is for admins');
    return [rooms.dashboard(socket.data.tenantId), rooms.allDashboards()];
  }
  if (STREAM_ROOM.test(room)) return [rooms.stream(socket.data.tenantId, room)];
  if (SIGNAL_ROOM.test(room)) return [rooms.signal(socket.data.tenantId, room.slice('signal:'.length))];
  throw new SocketError('forbidden', `room "${room}" cannot be subscribed to`);
}

/**
 * A handshake with no `Origin` (not a browser) or from the hub's own origin is welcome; a page on
 * another origin only when `CORS_ORIGINS` lists it.
 */
export function isAllowedOrigin(request: http.IncomingMessage, allowed: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/** Starts Socket.IO on the hub's HTTP server, whose request handler (Express) is already set. */
export function attachSocketServer(io: PulseServer, server: http.Server): void {
  io.attach(server);
  // Memory per connection matters at 10k+ sockets: nothing here reads the upgrade request after
  // the handshake, so do not keep it (and its headers) alive for the socket's lifetime.
  io.engine.on('connection', (raw: { request: unknown }) => {
    raw.request = null;
  });
}

/** The Socket.IO server, not yet attached: the hub attaches it after Express is the HTTP handler. */
export function createSocketServer(deps: SocketServerDeps): PulseServer {
  const { config, logger } = deps;
  const io: PulseServer = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>({
    serveClient: false,
    maxHttpBufferSize: MAX_SOCKET_PAYLOAD_BYTES,
    perMessageDeflate: false,
    adapter: deps.sessions.guardRecovery(createAdapter(deps.adapterRedis, { streamName: `${config.REDIS_PREFIX}:socket.io` })),
    // Short blips are replayed by Socket.IO itself; anything longer is recovered by `sync`. A
    // recovered socket is authenticated again like a new one (its session must still be live
    // before anything missed is replayed: see SessionGuard.guardRecovery).
    connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: false },
    // Browsers start with long-polling: its requests need CORS headers of Socket.IO's own.
    cors: { origin: config.CORS_ORIGINS, methods: ['GET', 'POST'] },
    // CORS binds only browsers' polling; a websocket from a page on another origin is refused here.
    allowRequest: (request, callback) => callback(null, isAllowedOrigin(request, config.CORS_ORIGINS)),
  });
  io.use(authenticateHandshake({ accessTokens: deps.accessTokens, limits: deps.limits, quota: deps.quota }));
  deps.sessions.watch(io);
  deps.quota.startHeartbeat(io);
  const limitClientEvents = clientEventLimiter(config, logger);
  const guard = async (socket: PulseSocket) => {
    if (!isSessionLive(socket)) throw new SocketError('token_expired', 'the session has expired: refresh the token and reconnect');
    await limitClientEvents(socket);
  };
  const dispatch = clientEventDispatcher(clientEvents(deps), guard, logger);

  io.on('connection', (socket) => {
    const { userId, tenantId, familyId } = socket.data;
    void socket.join(socket.recovered ? rooms.family(familyId) : [rooms.user(userId), rooms.tenant(tenantId), rooms.family(familyId)]);
    deps.sessions.track(socket);
    socket.on('disconnect', () => {
      deps.sessions.untrack(socket);
      deps.quota.release(socket);
    });
    socket.onAny(dispatch);
  });
  return io;
}

/** What each client event does; `this`-free, so every socket shares them. */
function clientEvents(deps: SocketServerDeps): ClientEventTable {
  return {
    subscribe: clientEvent(roomRequestSchema, async (socket, { room }) => {
      await socket.join(resolveRooms(socket, room));
      return { room };
    }),
    unsubscribe: clientEvent(roomRequestSchema, async (socket, { room }) => {
      for (const name of resolveRooms(socket, room)) await socket.leave(name);
      return { room };
    }),
    'auth:refresh': clientEvent(refreshRequestSchema, async (socket, { token }) => {
      const claims = await deps.accessTokens.verify(token).catch((error: unknown) => {
        throw new SocketError(error instanceof AccessTokenError ? error.code : 'unauthorized', 'the new token is not valid');
      });
      if (claims.userId !== socket.data.userId || claims.tenantId !== socket.data.tenantId) throw new SocketError('forbidden', 'the new token is for another user');
      if (!isSessionLive(socket)) throw new SocketError('token_expired', 'the session has already ended');
      deps.sessions.untrack(socket);
      if (claims.familyId !== socket.data.familyId) {
        await socket.leave(rooms.family(socket.data.familyId));
        await socket.join(rooms.family(claims.familyId));
      }
      socket.data.role = claims.role;
      socket.data.familyId = claims.familyId;
      socket.data.expiresAt = claims.expiresAt.getTime();
      deps.sessions.track(socket);
      return { expiresAt: claims.expiresAt.toISOString() };
    }),
    sync: clientEvent(syncRequestSchema, (socket, { after }) => updatesSince(deps.sql, socket.data.userId, after, MAX_SYNC_UPDATES)),
    track: clientEvent(trackRequestSchema, async (socket, event) => {
      const { tenantId, userId, role, expiresAt } = socket.data;
      // The same per-user budget as POST /api/v1/events: opening more sockets buys no more events.
      await deps.limits.user.consume(`${tenantId}:${userId}`).catch((rejection: unknown) => {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        throw new SocketError('rate_limited', `user rate limit exceeded: retry in ${Math.max(Math.ceil(rejection.msBeforeNext / 1000), 1)} s`);
      });
      const principal = { kind: 'user' as const, tenantId, userId, role, expiresAt: new Date(expiresAt) };
      const inputs = await attributeEvents(deps.users, principal, { events: [event], pathPrefix: () => '' });
      const [accepted] = await deps.writer.write(tenantId, inputs);
      if (!accepted) throw new Error('the event writer accepted nothing');
      return { accepted };
    }),
  };
}
