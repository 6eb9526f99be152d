import { describe, expect, it } from 'vitest';
import { DEFAULT_ENGINE_RULES } from '../../src/contracts/api/rules.js';
import { connectDatabase } from '../../src/repositories/db/client.js';
import { applyEvents } from '../../src/services/engine/apply-batch.js';
import { useTenantHub } from '../support/tenant-hub.js';
import { storeEvent } from '../support/stored-events.js';
import { until } from '../support/until.js';

/** The tables the engine reads per batch by user (and day): each must be read through an index. */
const TABLES = ['streaks', 'streak_days', 'record_days', 'personal_records', 'user_missions', 'campaign_progress'];
const OTHER_USERS = 2000;

describe('engine statements under generic plans', () => {
  const fixture = useTenantHub('engine-plans');

  // postgres.js prepares every statement, and after a few runs Postgres may plan it once for any
  // parameters. Such a plan cannot see the arrays; on tables of thousands of users it must still
  // reach each user's rows through an index: a statement without an index path would scan the
  // whole table in every batch.
  it('reads and writes every table of a batch through its indexes, never scanning it whole', async () => {
    const { hub, tenant, sql } = fixture;
    // Enough other users' rows that a sequential scan is never the cheap choice.
    await sql`
      insert into users (tenant_id, external_id) select ${tenant.tenantId}, 'other-' || n from generate_series(1, ${OTHER_USERS}) n`;
    await sql`
      insert into campaigns (tenant_id, key, name, starts_at, ends_at, point_rules, tiers)
      values (${tenant.tenantId}, 'plans', 'Plans', now() - interval '1 day', now() + interval '1 day', ${sql.json({ '*': 1 })}, ${sql.json([])})`;
    await sql`
      with others as (select id from users where tenant_id = ${tenant.tenantId} and external_id like 'other-%'),
      days as (select (current_date - d)::date as day from generate_series(1, 10) d),
      s as (insert into streaks (user_id, streak_key, tenant_id, current, longest, freezes, last_day, run_start, last_event_at, anchor_day, anchor_start)
            select id, 'daily', ${tenant.tenantId}, 1, 1, 0, current_date - 1, current_date - 1, now(), current_date - 1, now() from others),
      sd as (insert into streak_days (user_id, streak_key, day) select o.id, 'daily', d.day from others o, days d),
      rd as (insert into record_days (user_id, metric_key, day, value) select o.id, 'most-active-day', d.day, 1 from others o, days d),
      pr as (insert into personal_records (user_id, metric_key, tenant_id, best, day, event_id, achieved_at)
             select id, 'most-active-day', ${tenant.tenantId}, 1, current_date - 1, gen_random_uuid(), now() from others),
      um as (insert into user_missions (tenant_id, user_id, day, slot, template_key, event_type, target, reward, expires_at)
             select ${tenant.tenantId}, o.id, d.day, slot, 't' || slot, '*', 5, '{"kind":"points","amount":1}', now() from others o, days d, generate_series(0, 2) slot)
      insert into campaign_progress (campaign_id, user_id, tenant_id, points)
      select c.id, o.id, ${tenant.tenantId}, 1 from others o, campaigns c where c.key = 'plans' and c.tenant_id = ${tenant.tenantId}`;
    await sql`analyze`;

    const users = await sql<{ id: string }[]>`
      insert into users (tenant_id, external_id) select ${tenant.tenantId}, 'player-' || n from generate_series(1, 3) n returning id`;
    const batch = async () => Promise.all(users.map(({ id }) => storeEvent(sql, { tenantId: tenant.tenantId, userId: id, value: 3 })));

    // The app's own client setup (string dates), on one connection planned generically from the first run.
    const database = connectDatabase(hub.config.DATABASE_URL as string, { max: 1, applicationName: 'plans-test' });
    try {
      await database.sql`set plan_cache_mode = force_generic_plan`;
      const scans = async () =>
        new Map(
          (await sql<{ relname: string; seq_scan: string; idx_scan: string }[]>`
            select relname, seq_scan, coalesce(idx_scan, 0) as idx_scan from pg_stat_user_tables where relname = any(${TABLES})`).map((row) => [
            row.relname,
            { seq: Number(row.seq_scan), idx: Number(row.idx_scan) },
          ]),
        );
      const before = await scans();
      const rules = new Map([[tenant.tenantId, DEFAULT_ENGINE_RULES]]);
      // The first batch assigns missions and creates rows; the second reads and updates them.
      for (let round = 0; round < 2; round++) {
        const applied = await applyEvents(database.sql, await batch(), rules, new Date());
        expect(applied.every((result) => result !== null && result.updates.length > 0)).toBe(true);
      }
      await database.sql`select pg_stat_force_next_flush()`;
      await database.sql`select 1`;
      // Statistics reach the shared view when the backend goes idle: wait until the index scans show.
      const after = await until(scans, (now) => TABLES.every((table) => (now.get(table)?.idx ?? 0) > (before.get(table)?.idx ?? 0)));
      expect(TABLES.map((table) => ({ table, seqScans: (after.get(table)?.seq ?? 0) - (before.get(table)?.seq ?? 0) }))).toEqual(TABLES.map((table) => ({ table, seqScans: 0 })));
    } finally {
      await database.close();
    }
  });
});
