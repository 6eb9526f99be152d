import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineRulesSchema } from '../../src/contracts/api/rules.js';
import { connectDatabase } from '../../src/repositories/db/client.js';
import { saveRules } from '../../src/repositories/engine-rules.js';
import { createTenant, type CreatedTenant } from '../../src/repositories/tenants.js';
import { postEvents } from '../support/api-client.js';
import { PulseProcess } from '../support/pulse-process.js';
import { createTestDatabase, testEnv, type TestDatabase } from '../support/test-env.js';
import { until } from '../support/until.js';

const USERS = 10;
const EVENTS_PER_USER = 200;

/**
 * A worker process killed with SIGKILL while it applies events, then started again: BullMQ
 * redelivers what it had taken (at least once), and every event's effects still happen exactly
 * once. A mission that never completes and a campaign worth one point per event count the
 * effects one by one.
 */
describe('engine crash safety', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  const processes: PulseProcess[] = [];
  let hubUrl: string;
  let tenant: CreatedTenant;
  let sql: postgres.Sql;

  beforeAll(async () => {
    database = await createTestDatabase();
    env = await testEnv(database, { LOG_LEVEL: 'info', RATE_LIMIT_TENANT_PER_SECOND: '100000' });
    const hub = PulseProcess.start('hub', env);
    processes.push(hub);
    hubUrl = await hub.listeningUrl();
    const handle = connectDatabase(database.url, { max: 1, applicationName: 'test' });
    tenant = await createTenant(handle.db, { name: 'crash', actor: 'test' });
    const rules = engineRulesSchema.parse({
      missions: { perDay: 1, templates: [{ key: 'endless', eventType: '*', targetMin: 10_000, targetMax: 10_000, reward: { kind: 'points', amount: 1 } }] },
    });
    await saveRules(handle.db, tenant.tenantId, rules, 'test');
    await handle.close();
    sql = postgres(database.url, { max: 2, onnotice: () => undefined });
    await sql`
      insert into campaigns (tenant_id, key, name, starts_at, ends_at, point_rules, tiers)
      values (${tenant.tenantId}, 'count', 'One point per event', now() - interval '1 hour', now() + interval '1 day', ${sql.json({ '*': 1 })}, ${sql.json([])})`;
  });

  afterAll(async () => {
    for (const pulse of processes) if (pulse.child.exitCode === null) pulse.kill('SIGKILL');
    await sql?.end();
    await database?.drop();
  });

  const processed = async () => Number((await sql<{ n: number }[]>`select count(*)::int as n from processed_events`)[0]?.n);

  it('applies every event exactly once across a SIGKILL mid-batch and a restart', { timeout: 180_000 }, async () => {
    for (let user = 0; user < USERS; user += 1) {
      const events = Array.from({ length: EVENTS_PER_USER }, (_, i) => ({ type: 'tap', userId: `u${user}`, idempotencyKey: `u${user}-${i}` }));
      expect((await postEvents(hubUrl, tenant.apiKey, { events })).status).toBe(202);
    }
    const total = USERS * EVENTS_PER_USER;

    const first = PulseProcess.start('worker', env);
    processes.push(first);
    const atKill = await until(processed, (n) => n >= 100, 60_000);
    first.kill('SIGKILL');
    expect(atKill).toBeLessThan(total);

    processes.push(PulseProcess.start('worker', env));
    // Jobs the dead worker held come back once their locks expire (BullMQ's stalled-job check).
    await until(processed, (n) => n === total, 150_000);

    const missions = await sql<{ external_id: string; progress: number }[]>`
      select u.external_id, m.progress from user_missions m join users u on u.id = m.user_id order by u.external_id`;
    expect(missions).toHaveLength(USERS);
    for (const mission of missions) expect(mission.progress).toBe(EVENTS_PER_USER);

    const campaign = await sql<{ points: number }[]>`select points from campaign_progress`;
    expect(campaign.map((row) => row.points)).toEqual(Array.from({ length: USERS }, () => EVENTS_PER_USER));

    // One activity update per event, and every user's seqs still run 1..N without a gap.
    const updates = await sql<{ activities: number; seqs: number; last: number; top: number }[]>`
      select count(*) filter (where uu.type = 'activity:recorded')::int as activities, count(*)::int as seqs,
             max(u.last_update_seq)::int as last, max(uu.seq)::int as top
      from user_updates uu join users u on u.id = uu.user_id group by uu.user_id`;
    expect(updates).toHaveLength(USERS);
    for (const user of updates) {
      expect(user.activities).toBe(EVENTS_PER_USER);
      expect(user.seqs).toBe(user.last);
      expect(user.top).toBe(user.last);
    }
    const duplicates = await sql`select 1 from rewards group by user_id, source, source_key having count(*) > 1`;
    expect(duplicates).toHaveLength(0);
  });
});
