import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Express } from 'express';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { createRedis } from '../platform/redis.js';
import { RulesCache } from '../repositories/engine-rules.js';
import { FeedStore } from '../repositories/feeds.js';
import { FeedRecomputer } from '../services/feed-recompute.js';
import { EventWriter } from '../services/event-writer.js';
import { Leaderboards } from '../repositories/leaderboards.js';
import { RefreshTokenStore } from '../repositories/refresh-tokens.js';
import { ApiKeyVerifier } from '../repositories/tenants.js';
import { UserDirectory } from '../repositories/users.js';
import type { AppContext } from './context.js';
import { resolveBoxSecret, resolveCredentialVault, resolveJwtSecret, resolveOperatorToken } from '../platform/secrets.js';
import { ConnectionService } from '../services/integrations/connections.js';
import { OAuthFlow } from '../services/integrations/oauth.js';
import { createApp } from '../server/app.js';
import { answerClientError } from '../server/middleware/problems.js';
import { requeuedCounterKey } from '../platform/queues/reconciliation.js';
import { buildHandlerRegistry } from '../platform/queues/registry.js';
import { consumedJobNames, startWorkerPool } from '../platform/queues/worker-pool.js';
import { AccessTokens } from '../server/auth/access-tokens.js';
import { createMetrics } from '../server/metrics.js';
import { buildOpenApiDocument } from '../server/openapi.js';
import { RateLimits } from '../server/rate-limits.js';
import { createReadinessCheck } from '../server/readiness.js';
import { boxesRouter } from '../server/routes/boxes.js';
import { campaignsRouter } from '../server/routes/campaigns.js';
import { connectionsRouter } from '../server/routes/connections.js';
import { docsRouter } from '../server/routes/docs.js';
import { eventsRouter } from '../server/routes/events.js';
import { feedRouter } from '../server/routes/feed.js';
import { rulesRouter } from '../server/routes/rules.js';
import { stateRouter } from '../server/routes/state.js';
import { streaksRouter } from '../server/routes/streaks.js';
import { signalsRouter } from '../server/routes/signals.js';
import { streamsRouter } from '../server/routes/streams.js';
import { tokensRouter } from '../server/routes/tokens.js';
import { dashboardRouter } from '../server/dashboard/page.js';
import { queueBoardRouter } from '../server/admin/queue-board.js';
import { startDashboard } from '../server/realtime/dashboard.js';
import { createRealtimeDeliverHandler } from '../server/realtime/deliver-handler.js';
import { createRealtimeSignalHandler } from '../server/realtime/signal-handler.js';
import { createRealtimeSyncHandler } from '../server/realtime/sync-progress-handler.js';
import { createRealtimeBackupHandler } from '../server/realtime/backup-status-handler.js';
import { BackupStatusStore } from '../repositories/backup-status.js';
import { SyncTelemetry } from '../repositories/sync-telemetry.js';
import { SyncScheduler } from '../services/integrations/sync-scheduler.js';
import { createPusher } from '../server/realtime/push.js';
import { attachSocketServer, createSocketServer } from '../server/realtime/socket-server.js';
import { SessionGuard } from '../server/realtime/sessions.js';
import { UserSocketQuota } from '../server/realtime/socket-quota.js';
import { RevokedFamilies } from '../server/auth/revoked-families.js';
import type { PulseServer } from '../server/realtime/types.js';

/** How long shutdown leaves Socket.IO to save closing sockets' sessions before the adapter's Redis goes. */
const SESSION_SAVE_GRACE_MS = 200;
/** Time kept back from the shutdown budget for the steps after the hub's queue consumers stop. */
const CLOSE_RESERVE_MS = 2_000;

export interface Hub {
  server: http.Server;
  /** The Express app serving every request that is not Socket.IO's. */
  app: Express;
  io: PulseServer;
  url: string;
}

/** The hub role: Express and Socket.IO sharing one HTTP server. */
export async function startHub(context: AppContext): Promise<Hub> {
  const { config, logger, lifecycle } = context;
  const { db, sql } = context.database;

  const probeSql = postgres(context.databaseUrl, { max: 1, connect_timeout: 2, idle_timeout: 60, onnotice: () => undefined });
  const probeRedis = createRedis(context.redisUrl, 'probe', logger, 'hub:readiness');
  lifecycle.defer('readiness probes', async () => {
    probeRedis.disconnect();
    await probeSql.end({ timeout: 1 });
  });
  const checkReadiness = createReadinessCheck({ sql: probeSql, redis: probeRedis, timeoutMs: config.READINESS_TIMEOUT_MS });

  const limiterRedis = createRedis(context.redisUrl, 'pipelined', logger, 'hub:rate-limits');
  lifecycle.defer('rate-limit redis', async () => void (await limiterRedis.quit()));
  const limits = new RateLimits(limiterRedis, config);
  const revokedFamilies = new RevokedFamilies(limiterRedis, config.REDIS_PREFIX, config.ACCESS_TOKEN_TTL_SECONDS, logger);
  const accessTokens = await AccessTokens.create(config, await resolveJwtSecret(config), revokedFamilies);
  const verifiers = { apiKeys: new ApiKeyVerifier(db), accessTokens };
  const users = new UserDirectory(db);
  const sessions = new SessionGuard(revokedFamilies);
  const quota = new UserSocketQuota(limiterRedis, config.REDIS_PREFIX, config.SOCKET_MAX_PER_USER, logger);
  lifecycle.defer('socket sessions', () => {
    quota.close();
    sessions.close();
    return Promise.resolve();
  });
  const writer = new EventWriter(sql, users, logger);

  const adapterRedis = createRedis(context.redisUrl, 'adapter', logger, 'hub:socket.io-adapter');
  lifecycle.defer('socket.io adapter redis', async () => {
    // Closing Socket.IO saves each socket's recovery session through this connection, some of
    // them (long-polling clients) a moment after close() returned: let those writes go first.
    await sleep(SESSION_SAVE_GRACE_MS);
    await adapterRedis.quit();
  });
  const io = createSocketServer({ config, logger, adapterRedis, accessTokens, users, writer, sql, limits, quota, sessions });
  const rules = new RulesCache(sql);
  const syncTelemetry = new SyncTelemetry(context.redis, config.REDIS_PREFIX);
  const connections = new ConnectionService(db, await resolveCredentialVault(config), {
    allowCustomUrls: config.INTEGRATIONS_ALLOW_CUSTOM_URLS,
    syncs: new SyncScheduler(context.queues, syncTelemetry),
  });
  const routers = [
    tokensRouter({ db, verifiers, accessTokens, refreshTokens: new RefreshTokenStore(db, config.REFRESH_TOKEN_TTL_SECONDS), users, limits, sessions }),
    eventsRouter({ db, verifiers, users, writer, limits }),
    streamsRouter({ verifiers, limits, io }),
    signalsRouter({ sql, verifiers, limits, users, rules }),
    feedRouter({ sql, verifiers, limits, users, queues: context.queues, recomputer: new FeedRecomputer({ sql, store: new FeedStore(sql), rules }) }),
    stateRouter({ sql, verifiers, limits, users, rules }),
    boxesRouter({ sql, verifiers, limits, rules, queues: context.queues, boxSecret: await resolveBoxSecret(config) }),
    rulesRouter({ db, sql, verifiers, limits }),
    streaksRouter({ sql, verifiers, limits, users, rules, queues: context.queues }),
    campaignsRouter({ db, sql, verifiers, limits, rules, leaderboards: new Leaderboards(context.redis, config.REDIS_PREFIX) }),
    connectionsRouter({ verifiers, limits, connections, oauth: new OAuthFlow(connections), publicUrl: config.PUBLIC_URL }),
    docsRouter({ openApiDocument: buildOpenApiDocument() }),
    dashboardRouter(),
    queueBoardRouter({ queues: context.queues, operatorToken: await resolveOperatorToken(config), limits }),
  ];
  const metrics = createMetrics({ queues: context.queues, sql, redis: context.redis, requeuedCounterKey: requeuedCounterKey(config.REDIS_PREFIX), connectedSockets: () => io.engine.clientsCount, syncTelemetry, backupStatus: new BackupStatusStore(context.redis, config.REDIS_PREFIX) });
  // Express is the server's request handler before Socket.IO attaches: Engine.IO then takes
  // `/socket.io/` requests itself and hands every other request on, so Express never touches a
  // response Engine.IO owns (it used to, and a header set after Engine.IO answered crashed the hub).
  const app = createApp({ config, logger, checkReadiness, metrics, routers });
  const server = http.createServer(app);
  // Requests Node's own parser refuses (huge headers, unknown methods) get problem+json too.
  server.on('clientError', answerClientError);
  attachSocketServer(io, server);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, resolve);
  });
  // Closing Socket.IO disconnects every client and closes the HTTP server, which stops accepting
  // and waits for in-flight requests.
  lifecycle.defer('http + socket.io', () => io.close());
  // The hub consumes its queues (`realtime`) like the worker role consumes its own: one registry
  // that refuses a missing or doubled handler, one pool at the shared concurrency table's settings.
  const pusher = createPusher(io);
  const registry = buildHandlerRegistry([createRealtimeDeliverHandler(pusher), createRealtimeSignalHandler(pusher), createRealtimeSyncHandler(pusher), createRealtimeBackupHandler(pusher)], consumedJobNames('hub'));
  // Registered after the listener so it stops first: no job is taken for sockets being closed.
  const consumers = startWorkerPool({ role: 'hub', redisUrl: context.redisUrl, prefix: context.queues.prefix, registry, logger });
  lifecycle.defer('realtime delivery', (remainingMs) => consumers.close(Math.max(remainingMs - CLOSE_RESERVE_MS, 0)));
  const dashboard = startDashboard({ io, pusher, redis: limiterRedis, sql, queues: context.queues, prefix: config.REDIS_PREFIX, logger });
  lifecycle.defer('dashboard metrics', () => dashboard.close());

  const { port } = server.address() as AddressInfo;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST;
  const url = config.PUBLIC_URL ?? `http://${host}:${port}`;
  logger.info(`Pulse Hub listening on ${url}`, { url, port });
  return { server, app, io, url };
}
