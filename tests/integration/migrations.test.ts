import { readdir } from 'node:fs/promises';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { migrationsFolder, runMigrations } from '../../src/shared/db/migrate.js';
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
    const runs = [new PulseProcess('src/cli/migrate.ts', [], env), new PulseProcess('src/cli/migrate.ts', [], env)];
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
});
