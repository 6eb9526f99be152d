import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineRulesSchema } from '../../src/contracts/api/rules.js';
import type { ReadinessReport } from '../../src/server/readiness.js';
import { connectDatabase } from '../../src/repositories/db/client.js';
import { bullPrefix, JobQueues } from '../../src/platform/queues/producer.js';
import { requeuedCounterKey } from '../../src/platform/queues/reconciliation.js';
import { saveRules } from '../../src/repositories/engine-rules.js';
import { createTenant, type CreatedTenant } from '../../src/repositories/tenants.js';
import { mintTokens } from '../support/api-client.js';
import { useActivityOnlyRules } from '../support/engine-rules.js';
import { PacedSender, type PacedSenderReport } from '../support/paced-sender.js';
import { PulseProcess } from '../support/pulse-process.js';
import { RestartableRedis } from '../support/restartable-redis.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { TrackedClients, type ClientTally } from '../support/tracked-clients.js';
import { createTestDatabase, testEnv, type TestDatabase } from '../support/test-env.js';
import { until } from '../support/until.js';

/**
 * Faults injected into real processes (two hubs and a worker started from `src/roles/main.ts`, a Redis
 * of this file's own) while events flow at a steady pace over REST; at the end of each scenario
 * the counts must agree: events accepted with 202 (distinct ids) = rows in `events` = processed
 * markers = activity updates stored (each event's exactly once) = updates the users' connected
 * apps got, live or by `sync`. Each scenario has a tenant of its own, so counts never mix.
 */

const USERS = 240;
const FLOW = { batches: 40, batchSize: 30, intervalMs: 100 } as const;

interface Counts {
  events: number;
  processed: number;
  activity: number;
  activityEvents: number;
  outbox: number;
}

describe.sequential('fault suite: nothing accepted is lost or applied twice', () => {
  let database: TestDatabase;
  let redis: RestartableRedis;
  let env: Record<string, string>;
  let sql: postgres.Sql;
  let queueRedis: Redis;
  let queues: JobQueues;
  let hub1: PulseProcess;
  let hub2: PulseProcess;
  let worker: PulseProcess;
  const processes: PulseProcess[] = [];
  /** The hubs the senders and apps use; a test takes a dead one out. */
  let hubUrls: string[] = [];
  let deadlocksAtStart = 0;
  const summaries: string[] = [];

  const start = (role: 'hub' | 'worker', overrides: Record<string, string> = {}) => {
    const pulse = PulseProcess.start(role, { ...env, ...overrides });
    processes.push(pulse);
    return pulse;
  };
  const startWorker = async () => {
    const pulse = start('worker');
    await pulse.waitForLog((line) => line.message === 'workers started', 60_000);
    return pulse;
  };

  async function deadlocks(): Promise<number> {
    await sql`select pg_stat_clear_snapshot()`;
    const [row] = await sql<{ n: string }[]>`select deadlocks::text as n from pg_stat_database where datname = ${database.name}`;
    return Number(row?.n ?? 0);
  }

  async function tenantWith(name: string, rules: 'activity' | 'streaks'): Promise<CreatedTenant> {
    const handle = connectDatabase(database.url, { max: 1, applicationName: 'fault-suite' });
    try {
      const tenant = await createTenant(handle.db, { name, actor: 'test' });
      if (rules === 'activity') await useActivityOnlyRules(handle.db, tenant.tenantId);
      else await saveRules(handle.db, tenant.tenantId, engineRulesSchema.parse({ streaks: [{ key: 'daily' }], records: [], missions: { perDay: 0 } }), 'test');
      return tenant;
    } finally {
      await handle.close();
    }
  }

  async function counts(tenantId: string): Promise<Counts> {
    const [row] = await sql<Counts[]>`
      select
        (select count(*) from events where tenant_id = ${tenantId})::int as events,
        (select count(*) from processed_events p join events e on e.id = p.event_id where e.tenant_id = ${tenantId})::int as processed,
        (select count(*) from user_updates where tenant_id = ${tenantId} and type = 'activity:recorded')::int as activity,
        (select count(distinct payload->>'eventId') from user_updates where tenant_id = ${tenantId} and type = 'activity:recorded')::int as "activityEvents",
        (select count(*) from outbox where tenant_id = ${tenantId})::int as outbox`;
    if (!row) throw new Error('no counts');
    return row;
  }

  const processedOf = async (tenantId: string) => (await counts(tenantId)).processed;
  const requeuedTotal = async () => Number((await queueRedis.get(requeuedCounterKey(env.REDIS_PREFIX as string)).catch(() => null)) ?? 0);

  /**
   * Waits until every accepted event is applied and the apps have caught up, then checks that
   * every count agrees, and records the scenario's summary line.
   */
  async function settleAndCheck(
    label: string,
    tenant: CreatedTenant,
    sender: PacedSender,
    clients: TrackedClients | undefined,
    startedAt: number,
    options: { extra?: string; earlier?: PacedSenderReport } = {},
  ) {
    const sent = await sender.done;
    expect(sent.failures).toEqual([]);
    expect(sent.keyConflicts).toBe(0);
    expect(sent.accepted.size).toBe(FLOW.batches * FLOW.batchSize);
    // Events the tenant was given before the flow (scenario 6's first events) count as accepted too.
    const accepted = new Set([...(options.earlier?.accepted ?? []), ...sent.accepted]);
    const extra = options.extra ?? '';

    const settled = await until(() => counts(tenant.tenantId), (c) => c.processed === accepted.size && c.outbox === 0, 60_000);
    const appliedAt = Date.now();
    const stored = await sql<{ id: string }[]>`select id from events where tenant_id = ${tenant.tenantId}`;
    expect(new Set(stored.map((row) => row.id))).toEqual(accepted);
    expect(settled).toEqual({ events: accepted.size, processed: accepted.size, activity: accepted.size, activityEvents: accepted.size, outbox: 0 });
    const updateEvents = await sql<{ id: string }[]>`
      select payload->>'eventId' as id from user_updates where tenant_id = ${tenant.tenantId} and type = 'activity:recorded'`;
    expect(new Set(updateEvents.map((row) => row.id))).toEqual(accepted);

    let tally: ClientTally | undefined;
    if (clients) {
      await clients.catchUpAll();
      tally = clients.tally();
      expect(tally.errors).toEqual([]);
      expect(tally.doubled).toBe(0);
      expect(tally.updates).toBe(accepted.size);
      expect(tally.eventIds).toEqual(accepted);
    }
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    summaries.push(
      `fault-suite: ${label} — accepted ${accepted.size}, rows ${settled.events}, applied ${settled.processed}, ` +
        `stored updates ${settled.activity}` +
        (tally ? `, pushed ${tally.updates} (live ${tally.live}, by sync ${tally.bySync}, live repeats ${tally.liveRepeats}, reconnects ${tally.reconnects})` : '') +
        `, duplicates ${settled.activity - settled.activityEvents}; requests ${sent.requests}, retried ${sent.retries}, ` +
        `retry duplicates ${sent.duplicates}${extra}; all applied ${seconds(appliedAt - startedAt)} after the flow began`,
    );
    return { sent, tally, settled };
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    redis = await RestartableRedis.start({ ephemeral: false });
    env = await testEnv(database, {
      LOG_LEVEL: 'info',
      REDIS_URL: redis.url,
      RATE_LIMIT_TENANT_PER_SECOND: '100000',
      OUTBOX_REDELIVER_AFTER_SECONDS: '2',
      PUSH_REDELIVER_AFTER_SECONDS: '2',
      RECONCILE_INTERVAL_MS: '250',
      READINESS_TIMEOUT_MS: '500',
    });
    sql = postgres(database.url, { max: 2, onnotice: () => undefined });
    queueRedis = new Redis(redis.url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
    queueRedis.on('error', () => undefined);
    queues = new JobQueues(queueRedis, bullPrefix(env.REDIS_PREFIX as string));
    for (const queue of queues.queues.values()) queue.on('error', () => undefined);
    hub1 = start('hub');
    hub2 = start('hub');
    worker = start('worker');
    hubUrls = await Promise.all([hub1.listeningUrl(60_000), hub2.listeningUrl(60_000)]);
    await worker.waitForLog((line) => line.message === 'workers started', 60_000);
    deadlocksAtStart = await deadlocks();
  }, 120_000);

  afterAll(async () => {
    if (summaries.length > 0) process.stdout.write(`${summaries.join('\n')}\n`);
    for (const pulse of processes) if (pulse.child.exitCode === null && pulse.child.signalCode === null) pulse.kill('SIGKILL');
    await queues?.close().catch(() => undefined);
    queueRedis?.disconnect();
    await sql?.end();
    await database?.drop();
    await redis?.dispose();
  });

  const usersOf = (label: string) => Array.from({ length: USERS }, (_, i) => `${label}-${i}`);
  const flow = (tenant: CreatedTenant, users: readonly string[], keyPrefix: string) =>
    new PacedSender({ hubs: () => hubUrls, apiKey: tenant.apiKey, users, keyPrefix, ...FLOW });

  /**
   * Runs `scenario` on a new tenant of activity-only rules with an app connected for each of its
   * users (`<label>-<i>`), closing the apps however it ends. `startFlow` starts the paced flow of
   * events (keys prefixed with `label`) and notes when it began.
   */
  async function withConnectedApps(
    name: string,
    label: string,
    scenario: (run: { tenant: CreatedTenant; clients: TrackedClients; startFlow: () => { sender: PacedSender; startedAt: number } }) => Promise<void>,
  ) {
    const tenant = await tenantWith(name, 'activity');
    const users = usersOf(label);
    const clients = await TrackedClients.open(() => hubUrls, tenant.apiKey, users);
    try {
      await scenario({ tenant, clients, startFlow: () => ({ startedAt: Date.now(), sender: flow(tenant, users, label) }) });
    } finally {
      clients.close();
    }
  }

  it('1. worker SIGKILLed mid-batch, then restarted: every event applied and pushed once', { timeout: 120_000 }, async () => {
    await withConnectedApps('fault-worker-kill', 'wk', async ({ tenant, clients, startFlow }) => {
      const { startedAt, sender } = startFlow();
      // Mid-batch: some events applied, the worker holding jobs it has not finished.
      const { active } = await until(
        async () => ({ processed: await processedOf(tenant.tenantId), active: await queues.get('engagement').getActiveCount() }),
        (state) => state.processed >= 200 && state.active > 0,
        30_000,
      );
      const atKill = await processedOf(tenant.tenantId);
      worker.kill('SIGKILL');
      await worker.exit();
      expect(atKill).toBeLessThan(FLOW.batches * FLOW.batchSize);
      worker = await startWorker();
      const { tally } = await settleAndCheck('worker SIGKILL', tenant, sender, clients, startedAt, { extra: `; killed with ${active} jobs active, ${atKill} applied` });
      // Stored means pushed: the pushes the dead worker never handed over are pushed by the new one.
      expect(tally?.live).toBe(FLOW.batches * FLOW.batchSize);
    });
  });

  it('2. Redis restarted with its append-only file while events flow', { timeout: 120_000 }, async () => {
    await withConnectedApps('fault-redis-aof', 'aof', async ({ tenant, clients, startFlow }) => {
      const requeuedBefore = await requeuedTotal();
      const { startedAt, sender } = startFlow();
      await until(() => sender.batchesSent, (n) => n >= 10);
      await redis.stop();
      const downAt = Date.now();
      await sleep(1_000);
      const sentWhileDown = sender.batchesSent;
      await redis.start({ keepData: true });
      const downFor = Date.now() - downAt;
      await settleAndCheck('Redis restart (AOF)', tenant, sender, clients, startedAt, {
        extra: `; Redis down ${downFor} ms, batches accepted meanwhile ${sentWhileDown}`,
      });
      summaries[summaries.length - 1] += `, re-queued by the reconciler ${(await requeuedTotal()) - requeuedBefore}`;
      // Ingestion never needed Redis: batches kept being accepted while it was down.
      expect(sentWhileDown).toBeGreaterThan(10);
    });
  });

  it('3. Redis restarted without persistence while a backlog is queued: the reconciler hands it over again', { timeout: 120_000 }, async () => {
    await withConnectedApps('fault-redis-empty', 'empty', async ({ tenant, clients, startFlow }) => {
      try {
        const requeuedBefore = await requeuedTotal();
        await queues.get('engagement').pause();
        const { startedAt, sender } = startFlow();
        // A backlog relayed to Redis (the outbox rows stamped relayed) and none of it applied.
        const backlog = await until(
          async () => Number((await sql<{ n: number }[]>`select count(*)::int as n from outbox where tenant_id = ${tenant.tenantId} and relayed_at is not null`)[0]?.n),
          (n) => n >= 450,
          30_000,
        );
        expect(await processedOf(tenant.tenantId)).toBe(0);
        expect(await queues.get('engagement').count()).toBeGreaterThanOrEqual(backlog);
        await redis.stop();
        await redis.start({ keepData: false });
        // Redis came back empty: the queued jobs and the queue's pause are gone.
        expect(await queues.get('engagement').isPaused()).toBe(false);
        const { settled } = await settleAndCheck('Redis restart (no persistence, backlog queued)', tenant, sender, clients, startedAt, {
          extra: `; backlog lost with Redis ${backlog}`,
        });
        const requeued = (await requeuedTotal()) - requeuedBefore;
        summaries[summaries.length - 1] += `, re-queued by the reconciler ${requeued}`;
        expect(settled.processed).toBe(FLOW.batches * FLOW.batchSize);
        // The counter lives in Redis: it counts the re-queues made after the restart, i.e. the lost backlog.
        expect(requeued).toBeGreaterThanOrEqual(backlog);
      } finally {
        await queues.get('engagement').resume().catch(() => undefined);
      }
    });
  });

  it('4. a hub SIGKILLed with clients connected: they move to the other hub and catch up by sync', { timeout: 120_000 }, async () => {
    await withConnectedApps('fault-hub-kill', 'hub', async ({ tenant, clients, startFlow }) => {
      const { startedAt, sender } = startFlow();
      await until(() => sender.batchesSent, (n) => n >= 12);
      hub1.kill('SIGKILL');
      await hub1.exit();
      // The sender keeps hub 1 in its list for a while: its batches there fail and go again to hub 2, same keys.
      await until(() => sender.batchesSent, (n) => n >= 24);
      hubUrls = hubUrls.slice(1);
      const { sent, tally } = await settleAndCheck('hub SIGKILL', tenant, sender, clients, startedAt);
      expect(sent.retries).toBeGreaterThan(0);
      // Every app that was on hub 1 (every other one) moved over.
      expect(tally?.reconnects).toBeGreaterThanOrEqual(USERS / 2);
    });
  });

  it('5. /readyz is 503 while Postgres or Redis is down and 200 once it is back', { timeout: 90_000 }, async () => {
    const pg = new URL(database.url);
    const proxy = await TcpProxy.start({ host: pg.hostname, port: Number(pg.port) });
    const viaProxy = new URL(database.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const hub3 = start('hub', { DATABASE_URL: viaProxy.toString() });
    const steps: string[] = [];
    try {
      const url = await hub3.listeningUrl(60_000);
      const readiness = async () => {
        const response = await fetch(`${url}/readyz`);
        return { status: response.status, body: (await response.json()) as ReadinessReport };
      };
      const expectReadiness = async (status: number, failing: string[], label: string) => {
        const since = Date.now();
        const answer = await until(readiness, (r) => r.status === status, 15_000);
        expect(answer.body.failing).toEqual(failing);
        steps.push(`${label} ${status} (${Date.now() - since} ms)`);
      };
      await expectReadiness(200, [], 'up');

      await proxy.close();
      await expectReadiness(503, ['postgres'], 'Postgres down');
      await proxy.open();
      await expectReadiness(200, [], 'Postgres back');

      await redis.stop();
      await expectReadiness(503, ['redis'], 'Redis down');
      await redis.start({ keepData: false });
      await expectReadiness(200, [], 'Redis back');
      summaries.push(`fault-suite: readiness — ${steps.join(', ')}`);
    } finally {
      hub3.kill('SIGKILL');
      await proxy.close();
    }
  });

  it('6. at-risk checks and events for the same users at once: no deadlock, no failed job', { timeout: 120_000 }, async () => {
    const tenant = await tenantWith('fault-at-risk', 'streaks');
    const users = usersOf('risk');
    const ids = new Map<string, string>();
    for (let i = 0; i < users.length; i += 40) {
      const pairs = await Promise.all(users.slice(i, i + 40).map((userId) => mintTokens(hubUrls[0] as string, tenant.apiKey, { userId })));
      for (const pair of pairs) ids.set(pair.user.externalId, pair.user.id);
    }
    // A first event each: every user has a live streak, credited today.
    const first = new PacedSender({ hubs: () => hubUrls, apiKey: tenant.apiKey, users, keyPrefix: 'risk-first', batches: 1, batchSize: USERS, intervalMs: 0 });
    const firstSent = await first.done;
    await until(() => processedOf(tenant.tenantId), (n) => n === firstSent.accepted.size, 30_000);
    const live = await sql<{ n: number }[]>`select count(*)::int as n from streaks s join users u on u.id = s.user_id where u.tenant_id = ${tenant.tenantId} and s.current > 0`;
    expect(live[0]?.n).toBe(USERS);

    const logsBefore = worker.logs.length;
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const startedAt = Date.now();
    const sender = flow(tenant, users, 'risk');
    // Checks for every user, round after round, while events for the same users are applied.
    let checks = 0;
    for (let round = 0; sender.batchesSent < FLOW.batches && round < 40; round += 1) {
      await queues.enqueueMany(
        'streak.at-risk',
        users.map((userId) => ({
          payload: { tenantId: tenant.tenantId, userId: ids.get(userId) as string, streakKey: 'daily', day: tomorrow },
          options: { jobId: `fault-at-risk.${round}.${userId}`, removeOnComplete: true, removeOnFail: 1000 },
        })),
      );
      checks += users.length;
      await sleep(100);
    }
    await sender.done;
    const total = firstSent.accepted.size + FLOW.batches * FLOW.batchSize;
    await until(() => processedOf(tenant.tenantId), (n) => n === total, 60_000);
    // Every check ran (the delayed jobs left are the engine's own checks for tomorrow's at-risk hour).
    await until(() => queues.get('engagement').getJobCounts('waiting', 'active', 'prioritized'), (c) => Object.values(c).every((n) => n === 0), 60_000);
    const warned = Number((await sql<{ n: number }[]>`select count(*)::int as n from user_updates where tenant_id = ${tenant.tenantId} and type = 'streak:at_risk'`)[0]?.n);
    const failedJobs = await queues.get('engagement').getFailedCount();
    // A failed attempt that a retry then got through still shows in the worker's log.
    const troubles = worker.logs.slice(logsBefore).filter((line) => /job failed|batch failed|deadlock/i.test(JSON.stringify(line)));
    // A deadlock is counted by the backend that detects it and reaches pg_stat_database when that backend flushes its
    // statistics, at the latest when it ends: stop the worker (its connections close) before reading the count.
    worker.kill('SIGTERM');
    expect((await worker.exit()).code).toBe(0);
    await sleep(500);
    const deadlocksNow = await deadlocks();
    expect({ deadlocks: deadlocksNow - deadlocksAtStart, failedJobs, failedAttemptsLogged: troubles.length }).toEqual({ deadlocks: 0, failedJobs: 0, failedAttemptsLogged: 0 });
    await settleAndCheck('at-risk checks + events', tenant, sender, undefined, startedAt, {
      earlier: firstSent,
      extra: `; at-risk checks ${checks} (warnings stored ${warned}), failed jobs 0, deadlocks ${deadlocksNow - deadlocksAtStart} (whole file)`,
    });
    expect(checks).toBeGreaterThanOrEqual(USERS * 5);
  });
});
