import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../../src/repositories/db/client.js';
import { bullPrefix, JobQueues } from '../../src/platform/queues/producer.js';
import { createRedis } from '../../src/platform/redis.js';
import { OutboxRelay } from '../../src/workers/outbox-relay.js';
import { silentLogger } from '../support/silent-logger.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/test-env.js';
import { until } from '../support/until.js';

describe('outbox relay', () => {
  let database: TestDatabase;
  let handle: DatabaseHandle;
  let sql: postgres.Sql;
  const redis = createRedis(inject('redisUrl'), 'command', silentLogger(), 'outbox-relay-test');
  const queues = new JobQueues(redis, bullPrefix(uniqueName('relay')));

  beforeAll(async () => {
    database = await createTestDatabase();
    handle = connectDatabase(database.url, { max: 4, applicationName: 'outbox-relay-test' });
    sql = postgres(database.url, { max: 1, onnotice: () => undefined });
  });

  afterAll(async () => {
    await queues.get('engagement').obliterate({ force: true });
    await queues.close();
    await redis.quit();
    await sql.end();
    await handle.close();
    await database.drop();
  });

  const insertOutboxRow = async () => {
    const eventId = randomUUID();
    await sql`insert into outbox (event_id, tenant_id, user_id, type, occurred_at) values (${eventId}, ${randomUUID()}, ${randomUUID()}, 'lesson.done', now())`;
    return eventId;
  };

  it('relays a batch in outbox order, stamping the rows relayed (they stay until the engine applies them)', async () => {
    const engagement = queues.get('engagement');
    await engagement.obliterate({ force: true });
    const inserted: string[] = [];
    for (let i = 0; i < 20; i += 1) inserted.push(await insertOutboxRow());
    const relay = new OutboxRelay({ sql: handle.sql, queues, logger: silentLogger(), pollIntervalMs: 60_000 });
    expect(await relay.relayBatch()).toBe(20);
    const waiting = await engagement.getJobs(['waiting'], 0, -1, true);
    expect(waiting.map((job) => job.id)).toEqual(inserted);
    expect(await sql`select 1 from outbox where relayed_at is null`).toHaveLength(0);
    expect(await sql`select 1 from outbox where relayed_at is not null`).toHaveLength(20);
    expect(await relay.relayBatch()).toBe(0);
  });

  it('stops at once when asked while relaying a batch', async () => {
    await insertOutboxRow();
    let batches = 0;
    let stopping: Promise<void> | undefined;
    // The first batch relays the row; the stop comes during the next one, which finds nothing.
    class StoppedMidBatch extends OutboxRelay {
      override async relayBatch(): Promise<number> {
        batches += 1;
        if (batches === 2) stopping = this.stop();
        return super.relayBatch();
      }
    }
    const relay = new StoppedMidBatch({ sql: handle.sql, queues, logger: silentLogger(), pollIntervalMs: 60_000 });
    await relay.start();
    await until(() => batches, (n) => n >= 2);
    const asked = Date.now();
    await stopping;
    expect(Date.now() - asked).toBeLessThan(5_000);
    expect(batches).toBe(2);
  });

  it('relays a row whose notification came while it was relaying, without waiting for the next poll', async () => {
    let raced: string | undefined;
    // The row commits (and notifies) after this batch's snapshot found nothing and before the relay waits.
    class RacedRelay extends OutboxRelay {
      override async relayBatch(): Promise<number> {
        const moved = await super.relayBatch();
        if (moved === 0 && raced === undefined) {
          raced = await insertOutboxRow();
          await sleep(200);
        }
        return moved;
      }
    }
    const relay = new RacedRelay({ sql: handle.sql, queues, logger: silentLogger(), pollIntervalMs: 60_000 });
    await relay.start();
    try {
      const job = await until(
        async () => (raced ? queues.get('engagement').getJob(raced) : undefined),
        (found) => found !== undefined,
        5_000,
      );
      expect(job?.data).toMatchObject({ eventId: raced, event: { type: 'lesson.done', value: null } });
    } finally {
      await relay.stop();
    }
  });
});
