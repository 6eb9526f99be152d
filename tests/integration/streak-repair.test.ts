import type postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { engineRulesSchema } from '../../src/contracts/api/rules.js';
import type { UserState } from '../../src/contracts/api/state.js';
import type { StreakRepair } from '../../src/contracts/api/streaks.js';
import type { Problem } from '../../src/contracts/api/problem.js';
import { addCalendarDays, localDay } from '../../src/domain/calendar.js';
import type { CreatedTenant } from '../../src/repositories/tenants.js';
import { userUpdateNames, type UserUpdate } from '../../src/contracts/socket/user-updates.js';
import { apiJson, apiRequest, mintTokens, postEvents } from '../support/api-client.js';
import { connected, openSocket } from '../support/socket-client.js';
import { useTenantHub } from '../support/tenant-hub.js';
import type { TestHub } from '../support/test-env.js';
import { until } from '../support/until.js';

const HOUR = 3_600_000;
/** No DST: "24 hours earlier" is always the previous local day. */
const ZONE = 'Asia/Kolkata';

const rules = engineRulesSchema.parse({
  lateEventGraceHours: 24 * 7,
  streaks: [{ key: 'daily', milestones: [{ days: 3, reward: { kind: 'points', amount: 30 } }] }],
  records: [],
  missions: { perDay: 0 },
});

describe('streak repair', () => {
  const fixture = useTenantHub('repair', { rules });
  let hub: TestHub;
  let tenant: CreatedTenant;
  let sql: postgres.Sql;
  beforeAll(() => ({ hub, tenant, sql } = fixture));

  const repair = (userId: string, key: string, body: unknown, token = tenant.apiKey) =>
    apiJson<StreakRepair & Problem>(hub.url, 'POST', `/api/v1/users/${userId}/streaks/${key}/repair`, { token, body });

  const processed = async (externalId: string) =>
    Number((await sql`select count(*)::int as n from processed_events p join events e on e.id = p.event_id join users u on u.id = e.user_id where u.external_id = ${externalId}`)[0]?.n);

  it('credits a missed day: the streak joins up, its milestone pays once, the client is told live, and it is audited', async () => {
    const tokens = await mintTokens(hub.url, tenant.apiKey, { userId: 'bo', timezone: ZONE });
    const socket = openSocket(hub.url, tokens.accessToken);
    await connected(socket);
    const received: UserUpdate[] = [];
    socket.onAny((event: string, data: UserUpdate['data']) => {
      if (((userUpdateNames as readonly string[])).includes(event)) received.push({ event, data } as UserUpdate);
    });

    // Events three days ago, two days ago and now: yesterday is missed and no freeze is held yet.
    const now = Date.now() - 60_000;
    const instants = [72, 48, 0].map((hoursAgo) => new Date(now - hoursAgo * HOUR));
    for (const [i, at] of instants.entries()) {
      expect((await postEvents(hub.url, tenant.apiKey, { type: 'lesson.done', userId: 'bo', occurredAt: at.toISOString() })).status).toBe(202);
      await until(() => processed('bo'), (n) => n === i + 1);
    }
    const today = localDay(instants[2] as Date, ZONE);
    const yesterday = addCalendarDays(today, -1);
    const before = (await apiJson<UserState>(hub.url, 'GET', '/api/v1/me/state', { token: tokens.accessToken })).body;
    expect(before.streaks[0]).toMatchObject({ current: 1, longest: 2, lastDay: today });
    expect(before.points).toBe(0);

    // Ten identical repairs at once: the user's row lock lets one credit the day; the rest find it credited.
    const body = { days: [yesterday], reason: 'ticket 4812: outage' };
    const answers = await Promise.all(Array.from({ length: 10 }, () => repair('bo', 'daily', body)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    const [effective, ...noOps] = [...answers].sort((a, b) => b.body.repaired.length - a.body.repaired.length);
    expect(effective?.body).toMatchObject({
      repaired: [yesterday],
      alreadyCredited: [],
      streak: { key: 'daily', current: 4, longest: 4, lastDay: today, alive: true, atRisk: false },
      rewards: [{ kind: 'points', points: 30, source: 'streak', sourceKey: `daily:${addCalendarDays(today, -3)}:3` }],
    });
    for (const noOp of noOps) {
      expect(noOp.body).toMatchObject({ repaired: [], alreadyCredited: [yesterday], rewards: [], streak: { current: 4 } });
      expect(noOp.body.seq).toBe(effective?.body.seq);
    }

    const state = (await apiJson<UserState>(hub.url, 'GET', '/api/v1/me/state', { token: tokens.accessToken })).body;
    expect(state.seq).toBe(effective?.body.seq);
    expect(state.streaks[0]).toMatchObject({ current: 4, longest: 4, lastDay: today });
    expect(state.points).toBe(30);
    await until(() => received.length, (n) => n >= state.seq);
    expect(received.map((update) => update.data.seq)).toEqual(Array.from({ length: state.seq }, (_, i) => i + 1));
    const repairUpdates = received.slice(-2);
    expect(repairUpdates[0]).toMatchObject({ event: 'streak:updated', data: { key: 'daily', current: 4, repairedDays: [yesterday] } });
    expect(repairUpdates[1]).toMatchObject({ event: 'reward:granted', data: { points: 30, reward: { source: 'streak' } } });
    socket.disconnect();

    const grants = await sql`select source_key from rewards r join users u on u.id = r.user_id where u.external_id = 'bo' and r.tenant_id = ${tenant.tenantId}`;
    expect(grants).toHaveLength(1);
    const audit = await sql<{ actor: string; target: string; details: { reason: string; repaired: string[] } }[]>`
      select actor, target, details from audit_log where tenant_id = ${tenant.tenantId} and action = 'streak.repaired' order by id`;
    expect(audit).toHaveLength(10);
    expect(audit.every((row) => row.actor.startsWith('api_key:') && row.details.reason === body.reason)).toBe(true);
    expect(audit.filter((row) => row.details.repaired.length > 0)).toHaveLength(1);

    // An event later today lands on the repaired streak as usual.
    expect((await postEvents(hub.url, tenant.apiKey, { type: 'lesson.done', userId: 'bo' })).status).toBe(202);
    await until(() => processed('bo'), (n) => n === 4);
    const after = (await apiJson<UserState>(hub.url, 'GET', '/api/v1/me/state', { token: tokens.accessToken })).body;
    expect(after.streaks[0]).toMatchObject({ current: 4, longest: 4, lastDay: today });
  });

  it('refuses what it must not do with a clear 4xx, and changes nothing', async () => {
    const member = await mintTokens(hub.url, tenant.apiKey, { userId: 'cy', timezone: ZONE });
    const today = localDay(new Date(), ZONE);
    const good = { days: [addCalendarDays(today, -1)], reason: 'support' };

    expect((await repair('cy', 'daily', good, member.accessToken)).status).toBe(403);
    expect((await repair('nobody', 'daily', good)).status).toBe(404);
    const unknownStreak = await repair('cy', 'weekly', good);
    expect(unknownStreak.status).toBe(404);
    expect(unknownStreak.body.detail).toContain('weekly');
    expect((await repair('cy', 'Bad Key!', good)).status).toBe(400);

    const future = await repair('cy', 'daily', { days: [addCalendarDays(today, -1), addCalendarDays(today, 2)], reason: 'support' });
    expect(future.status).toBe(400);
    expect(future.body.errors).toEqual([{ path: 'days.1', message: expect.stringContaining(`after the user's today (${today} in ${ZONE})`) }]);
    const invalid = await repair('cy', 'daily', { days: [], reason: '' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errors?.map((error) => error.path).sort()).toEqual(['days', 'reason']);
    expect((await repair('cy', 'daily', { days: ['2026-02-30'], reason: 'x' })).status).toBe(400);
    expect((await repair('cy', 'daily', { days: Array.from({ length: 31 }, (_, i) => addCalendarDays(today, -i - 1)), reason: 'x' })).status).toBe(400);
    expect((await repair('cy', 'daily', { days: [today, today], reason: 'x' })).status).toBe(400);
    const notJson = await apiRequest(hub.url, 'POST', '/api/v1/users/cy/streaks/daily/repair', { token: tenant.apiKey, body: 'days=1', headers: { 'content-type': 'text/plain' } });
    expect(notJson.status).toBe(415);

    const stored = await sql`select 1 from streak_days d join users u on u.id = d.user_id where u.external_id = 'cy'`;
    expect(stored).toHaveLength(0);
    const audited = await sql`select 1 from audit_log a join users u on a.target = 'user:' || u.id where u.external_id = 'cy'`;
    expect(audited).toHaveLength(0);
  });

  it('repairs a user who never had the streak, and an admin user may repair too', async () => {
    const admin = await mintTokens(hub.url, tenant.apiKey, { userId: 'dee-admin', role: 'admin', timezone: ZONE });
    await mintTokens(hub.url, tenant.apiKey, { userId: 'eve', timezone: 'Pacific/Apia' });
    const answer = await repair('eve', 'daily', { days: ['2011-12-29', '2011-12-31'], reason: 'migrated from the old app' }, admin.accessToken);
    expect(answer.status).toBe(200);
    // Apia skipped 2011-12-30: the two days are consecutive there.
    expect(answer.body).toMatchObject({ repaired: ['2011-12-29', '2011-12-31'], streak: { longest: 2, current: 0, alive: false } });
    const skipped = await repair('eve', 'daily', { days: ['2011-12-30'], reason: 'x' });
    expect(skipped.status).toBe(400);
    expect(skipped.body.errors?.[0]?.message).toContain('skipped');
  });
});
