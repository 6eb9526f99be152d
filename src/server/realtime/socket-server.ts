import type http from 'node:http';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Redis } from 'ioredis';
import { Server } from 'socket.io';
import type { Config } from '../../shared/config.js';
import type { Sql } from '../../shared/db/client.js';
import { updatesSince } from '../../shared/repositories/user-updates.js';
import type { Logger } from '../../shared/logger.js';
import type { EventWriter } from '../../shared/repositories/event-writer.js';
import type { UserDirectory } from '../../shared/repositories/users.js';
import {
  refreshRequestSchema,
  roomRequestSchema,
  rooms,
  STREAM_ROOM,
  syncRequestSchema,
  trackRequestSchema,
  type ClientToServerEvents,
  type InterServerEvents,
  type ServerToClientEvents,
  type SocketData,
} from '../../shared/socket/contracts.js';
import { AccessTokenError, type AccessTokens } from '../auth/access-tokens.js';
import { attributeEvents } from '../ingest.js';
import { clientEventLimiter } from './client-rate-limit.js';
import { handler, refusePacket, SocketError } from './handlers.js';
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
}

/** Beyond this many missed updates a client is better served by reloading its snapshot. */
const MAX_SYNC_UPDATES = 1_000;

/** Socket.IO payloads above this are refused, protecting the hub from oversized frames. */
export const MAX_SOCKET_PAYLOAD_BYTES = 64 * 1024;
/** setTimeout's ceiling; a token living longer is re-checked when this fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * With connection-state recovery on, Socket.IO sends even a single socket's emits through the
 * adapter (a Redis stream round trip), so an immediate disconnect would overtake the expiry
 * notice. The expired socket leaves every room at once, so nothing else reaches it, and is
 * disconnected after this grace.
 */
const EXPIRY_NOTICE_GRACE_MS = 1_000;

/** Maps a client's room name to the internal, tenant-scoped room, or refuses it. */
function resolveRoom(socket: PulseSocket, room: string): string {
  if (room === 'dashboard') {
    if (socket.data.role !== 'admin') throw new SocketError('forbidden', 'the dashboard room is for admins');
    return rooms.dashboard(socket.data.tenantId);
  }
  if (STREAM_ROOM.test(room)) return rooms.stream(socket.data.tenantId, room);
  throw new SocketError('forbidden', `room "${room}" cannot be subscribed to`);
}

function scheduleExpiry(socket: PulseSocket, timers: WeakMap<PulseSocket, NodeJS.Timeout>): void {
  clearTimeout(timers.get(socket));
  const remaining = socket.data.expiresAt - Date.now();
  if (remaining <= 0) {
    for (const room of socket.rooms) if (room !== socket.id) void socket.leave(room);
    socket.emit('session:expired', { reason: 'token_expired' });
    timers.set(socket, setTimeout(() => socket.disconnect(), EXPIRY_NOTICE_GRACE_MS));
    return;
  }
  timers.set(socket, setTimeout(() => scheduleExpiry(socket, timers), Math.min(remaining, MAX_TIMER_MS)));
}

export function createSocketServer(httpServer: http.Server, deps: SocketServerDeps): PulseServer {
  const { config, logger } = deps;
  const io: PulseServer = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>(httpServer, {
    serveClient: false,
    maxHttpBufferSize: MAX_SOCKET_PAYLOAD_BYTES,
    perMessageDeflate: false,
    adapter: createAdapter(deps.adapterRedis, { streamName: `${config.REDIS_PREFIX}:socket.io` }),
    // Short blips are replayed by Socket.IO itself; anything longer is recovered by `sync`.
    connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: true },
  });
  // Memory per connection matters at 10k+ sockets: nothing here reads the upgrade request after
  // the handshake, so do not keep it (and its headers) alive for the socket's lifetime.
  io.engine.on('connection', (raw: { request: unknown }) => {
    raw.request = null;
  });
  io.use(authenticateHandshake(deps.accessTokens));
  const limitClientEvents = clientEventLimiter(config, logger);
  const expiryTimers = new WeakMap<PulseSocket, NodeJS.Timeout>();

  io.on('connection', (socket) => {
    const { tenantId, userId } = socket.data;
    if (!socket.recovered) void socket.join([rooms.user(userId), rooms.tenant(tenantId)]);
    scheduleExpiry(socket, expiryTimers);
    socket.on('disconnect', () => clearTimeout(expiryTimers.get(socket)));
    socket.use((packet, next) => {
      if (socket.data.expiresAt > Date.now()) next();
      else refusePacket(packet, 'token_expired', 'the session has expired: refresh the token and reconnect');
    });
    limitClientEvents(socket);

    socket.on(
      'subscribe',
      handler(roomRequestSchema, logger, async ({ room }) => {
        await socket.join(resolveRoom(socket, room));
        return { room };
      }),
    );
    socket.on(
      'unsubscribe',
      handler(roomRequestSchema, logger, async ({ room }) => {
        await socket.leave(resolveRoom(socket, room));
        return { room };
      }),
    );
    socket.on(
      'auth:refresh',
      handler(refreshRequestSchema, logger, async ({ token }) => {
        const claims = await deps.accessTokens.verify(token).catch((error: unknown) => {
          throw new SocketError(error instanceof AccessTokenError ? error.code : 'unauthorized', 'the new token is not valid');
        });
        if (claims.userId !== userId || claims.tenantId !== tenantId) throw new SocketError('forbidden', 'the new token is for another user');
        socket.data.role = claims.role;
        socket.data.expiresAt = claims.expiresAt.getTime();
        scheduleExpiry(socket, expiryTimers);
        return { expiresAt: claims.expiresAt.toISOString() };
      }),
    );
    socket.on(
      'sync',
      handler(syncRequestSchema, logger, ({ after }) => updatesSince(deps.sql, userId, after, MAX_SYNC_UPDATES)),
    );
    socket.on(
      'track',
      handler(trackRequestSchema, logger, async (event) => {
        const principal = { kind: 'user' as const, tenantId, userId, role: socket.data.role, expiresAt: new Date(socket.data.expiresAt) };
        const inputs = await attributeEvents(deps.users, principal, { events: [event], pathPrefix: () => '' });
        const [accepted] = await deps.writer.write(tenantId, inputs);
        if (!accepted) throw new Error('the event writer accepted nothing');
        return { accepted };
      }),
    );
  });
  return io;
}
