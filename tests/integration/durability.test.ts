import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/repositories/tenants.js';
import { applyEvents } from '../../src/services/engine/apply-batch.js';
import { mintTokens, postEvents } from '../support/api-client.js';
import { ACTIVITY_ONLY_RULES, useActivityOnlyRules } from '../support/engine-rules.js';
import { RestartableRedis } from '../support/restartable-redis.js';
import { connected, openSocket, type TestSocket } from '../support/socket-client.js';
import { until } from '../support/until.js';
import { createTestDatabase, startTestHub, type TestDatabase, type TestHub } from '../support/test-env.js';

/**
 * Postgres is the record; Redis may lose everything. This file's hub has a Redis of its own that
 * keeps nothing on disk, restarted in place to lose its data while work is queued.
 */
describe('accepted means applied and stored means pushed, whatever Redis does', () => {
  let database: TestDatabase;
  let redis: RestartableRedis;
  let hub: TestHub;
  let tenant: { tenantId: string; apiKey: string };
  let sql: postgres.Sql;

  const count = async (query: Promise<{ n: number }[]>) => (await query)[0]?.n ?? 0;
  const engagementWorker = () => hub.workers?.workers.find((worker) => worker.name === 'engagement');

  beforeAll(async () => {
    database = await createTestDatabase();
    redis = await RestartableRedis.start({ ephemeral: true });
    hub = await startTestHub(database, { env: { REDIS_URL: redis.url, OUTBOX_REDELIVER_AFTER_SECONDS: '1', PUSH_REDELIVER_AFTER_SECONDS: '1', RECONCILE_INTERVAL_MS: '250' } });
    tenant = await createTenant(hub.context.database.db, { name: 'durability', actor: 'test' });
    await useActivityOnlyRules(hub.context.database.db, tenant.tenantId);
    sql = postgres(database.url, { max: 1, onnotice: () => undefined });
  });

  afterAll(async () => {
    await sql?.end();
    await hub?.stop();
    await redis?.dispose();
    await database?.drop();
  });

  it('applies every accepted event once after Redis restarts empty with the backlog queued, and restores the job schedulers', async () => {
    await engagementWorker()?.pause();
    const accepted: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const { status, body } = await postEvents(hub.url, tenant.apiKey, { events: Array.from({ length: 20 }, (_, j) => ({ type: 'lesson.done', userId: `learner-${j}` })) });
      expect(status).toBe(202);
      accepted.push(...body.accepted.map((event) => event.id));
    }
    // Every event is queued in Redis (relayed) and none applied.
    await until(() => count(sql`select count(*)::int as n from outbox where relayed_at is null`), (n) => n === 0);
    expect(await count(sql`select count(*)::int as n from outbox`)).toBe(accepted.length);
    expect(await hub.context.queues.get('engagement').getWaitingCount()).toBe(accepted.length);

    await redis.stop();
    await redis.start({ keepData: false });
    await until(() => hub.context.redis.ping().catch(() => 'down'), (answer) => answer === 'PONG');
    expect(await hub.context.queues.get('engagement').getWaitingCount()).toBe(0);
    void engagementWorker()?.resume();

    await until(() => count(sql`select count(*)::int as n from outbox`), (n) => n === 0, 30_000);
    const markers = await count(sql`select count(*)::int as n from processed_events where event_id = any(${accepted})`);
    expect(markers).toBe(accepted.length);
    // Applied exactly once: one activity update per event.
    const applied = await sql<{ n: number }[]>`
      select count(*)::int as n from user_updates where type = 'activity:recorded' and payload->>'eventId' = any(${accepted}) group by payload->>'eventId'`;
    expect(applied).toHaveLength(accepted.length);
    expect(applied.every((row) => row.n === 1)).toBe(true);
    const schedulers = await until(() => hub.context.queues.get('maintenance').getJobSchedulers(), (found) => found.length >= 3);
    expect(schedulers.map((scheduler) => scheduler.key).sort()).toEqual(['missions.sweep:every', 'signals.prune:hourly', 'user-updates.prune:daily']);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^pulse_outbox_requeued_total ${accepted.length}$`, 'm'));
  });

  it('pushes stored updates whose hand-off never happened (the worker died between commit and hand-off)', async () => {
    const member = await mintTokens(hub.url, tenant.apiKey, { userId: 'listener' });
    const socket: TestSocket = openSocket(hub.url, member.accessToken);
    await connected(socket);
    const received: number[] = [];
    socket.on('activity:recorded', (update) => void received.push(update.seq));
    try {
      const [event] = await sql<{ id: string; user_id: string }[]>`
        insert into events (id, tenant_id, user_id, type, occurred_at)
        select gen_random_uuid(), ${tenant.tenantId}, id, 'lesson.done', now() from users where tenant_id = ${tenant.tenantId} and external_id = 'listener'
        returning id, user_id`;
      if (!event) throw new Error('no event inserted');
      // What the engine commits, with no hand-off after it: as if the process died right after the commit.
      const rules = new Map([[tenant.tenantId, ACTIVITY_ONLY_RULES]]);
      const [result] = await applyEvents(hub.context.database.sql, [{ eventId: event.id, tenantId: tenant.tenantId, userId: event.user_id, event: { type: 'lesson.done', occurredAt: new Date().toISOString(), value: null } }], rules, new Date());
      const seq = result?.updates.at(-1)?.data.seq;
      expect(seq).toBeGreaterThan(0);
      expect(await count(sql`select count(*)::int as n from pending_pushes where user_id = ${event.user_id}`)).toBe(1);
      await until(() => received, (seqs) => seqs.includes(seq as number), 10_000);
      await until(() => count(sql`select count(*)::int as n from pending_pushes`), (n) => n === 0);
    } finally {
      socket.disconnect();
    }
  });
});
