import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { migrationsFolder, runMigrations } from '../../src/repositories/db/migrate.js';
import { PulseProcess } from '../support/pulse-process.js';
import { silentLogger } from '../support/silent-logger.js';
import { createEmptyDatabase, type TestDatabase } from '../support/test-env.js';

async function migrationState(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    const applied = await sql<{ hash: string }[]>`select hash from drizzle.__drizzle_migrations order by id`;
    const tables = await sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'public' order by table_name`;
    return { applied: applied.map((row) => row.hash), tables: tables.map((row) => row.table_name) };
  } finally {
    await sql.end();
  }
}

describe('migrations', () => {
  const databases: TestDatabase[] = [];
  afterEach(async () => {
    await Promise.all(databases.splice(0).map((database) => database.drop()));
  });

  it('apply once when two processes start together on an empty database', async () => {
    const database = await createEmptyDatabase();
    databases.push(database);
    const env = { DATABASE_URL: database.url, LOG_LEVEL: 'info' };
    const runs = [new PulseProcess('src/roles/cli/migrate.ts', [], env), new PulseProcess('src/roles/cli/migrate.ts', [], env)];
    const exits = await Promise.all(runs.map((run) => run.exit()));
    expect(exits.map((exit) => exit.code), runs.map((run) => run.stderr).join('\n')).toEqual([0, 0]);

    const expected = (await readdir(migrationsFolder)).filter((file) => file.endsWith('.sql')).length;
    const state = await migrationState(database.url);
    expect(state.applied).toHaveLength(expected);
    expect(state.tables).toEqual(expect.arrayContaining(['tenants', 'users']));
  });

  it('serialise four concurrent runs on an empty database, and are idempotent afterwards', async () => {
    const database = await createEmptyDatabase();
    databases.push(database);
    const migrateAll = (count: number) =>
      Promise.all(Array.from({ length: count }, () => runMigrations(database.url, silentLogger())));
    await migrateAll(4);
    const first = await migrationState(database.url);
    expect(first.applied).toHaveLength((await readdir(migrationsFolder)).filter((file) => file.endsWith('.sql')).length);
    await migrateAll(2);
    expect(await migrationState(database.url)).toEqual(first);
  });

  it("remove a tenant's users and everything they own with the tenant, through the users' keys", async () => {
    const database = await createEmptyDatabase();
    databases.push(database);
    await runMigrations(database.url, silentLogger());
    const sql = postgres(database.url, { max: 1, onnotice: () => undefined });
    try {
      const [tenant] = await sql<{ id: string }[]>`insert into tenants (name) values ('gone') returning id`;
      const [user] = await sql<{ id: string }[]>`insert into users (tenant_id, external_id) values (${tenant?.id as string}, 'u1') returning id`;
      const owner = { tenant: tenant?.id as string, user: user?.id as string };
      await sql`insert into events (id, tenant_id, user_id, type, occurred_at) values (gen_random_uuid(), ${owner.tenant}, ${owner.user}, 'x', now())`;
      await sql`insert into streaks (user_id, streak_key, tenant_id, current, longest, freezes, last_day, run_start, last_event_at, anchor_day, anchor_start)
                values (${owner.user}, 'daily', ${owner.tenant}, 1, 1, 0, current_date, current_date, now(), current_date, now())`;
      await sql`delete from tenants where id = ${owner.tenant}`;
      const tenantTables = await sql<{ table_name: string }[]>`
        select table_name from information_schema.columns where table_schema = 'public' and column_name = 'tenant_id' order by table_name`;
      // user_updates is a log without keys, emptied by its retention prune instead.
      for (const { table_name: table } of tenantTables.filter((row) => row.table_name !== 'user_updates')) {
        const [left] = await sql<{ n: number }[]>`select count(*)::int as n from ${sql(table)} where tenant_id = ${owner.tenant}`;
        expect(left?.n, table).toBe(0);
      }
      expect(tenantTables.map((row) => row.table_name)).toEqual(expect.arrayContaining(['events', 'streaks', 'users']));
    } finally {
      await sql.end();
    }
  });

  it('give outbox rows waiting at 0007 their events\' fields, and drop rows whose event is gone', async () => {
    const database = await createEmptyDatabase();
    databases.push(database);
    // The migrations up to 0006, as a database that ran them before the outbox carried events.
    const earlier = await mkdtemp(path.join(os.tmpdir(), 'pulse-migrations-'));
    const sql = postgres(database.url, { max: 1, onnotice: () => undefined });
    try {
      await cp(migrationsFolder, earlier, { recursive: true });
      const journalFile = path.join(earlier, 'meta', '_journal.json');
      const journal = JSON.parse(await readFile(journalFile, 'utf8')) as { entries: { tag: string }[] };
      const cut = journal.entries.findIndex((entry) => entry.tag.startsWith('0007_'));
      expect(cut).toBeGreaterThan(0);
      await writeFile(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, cut) }));
      await migrate(drizzle(sql), { migrationsFolder: earlier });

      const [tenant] = await sql<{ id: string }[]>`insert into tenants (name) values ('upgrade') returning id`;
      const [user] = await sql<{ id: string }[]>`insert into users (tenant_id, external_id) values (${tenant?.id as string}, 'u1') returning id`;
      const owner = [tenant?.id as string, user?.id as string] as const;
      const [event] = await sql<{ id: string }[]>`
        insert into events (id, tenant_id, user_id, type, occurred_at, value)
        values (gen_random_uuid(), ${owner[0]}, ${owner[1]}, 'lesson.done', '2026-11-30T10:00:00Z', 4) returning id`;
      await sql`insert into outbox (event_id, tenant_id, user_id) values (${event?.id as string}, ${owner[0]}, ${owner[1]}), (gen_random_uuid(), ${owner[0]}, ${owner[1]})`;

      await runMigrations(database.url, silentLogger());
      // Compared in SQL: drizzle, given this client above, replaced its date parsers.
      const waiting = await sql<{ event_id: string; type: string; at_event_time: boolean; value: number | null }[]>`
        select event_id, type, occurred_at = '2026-11-30T10:00:00Z' as at_event_time, value from outbox`;
      expect(waiting).toEqual([{ event_id: event?.id, type: 'lesson.done', at_event_time: true, value: 4 }]);
    } finally {
      await sql.end();
      await rm(earlier, { recursive: true, force: true });
    }
  });
});
