import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENGINE_RULES } from '../../src/contracts/api/rules.js';
import { selectMissions } from '../../src/domain/missions.js';
import { RulesCache } from '../../src/repositories/engine-rules.js';
import { createTenant, type CreatedTenant } from '../../src/repositories/tenants.js';
import { createMissionSweepHandler } from '../../src/workers/processors/missions-sweep.js';
import { mintTokens } from '../support/api-client.js';
import { silentLogger } from '../support/silent-logger.js';
import { useTestHub, type TestHub } from '../support/test-env.js';

const DAY = 24 * 3_600_000;

describe('daily mission sweep', () => {
  let hub: TestHub;
  let tenant: CreatedTenant;
  let userId: string;
  const fixture = useTestHub();

  beforeAll(async () => {
    hub = fixture.hub;
    tenant = await createTenant(hub.context.database.db, { name: 'sweep', actor: 'test' });
    const tokens = await mintTokens(hub.url, tenant.apiKey, { userId: 'sleeper', timezone: 'Europe/London' });
    userId = tokens.user.id;
  });

  /** Runs one sweep as the scheduler would, at a chosen instant. */
  async function sweepAt(now: Date) {
    const handler = createMissionSweepHandler({ sql: hub.context.database.sql, queues: hub.context.queues, rules: new RulesCache(hub.context.database.sql), now: () => now });
    return (await handler.handle({}, { logger: silentLogger(), jobId: 'test', attempt: 1 })) as { users: number; assignedDays: number };
  }

  const missionsByDay = async () => {
    const rows = await hub.context.database.sql<{ day: string; slot: number; template_key: string; target: number }[]>`
      select day, slot, template_key, target from user_missions where user_id = ${userId} order by day, slot`;
    return Map.groupBy(rows, (row) => row.day);
  };

  it('assigns recently active users their missions deterministically, once, and catches up after a gap', async () => {
    const start = new Date('2026-11-10T09:00:00Z');
    await hub.context.database.sql`update users set last_active_at = ${new Date(start.getTime() - 3_600_000).toISOString()} where id = ${userId}`;

    expect(await sweepAt(start)).toMatchObject({ assignedDays: 3 });
    // The default grace is 48 h: the day before yesterday can still take late events.
    let byDay = await missionsByDay();
    expect([...byDay.keys()]).toEqual(['2026-11-08', '2026-11-09', '2026-11-10']);
    for (const [day, rows] of byDay) {
      const expected = selectMissions(userId, day, DEFAULT_ENGINE_RULES.missions.templates, DEFAULT_ENGINE_RULES.missions.perDay);
      expect(rows.map((row) => ({ slot: row.slot, templateKey: row.template_key, target: row.target }))).toEqual(
        expected.map((mission) => ({ slot: mission.slot, templateKey: mission.templateKey, target: mission.target })),
      );
    }

    // A second run, or one later the same day, changes nothing.
    expect(await sweepAt(start)).toMatchObject({ assignedDays: 0 });
    expect(await sweepAt(new Date(start.getTime() + 3 * 3_600_000))).toMatchObject({ assignedDays: 0 });

    // The sweep was down for two days: it catches up on the local days it missed.
    expect(await sweepAt(new Date(start.getTime() + 2 * DAY))).toMatchObject({ assignedDays: 2 });
    byDay = await missionsByDay();
    expect([...byDay.keys()]).toEqual(['2026-11-08', '2026-11-09', '2026-11-10', '2026-11-11', '2026-11-12']);

    // Only today's assignment is pushed, once per run that made it.
    const pushed = await hub.context.database.sql<{ day: string }[]>`
      select payload->>'day' as day from user_updates where user_id = ${userId} and type = 'missions:assigned' order by seq`;
    expect(pushed.map((row) => row.day)).toEqual(['2026-11-10', '2026-11-12']);
  });

  it('leaves users alone who have not been active for a week', async () => {
    await hub.context.database.sql`update users set last_active_at = ${new Date(Date.parse('2026-11-01T00:00:00Z')).toISOString()} where id = ${userId}`;
    expect(await sweepAt(new Date('2026-11-20T09:00:00Z'))).toMatchObject({ users: 0, assignedDays: 0 });
  });
});
