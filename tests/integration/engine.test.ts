import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { UserState } from '../../src/contracts/api/state.js';
import { engineRulesSchema } from '../../src/contracts/api/rules.js';
import { localDay, nextLocalDay } from '../../src/domain/calendar.js';
import { jobDefinitions } from '../../src/contracts/queues.js';
import { bullPrefix, JobQueues } from '../../src/platform/queues/producer.js';
import { RulesCache } from '../../src/repositories/engine-rules.js';
import { Leaderboards } from '../../src/repositories/leaderboards.js';
import type { CreatedTenant } from '../../src/repositories/tenants.js';
import { userUpdateNames, type UserUpdate } from '../../src/contracts/socket/user-updates.js';
import { applyEvents } from '../../src/services/engine/apply-batch.js';
import { createEngagementHandler } from '../../src/workers/processors/engagement-event.js';
import { createStreakAtRiskHandler } from '../../src/workers/processors/streak-at-risk.js';
import { apiJson, mintTokens, postEvents } from '../support/api-client.js';
import { silentLogger } from '../support/silent-logger.js';
import { connected, openSocket, type TestSocket } from '../support/socket-client.js';
import { useTenantHub } from '../support/tenant-hub.js';
import type { TestHub } from '../support/test-env.js';
import { storeEvent } from '../support/stored-events.js';
import { until } from '../support/until.js';

const HOUR = 3_600_000;
/** No DST, so "24 hours earlier" is always the previous local day. */
const ZONE = 'Asia/Kolkata';

const rules = engineRulesSchema.parse({
  lateEventGraceHours: 24 * 7,
  streaks: [{ key: 'daily', milestones: [{ days: 3, reward: { kind: 'points', amount: 30 } }] }],
  missions: { perDay: 1, templates: [{ key: 'twice', eventType: '*', targetMin: 2, targetMax: 2, reward: { kind: 'points', amount: 10 } }] },
});

describe('engagement engine', () => {
  const fixture = useTenantHub('engine', { rules });
  let hub: TestHub;
  let tenant: CreatedTenant;
  let sql: postgres.Sql;
  beforeAll(() => ({ hub, tenant, sql } = fixture));
  const { sockets } = fixture;

  /** Every user update a socket receives, in arrival order. */
  function recordUpdates(socket: TestSocket): UserUpdate[] {
    const received: UserUpdate[] = [];
    socket.onAny((event: string, data: UserUpdate['data']) => {
      if (((userUpdateNames as readonly string[])).includes(event)) received.push({ event, data } as UserUpdate);
    });
    return received;
  }

  const processedCount = async (externalId: string) =>
    Number(
      (await sql`select count(*)::int as n from processed_events p join events e on e.id = p.event_id join users u on u.id = e.user_id where u.external_id = ${externalId}`)[0]
        ?.n,
    );

  it('applies streaks, missions, records and rewards, pushes them gap-free, and the state agrees with them', async () => {
    const tokens = await mintTokens(hub.url, tenant.apiKey, { userId: 'ada', timezone: ZONE });
    const socket = openSocket(hub.url, tokens.accessToken);
    sockets.push(socket);
    await connected(socket);
    const received = recordUpdates(socket);

    // Two events on each of three consecutive local days, the last one now.
    const now = Date.now() - 60_000;
    const instants = [48, 48, 24, 24, 0, 0].map((hoursAgo, i) => new Date(now - hoursAgo * HOUR + i * 1000));
    for (const [i, at] of instants.entries()) {
      const posted = await postEvents(hub.url, tenant.apiKey, { type: 'lesson.done', userId: 'ada', occurredAt: at.toISOString(), value: i + 1 });
      expect(posted.status).toBe(202);
      // One at a time, so the streak is seen growing day by day.
      await until(() => processedCount('ada'), (n) => n === i + 1);
    }
    const state = (await apiJson<UserState>(hub.url, 'GET', '/api/v1/me/state', { token: tokens.accessToken })).body;
    await until(
      () => received.length,
      (n) => n >= state.seq,
    );

    expect(received.map((update) => update.data.seq)).toEqual(Array.from({ length: state.seq }, (_, i) => i + 1));
    const ofType = <E extends UserUpdate['event']>(event: E) => received.filter((update): update is Extract<UserUpdate, { event: E }> => update.event === event);
    expect(ofType('activity:recorded')).toHaveLength(6);
    expect(ofType('streak:updated').map((update) => update.data.current)).toEqual([1, 2, 3]);
    expect(ofType('missions:assigned')).toHaveLength(3);
    expect(ofType('mission:progressed')).toHaveLength(3);
    expect(ofType('mission:completed')).toHaveLength(3);
    const grants = ofType('reward:granted').map((update) => update.data);
    expect(grants.map((grant) => grant.reward.source).sort()).toEqual(['mission', 'mission', 'mission', 'streak']);
    expect(grants.at(-1)?.points).toBe(60);
    const bestValues = ofType('record:broken').filter((update) => update.data.key === 'best-value');
    expect(bestValues.map((update) => [update.data.value, update.data.previous])).toEqual([
      [1, null],
      [2, 1],
      [3, 2],
      [4, 3],
      [5, 4],
      [6, 5],
    ]);

    const today = localDay(instants[5] as Date, ZONE);
    expect(state).toMatchObject({
      timeZone: ZONE,
      today,
      points: 60,
      streaks: [{ key: 'daily', current: 3, longest: 3, lastDay: today, alive: true, atRisk: false }],
      missions: { day: today, items: [{ templateKey: 'twice', progress: 2, target: 2, completed: true }] },
    });
    expect(state.records).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: 'best-value', best: 6 }),
        expect.objectContaining({ key: 'most-active-day', best: 2 }),
      ]),
    );
  });

  it("schedules the next day's at-risk check at 20:00 local, which warns only while that day has no event", async () => {
    const [ada] = await sql<{ id: string }[]>`select id from users where external_id = 'ada' and tenant_id = ${tenant.tenantId}`;
    const adaId = ada?.id as string;
    const today = localDay(new Date(), ZONE);
    const tomorrow = nextLocalDay(today, ZONE);
    const job = await hub.context.queues.get('engagement').getJob(`at-risk.${adaId}.${tomorrow}.daily`);
    expect(job?.data).toEqual({ tenantId: tenant.tenantId, userId: adaId, streakKey: 'daily', day: tomorrow });
    // 20:00 in Kolkata is 14:30 UTC (BullMQ stamps the job a moment after the delay was computed).
    expect(Math.abs((job?.timestamp ?? 0) + (job?.delay ?? 0) - Date.parse(`${tomorrow}T14:30:00Z`))).toBeLessThan(2_000);

    const check = createStreakAtRiskHandler({ sql: hub.context.database.sql, queues: hub.context.queues });
    const context = { logger: silentLogger(), jobId: 'test', attempt: 1 };
    expect(await check.handle({ tenantId: tenant.tenantId, userId: adaId, streakKey: 'daily', day: today }, context)).toEqual({ warned: false });
    expect(await check.handle({ tenantId: tenant.tenantId, userId: adaId, streakKey: 'daily', day: tomorrow }, context)).toEqual({ warned: true });
    const [warning] = await sql<{ payload: Record<string, unknown> }[]>`
      select payload from user_updates where user_id = ${adaId} and type = 'streak:at_risk'`;
    expect(warning?.payload).toEqual({ key: 'daily', current: 3, day: tomorrow, freezes: 0 });
  });

  it('applies an event once however often its job is delivered', async () => {
    const posts = await Promise.all(
      Array.from({ length: 20 }, () => postEvents(hub.url, tenant.apiKey, { type: 'quiz.passed', userId: 'bob', idempotencyKey: 'quiz-1' })),
    );
    const ids = new Set(posts.map((post) => post.body.accepted[0]?.id));
    expect(ids.size).toBe(1);
    const eventId = [...ids][0] as string;
    await until(() => processedCount('bob'), (n) => n === 1);
    const [stored] = await sql<{ user_id: string; type: string; occurred_at: Date; value: number | null }[]>`
      select user_id, type, occurred_at, value from events where id = ${eventId}`;
    const payload = { eventId, tenantId: tenant.tenantId, userId: stored?.user_id as string };
    const event = { type: stored?.type as string, occurredAt: (stored?.occurred_at as Date).toISOString(), value: stored?.value ?? null };
    // BullMQ delivers at least once: twenty redeliveries of the same event, racing each other.
    const jobs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => hub.context.queues.enqueue('engagement.event', { ...payload, event }, { jobId: `redelivery-${i}` })),
    );
    await until(
      async () => Promise.all(jobs.map((job) => job.getState())),
      (states) => states.every((state) => state === 'completed'),
    );

    const [mission] = await sql<{ progress: number }[]>`select progress from user_missions where user_id = ${payload.userId}`;
    expect(mission?.progress).toBe(1);
    const activity = await sql`select 1 from user_updates where user_id = ${payload.userId} and type = 'activity:recorded'`;
    expect(activity).toHaveLength(1);
    const streak = await sql<{ current: number }[]>`select current from streaks where user_id = ${payload.userId}`;
    expect(streak).toEqual([{ current: 1 }]);
  });

  it('applies concurrent events in shared transactions, each user in order, and a bad job fails alone', async () => {
    const logger = silentLogger();
    const warn = vi.spyOn(logger, 'warn');
    const handler = createEngagementHandler({
      sql: hub.context.database.sql,
      queues: hub.context.queues,
      rules: new RulesCache(hub.context.database.sql),
      leaderboards: new Leaderboards(hub.context.redis, hub.config.REDIS_PREFIX),
      logger,
    });
    const users = await Promise.all(['gus', 'hal'].map(async (userId) => (await mintTokens(hub.url, tenant.apiKey, { userId, timezone: ZONE })).user.id));
    const jobs = await Promise.all(Array.from({ length: 8 }, (_, i) => storeEvent(sql, { tenantId: tenant.tenantId, userId: users[i % 2] as string })));
    // A job whose instant Postgres cannot read (the queue's payload schema stops such a job before any handler).
    const good = jobs[7] as (typeof jobs)[number];
    const bad = { ...good, event: { ...good.event, occurredAt: 'the day after tomorrow' } };
    const context = { logger: silentLogger(), jobId: 'test', attempt: 1 };
    const outcomes = await Promise.allSettled([...jobs.slice(0, 7), bad].map((job) => handler.handle(job, context)));
    // The bad job shared a transaction with good ones, which were then applied one by one.
    expect(warn).toHaveBeenCalledWith('engine batch failed; applying its events one by one', expect.objectContaining({ events: expect.any(Number) }));

    expect(outcomes.slice(0, 7).map((outcome) => outcome.status)).toEqual(Array(7).fill('fulfilled'));
    expect(outcomes[7]).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: expect.stringContaining('invalid input syntax for type timestamp') }) });
    // A job whose user is gone since it was relayed (events go with their user) has nothing to apply.
    expect(await handler.handle({ ...(jobs[0] as (typeof jobs)[number]), eventId: randomUUID(), userId: '00000000-0000-7000-8000-000000000000' }, context)).toEqual({
      updates: 0,
    });
    for (const userId of users) {
      const seqs = await sql<{ seq: string }[]>`select seq from user_updates where user_id = ${userId} order by seq`;
      expect(seqs.map((row) => Number(row.seq))).toEqual(seqs.map((_, i) => i + 1));
      const activities = await sql`select 1 from user_updates where user_id = ${userId} and type = 'activity:recorded'`;
      expect(activities).toHaveLength(userId === users[0] ? 4 : 3);
    }
    const marked = await sql`select 1 from processed_events where event_id = any(${jobs.map((job) => job.eventId)}::uuid[])`;
    expect(marked).toHaveLength(7);
    // Handed over again, the applied ones change nothing.
    expect(await Promise.all(jobs.slice(0, 7).map((job) => handler.handle(job, context)))).toEqual(Array(7).fill({ updates: 0 }));
  });

  it("hands a committed batch's updates to the hubs as one realtime job", async () => {
    // Queues of their own, which no hub consumes, so the hand-off stays visible.
    const queues = new JobQueues(hub.context.redis, bullPrefix(`${hub.config.REDIS_PREFIX}-handoff-${Date.now()}`));
    const handler = createEngagementHandler({
      sql: hub.context.database.sql,
      queues,
      rules: new RulesCache(hub.context.database.sql),
      leaderboards: new Leaderboards(hub.context.redis, hub.config.REDIS_PREFIX),
      logger: silentLogger(),
    });
    const userId = (await mintTokens(hub.url, tenant.apiKey, { userId: 'jan', timezone: ZONE })).user.id;
    const job = await storeEvent(sql, { tenantId: tenant.tenantId, userId });
    const outcome = (await handler.handle(job, { logger: silentLogger(), jobId: 'test', attempt: 1 })) as { updates: number };
    await handler.settled();
    const realtime = queues.get(jobDefinitions['realtime.deliver'].queue);
    try {
      const [delivery] = await realtime.getJobs(['waiting']);
      const { deliveries } = jobDefinitions['realtime.deliver'].payload.parse(delivery?.data);
      expect(deliveries.map((entry) => [entry.userId, entry.updates.length])).toEqual([[userId, outcome.updates]]);
      expect(outcome.updates).toBeGreaterThan(0);
    } finally {
      await realtime.obliterate({ force: true });
      await queues.close();
    }
  });

  it("applies a batch's events of one user in occurredAt order and refolds the streak for a late day", async () => {
    const userId = (await mintTokens(hub.url, tenant.apiKey, { userId: 'ivy', timezone: ZONE })).user.id;
    const now = new Date();
    const insertEvent = (hoursAgo: number) => storeEvent(sql, { tenantId: tenant.tenantId, userId, occurredAt: new Date(now.getTime() - hoursAgo * HOUR) });
    const day = (hoursAgo: number) => localDay(new Date(now.getTime() - hoursAgo * HOUR), ZONE);
    const tenantRules = new Map([[tenant.tenantId, rules]]);
    const streakUpdates = async () =>
      (await sql<{ payload: { current: number; lastDay: string } }[]>`
        select payload from user_updates where user_id = ${userId} and type = 'streak:updated' order by seq`).map((row) => [row.payload.current, row.payload.lastDay]);

    // Handed over newest first, in one batch: applied oldest first, so the streak simply grows.
    const [today, yesterday] = [await insertEvent(0), await insertEvent(24)];
    await applyEvents(hub.context.database.sql, [today, yesterday], tenantRules, now);
    const activity = await sql<{ payload: { occurredAt: string } }[]>`select payload from user_updates where user_id = ${userId} and type = 'activity:recorded' order by seq`;
    expect(activity.map((row) => Date.parse(row.payload.occurredAt))).toEqual([now.getTime() - 24 * HOUR, now.getTime()]);
    expect(await streakUpdates()).toEqual([
      [1, day(24)],
      [2, day(0)],
    ]);

    // Two days ago arrives late (within the grace): the streak is refolded from every credited day.
    // Yesterday again, also late, is credited already: no streak change.
    await applyEvents(hub.context.database.sql, [await insertEvent(48), await insertEvent(25)], tenantRules, now);
    expect((await streakUpdates()).slice(2)).toEqual([[3, day(0)]]);
    const [streak] = await sql<{ current: number; longest: number; last_day: string }[]>`select current, longest, last_day::text from streaks where user_id = ${userId}`;
    expect(streak).toEqual({ current: 3, longest: 3, last_day: day(0) });
    const days = await sql<{ day: string }[]>`select day::text from streak_days where user_id = ${userId} order by day`;
    expect(days.map((row) => row.day)).toEqual([day(48), day(24), day(0)]);
    // The late day reached the 3-day milestone: granted once.
    const milestones = await sql`select 1 from rewards where user_id = ${userId} and source = 'streak'`;
    expect(milestones).toHaveLength(1);
  });

  it('adds campaign points inside the window, grants each tier once and scores the leaderboard', async () => {
    await sql`
      insert into campaigns (tenant_id, key, name, starts_at, ends_at, point_rules, tiers)
      values (${tenant.tenantId}, 'autumn', 'Autumn push', now() - interval '1 day', now() + interval '1 day',
              ${sql.json({ 'run.done': 5, '*': 1 })},
              ${sql.json([{ points: 10, reward: { kind: 'badge', badge: 'autumn-10' } }, { points: 12, reward: { kind: 'points', amount: 7 } }])})`;
    for (const type of ['run.done', 'run.done', 'walk.done', 'walk.done', 'run.done']) {
      await postEvents(hub.url, tenant.apiKey, { type, userId: 'dan' });
    }
    // Outside the window: counts for nothing.
    await postEvents(hub.url, tenant.apiKey, { type: 'run.done', userId: 'dan', occurredAt: new Date(Date.now() - 3 * 24 * HOUR).toISOString() });
    await until(() => processedCount('dan'), (n) => n === 6);
    const [progress] = await sql<{ points: number; tier: number; user_id: string }[]>`
      select p.points, p.tier, p.user_id from campaign_progress p join campaigns c on c.id = p.campaign_id where c.key = 'autumn'`;
    expect(progress).toMatchObject({ points: 17, tier: 2 });
    const grants = await sql`select source_key, kind from rewards where user_id = ${progress?.user_id as string} and source = 'campaign' order by source_key`;
    expect(grants).toEqual([
      { source_key: 'autumn:tier-1', kind: 'badge' },
      { source_key: 'autumn:tier-2', kind: 'points' },
    ]);
    const score = await hub.context.redis.zscore(`${hub.config.REDIS_PREFIX}:leaderboard:${tenant.tenantId}:autumn`, progress?.user_id as string);
    expect(Number(score)).toBe(17);
  });

  it('lets the API key and admins read and replace the rules, validated and audited', async () => {
    const member = await mintTokens(hub.url, tenant.apiKey, { userId: 'member' });
    expect((await apiJson(hub.url, 'GET', '/api/v1/admin/rules', { token: member.accessToken })).status).toBe(403);
    const current = await apiJson(hub.url, 'GET', '/api/v1/admin/rules', { token: tenant.apiKey });
    expect(current.status).toBe(200);
    const before = current.body as { version: number; rules: { missions: { perDay: number } } };
    expect(before.rules.missions.perDay).toBe(1);

    const invalid = await apiJson(hub.url, 'PUT', '/api/v1/admin/rules', {
      token: tenant.apiKey,
      body: { streaks: [{ key: 'daily', milestones: [{ days: 3, reward: { kind: 'box', table: 'missing' } }] }] },
    });
    expect(invalid.status).toBe(400);
    expect(JSON.stringify(invalid.body)).toContain('streaks.0.milestones.0.reward');

    const admin = await mintTokens(hub.url, tenant.apiKey, { userId: 'boss', role: 'admin' });
    const replaced = await apiJson(hub.url, 'PUT', '/api/v1/admin/rules', { token: admin.accessToken, body: { ...rules, atRiskHour: 19 } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ version: before.version + 1, rules: { atRiskHour: 19 } });
    const audit = await sql`select actor from audit_log where tenant_id = ${tenant.tenantId} and action = 'rules.updated' order by id desc limit 1`;
    expect(audit[0]?.actor).toMatch(/^user:/);
  });

  it("keeps a user's state to the user, its admins and the API key", async () => {
    const member = await mintTokens(hub.url, tenant.apiKey, { userId: 'carol' });
    expect((await apiJson(hub.url, 'GET', '/api/v1/users/ada/state', { token: member.accessToken })).status).toBe(403);
    expect((await apiJson(hub.url, 'GET', '/api/v1/users/ada/state', { token: tenant.apiKey })).body).toMatchObject({ points: 60 });
    expect((await apiJson(hub.url, 'GET', '/api/v1/users/nobody/state', { token: tenant.apiKey })).status).toBe(404);
    expect((await apiJson(hub.url, 'GET', '/api/v1/me/state', { token: tenant.apiKey })).status).toBe(403);
  });
});
