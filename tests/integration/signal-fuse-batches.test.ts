import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bullPrefix, JobQueues } from '../../src/platform/queues/producer.js';
import { createRedis } from '../../src/platform/redis.js';
import { connectDatabase, type DatabaseHandle } from '../../src/repositories/db/client.js';
import { RulesCache } from '../../src/repositories/engine-rules.js';
import { insertReadings } from '../../src/repositories/signals.js';
import { createSignalFuseHandler } from '../../src/workers/processors/signals-fuse.js';
import { silentLogger } from '../support/silent-logger.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/test-env.js';

const KEYS = 40;
const SOURCES = ['a', 'b', 'c'];
const MIN_INTERVAL_MS = 300;

describe('signals.fuse: tenant-wide signals fused by group commit', () => {
  let database: TestDatabase;
  let handle: DatabaseHandle;
  let sql: postgres.Sql;
  let tenantId: string;
  const logger = silentLogger();
  const redis = createRedis(inject('redisUrl'), 'probe', logger, 'fuse-batches-test');
  const queues = new JobQueues(redis, bullPrefix(uniqueName('fuse-batches')));
  const batches: number[] = [];
  const context = { logger, jobId: 'test', attempt: 1 };

  beforeAll(async () => {
    database = await createTestDatabase();
    handle = connectDatabase(database.url, { max: 4, applicationName: 'fuse-batches-test' });
    // postgres.js learns the array types on its first query: an array parameter of that very query would go as a scalar.
    await handle.sql`select 1`;
    sql = postgres(database.url, { max: 1, onnotice: () => undefined });
    const [tenant] = await sql<{ id: string }[]>`insert into tenants (name) values ('fuse-batches') returning id`;
    tenantId = tenant?.id ?? '';
  });

  afterAll(async () => {
    await queues.get('realtime').obliterate({ force: true });
    await queues.close();
    await redis.quit();
    await sql?.end();
    await handle?.close();
    await database?.drop();
  });

  /** Stores readings of tenant-wide signals, observed now. */
  const post = (readings: { key: string; source: string; value: number }[]) =>
    insertReadings(handle.sql, readings.map((reading) => ({ ...reading, id: randomUUID(), tenantId, userId: null, sigma: 1, unit: 'm', observedAt: new Date().toISOString(), idempotencyKey: `${reading.key}:${reading.source}:${reading.value}` })));

  it('fuses many signals asked for at once in a few batches, each from every source, and pushes each result', async () => {
    const handler = createSignalFuseHandler({ sql: handle.sql, queues, rules: new RulesCache(handle.sql), logger, minIntervalMs: MIN_INTERVAL_MS, onBatch: (size) => batches.push(size) });
    const keys = Array.from({ length: KEYS }, (_, i) => `batch.k${i}`);
    await post(keys.flatMap((key, i) => SOURCES.map((source, j) => ({ key, source, value: i + j }))));

    const results = await Promise.all(keys.map((key) => handler.handle({ tenantId, userId: null, key }, context)));
    // Equal sigmas and (nearly) equal ages: each value is the mean of its three sources, i + 1.
    results.forEach((result, i) => expect(result).toEqual({ fused: true, value: expect.closeTo(i + 1, 2) as number }));
    // The first two go at once (two commits in flight); every other one waits for the next commit.
    expect(batches.reduce((sum, size) => sum + size, 0)).toBe(KEYS);
    expect(batches.length).toBeLessThanOrEqual(3);

    const stored = await sql<{ key: string; inputs: unknown[] }[]>`select key, inputs from fused_signals where tenant_id = ${tenantId} and user_id is null`;
    expect(stored).toHaveLength(KEYS);
    expect(stored.every((row) => row.inputs.length === SOURCES.length)).toBe(true);
    expect((await sql`select 1 from fused_signal_history where tenant_id = ${tenantId}`).length).toBe(KEYS);
    expect((await sql`select 1 from outbox where kind = 'signal' and tenant_id = ${tenantId}`).length).toBe(0);
    expect((await queues.get('realtime').getJobs(['waiting'])).filter((job) => job.name === 'realtime.signal')).toHaveLength(KEYS);
  });

  it('holds back a signal fused less than the interval ago until the interval has passed, then fuses its newest readings', async () => {
    const handler = createSignalFuseHandler({ sql: handle.sql, queues, rules: new RulesCache(handle.sql), logger, minIntervalMs: MIN_INTERVAL_MS });
    const key = 'batch.k0';
    const [before] = await sql<{ computed_at: Date }[]>`select computed_at from fused_signals where tenant_id = ${tenantId} and key = ${key}`;
    await post([{ key, source: 'a', value: 5 }, { key, source: 'b', value: 6 }]);
    // The other keys fused just as recently, but nothing asks for them: the held-back one does not hold up the batch.
    const [result, other] = await Promise.all([
      handler.handle({ tenantId, userId: null, key }, context),
      handler.handle({ tenantId, userId: null, key: 'batch.unknown' }, context),
    ]);
    expect(other).toEqual({ fused: false });
    expect(result).toEqual({ fused: true, value: expect.closeTo((5 + 6 + 2) / 3, 2) as number });
    const [after] = await sql<{ computed_at: Date }[]>`select computed_at from fused_signals where tenant_id = ${tenantId} and key = ${key}`;
    expect((after?.computed_at.getTime() ?? 0) - (before?.computed_at.getTime() ?? 0)).toBeGreaterThanOrEqual(MIN_INTERVAL_MS);
    expect((await sql`select 1 from outbox where kind = 'signal' and tenant_id = ${tenantId}`).length).toBe(0);
  });
});
