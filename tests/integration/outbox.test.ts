import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/repositories/tenants.js';
import { startLocalRedis } from '../../src/platform/local-services/index.js';
import { postEvents } from '../support/api-client.js';
import { silentLogger } from '../support/silent-logger.js';
import { until } from '../support/until.js';
import { createTestDatabase, startTestHub, type TestDatabase, type TestHub } from '../support/test-env.js';

/**
 * The relay runs in the worker role; this file's hub has its own Redis (stopped and restarted
 * in place) so the outage does not disturb other test files.
 */
describe('transactional outbox', () => {
  let database: TestDatabase;
  let dataDir: string;
  let redisPort: number;
  let stopRedis: () => Promise<void>;
  let hub: TestHub;
  let apiKey: string;
  let sql: postgres.Sql;

  const startRedis = async (port?: number) => {
    const server = await startLocalRedis({ dataDir, ephemeral: false, port, redisServerBin: 'redis-server', logger: silentLogger() });
    stopRedis = server.stop;
    return server.url;
  };
  const outboxSize = async () => Number((await sql<{ n: string }[]>`select count(*) as n from outbox`)[0]?.n);
  const engagement = () => hub.context.queues.get('engagement');

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'pulse-outbox-'));
    const redisUrl = await startRedis();
    redisPort = Number(new URL(redisUrl).port);
    hub = await startTestHub(database, { env: { REDIS_URL: redisUrl } });
    apiKey = (await createTenant(hub.context.database.db, { name: 'outbox', actor: 'test' })).apiKey;
    sql = postgres(database.url, { max: 1, onnotice: () => undefined });
  });

  afterAll(async () => {
    await sql?.end();
    await hub?.stop();
    await stopRedis?.();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('relays each committed event to the engagement queue under its own id', async () => {
    const occurredAt = new Date(Date.now() - 60_000).toISOString();
    const posted = [
      { type: 'lesson.done', userId: 'u1', occurredAt, value: 2.5 },
      { type: 'quiz.passed', userId: 'u2', occurredAt },
    ];
    const { status, body } = await postEvents(hub.url, apiKey, { events: posted });
    expect(status).toBe(202);
    await until(outboxSize, (size) => size === 0);
    for (const [i, accepted] of body.accepted.entries()) {
      const job = await engagement().getJob(accepted.id);
      expect(job?.name).toBe('engagement.event');
      // The job carries what the engine needs of the event, so the engine does not read it again.
      expect(job?.data).toEqual({
        eventId: accepted.id,
        tenantId: expect.any(String),
        userId: expect.any(String),
        event: { type: posted[i]?.type, occurredAt, value: posted[i]?.value ?? null },
      });
    }
  });

  it('keeps accepting while Redis is down, then relays the backlog exactly once per event', async () => {
    await until(outboxSize, (size) => size === 0);

    await stopRedis();
    const accepted: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const events = Array.from({ length: 4 }, (_, j) => ({ type: 'quiz.answered', userId: `u${j}`, idempotencyKey: `outage-${i}-${j}` }));
      const { status, body } = await postEvents(hub.url, apiKey, { events });
      expect(status).toBe(202);
      accepted.push(...body.accepted.map((event) => event.id));
    }
    // A retried request during the outage is deduplicated in Postgres, not queued twice.
    const retry = await postEvents(hub.url, apiKey, { type: 'quiz.answered', userId: 'u0', idempotencyKey: 'outage-0-0' });
    expect(retry.body.accepted[0]).toMatchObject({ id: accepted[0], duplicate: true });
    expect(await outboxSize()).toBe(accepted.length);

    await startRedis(redisPort);
    await until(outboxSize, (size) => size === 0);
    const jobs = await Promise.all(accepted.map((id) => engagement().getJob(id)));
    expect(jobs.map((job) => job?.id)).toEqual(accepted);
    // Each event was then applied exactly once: one activity update per accepted event.
    const applied = () => sql<{ event_id: string; n: number }[]>`
      select payload->>'eventId' as event_id, count(*)::int as n from user_updates
      where type = 'activity:recorded' and payload->>'eventId' = any(${accepted}) group by 1`;
    const rows = await until(applied, (found) => found.length === accepted.length);
    expect(rows.every((row) => row.n === 1)).toBe(true);
  });
});
