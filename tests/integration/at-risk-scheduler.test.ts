import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { AtRiskScheduler, type AtRiskCheck } from '../../src/services/at-risk-checks.js';
import { jobDefinitions } from '../../src/contracts/queues.js';
import { bullPrefix, JobQueues } from '../../src/platform/queues/producer.js';
import { createRedis } from '../../src/platform/redis.js';
import { silentLogger } from '../support/silent-logger.js';
import { uniqueName } from '../support/test-env.js';

describe('at-risk scheduler', () => {
  const prefix = bullPrefix(uniqueName('at-risk'));
  // No offline queue: commands fail at once while the connection is down.
  const redis = createRedis(inject('redisUrl'), 'probe', silentLogger(), 'at-risk-test');
  const queues = new JobQueues(redis, prefix);
  const tenantId = randomUUID();
  const checkOn = (day: string): AtRiskCheck => ({ streakKey: 'daily', day, at: new Date(Date.now() + 3_600_000) });
  /** The user's delayed checks, as their payloads, and a way to remove each. */
  const jobsOf = async (userId: string) =>
    (await queues.get(jobDefinitions['streak.at-risk'].queue).getJobs(['delayed']))
      .map((job) => ({ data: jobDefinitions['streak.at-risk'].payload.parse(job.data), remove: () => job.remove() }))
      .filter((job) => job.data.userId === userId);

  afterAll(async () => {
    await queues.get('engagement').obliterate({ force: true });
    await queues.close();
    await redis.quit();
  });

  it('asks Redis once per check until it is due, and again for a check of another day', async () => {
    const scheduler = new AtRiskScheduler(queues);
    const userId = randomUUID();
    await scheduler.schedule([{ tenantId, userId, checks: [checkOn('2026-12-02')] }]);
    const [first] = await jobsOf(userId);
    expect(first?.data).toEqual({ tenantId, userId, streakKey: 'daily', day: '2026-12-02' });
    // Removed behind its back, the check is not asked for again: this process scheduled it already.
    await first?.remove();
    await scheduler.schedule([{ tenantId, userId, checks: [checkOn('2026-12-02')] }]);
    expect(await jobsOf(userId)).toEqual([]);

    await scheduler.schedule([{ tenantId, userId, checks: [checkOn('2026-12-03')] }]);
    expect((await jobsOf(userId)).map((job) => job.data.day)).toEqual(['2026-12-03']);
  });

  it('does not remember a check whose scheduling failed', async () => {
    const scheduler = new AtRiskScheduler(queues);
    const userId = randomUUID();
    // Dropped; ioredis reconnects on its own a moment later.
    const back = once(redis, 'ready');
    redis.disconnect(true);
    await expect(scheduler.schedule([{ tenantId, userId, checks: [checkOn('2026-12-02')] }])).rejects.toThrow();
    await back;
    await scheduler.schedule([{ tenantId, userId, checks: [checkOn('2026-12-02')] }]);
    expect((await jobsOf(userId)).map((job) => job.data.day)).toEqual(['2026-12-02']);
  });
});
