import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Sql, Transaction } from './db/client.js';
import { migrationsFolder } from './db/migrate.js';
import { pointsBalance } from './rewards.js';

/** The latest migration recorded in drizzle's table: its tag from the journal, and its hash. */
export interface AppliedMigration {
  tag: string | null;
  hash: string;
  /** The journal's `when` (milliseconds), which drizzle stores as created_at. */
  createdAt: number;
}

/** A few users read in the snapshot, so a restored copy can be checked through the application's own read of a user's state. */
export interface SmokeUser {
  tenantId: string;
  userId: string;
  seq: number;
  points: number;
}

export interface DatabaseFacts {
  serverVersion: string;
  /** Row count of every table of the public schema and of drizzle's migrations table, keyed `schema.table`. */
  tables: Record<string, number>;
  migration: AppliedMigration | null;
}

const SMOKE_USERS = 3;

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

let journal: Promise<Map<number, string>> | undefined;
function migrationTags(): Promise<Map<number, string>> {
  journal ??= readFile(path.join(migrationsFolder, 'meta', '_journal.json'), 'utf8').then((text) => {
    const entries = (JSON.parse(text) as { entries: { when: number; tag: string }[] }).entries;
    return new Map(entries.map((entry) => [entry.when, entry.tag]));
  });
  return journal;
}

/** The server's major (from server_version_num, major * 10000 + minor since PostgreSQL 10) and its version ("15.18"). */
export async function serverVersionOf(sql: Sql | Transaction): Promise<{ major: number; version: string }> {
  const [row] = await sql<{ num: string; version: string }[]>`
    select current_setting('server_version_num') as num, current_setting('server_version') as version`;
  if (!row) throw new Error('the server did not report its version');
  return { major: Math.floor(Number(row.num) / 10_000), version: row.version.split(' ')[0] ?? row.version };
}

/** Server version, every table's row count and the applied migration, all read in `tx` (one snapshot). */
export async function databaseFacts(tx: Sql | Transaction): Promise<DatabaseFacts> {
  const { version: serverVersion } = await serverVersionOf(tx);
  const names = await tx<{ schemaname: string; tablename: string }[]>`
    select schemaname, tablename from pg_tables
    where schemaname = 'public' or (schemaname = 'drizzle' and tablename = '__drizzle_migrations')
    order by schemaname, tablename`;
  const tables: Record<string, number> = {};
  if (names.length > 0) {
    // One statement for all counts: a round trip per table would add up on a remote server.
    const rows = await tx.unsafe<{ name: string; n: string }[]>(
      names.map((row, i) => `select $${i + 1}::text as name, count(*) as n from ${quoteIdent(row.schemaname)}.${quoteIdent(row.tablename)}`).join(' union all '),
      names.map((row) => `${row.schemaname}.${row.tablename}`),
    );
    for (const row of rows) tables[row.name] = Number(row.n);
  }
  return { serverVersion, tables, migration: tables['drizzle.__drizzle_migrations'] ? await appliedMigration(tx) : null };
}

async function appliedMigration(tx: Sql | Transaction): Promise<AppliedMigration | null> {
  const [row] = await tx<{ hash: string; created_at: string }[]>`
    select hash, created_at from drizzle.__drizzle_migrations order by created_at desc, id desc limit 1`;
  if (!row) return null;
  const createdAt = Number(row.created_at);
  return { tag: (await migrationTags()).get(createdAt) ?? null, hash: row.hash, createdAt };
}

/** The most recently active users with their update seq and points balance, as of `tx`'s snapshot. */
export async function smokeUsers(tx: Sql | Transaction): Promise<SmokeUser[]> {
  const users = await tx<{ tenant_id: string; id: string; last_update_seq: string }[]>`
    select tenant_id, id, last_update_seq from users order by last_update_seq desc, id limit ${SMOKE_USERS}`;
  return Promise.all(users.map(async (user) => ({
    tenantId: user.tenant_id,
    userId: user.id,
    seq: Number(user.last_update_seq),
    points: await pointsBalance(tx, user.id),
  })));
}

/**
 * Opens a repeatable-read transaction, exports its snapshot and reads the facts in it, then runs
 * `work` with the snapshot id while the transaction stays open (an exported snapshot lives only
 * as long as its transaction): `pg_dump --snapshot` then dumps exactly what was counted.
 */
export async function withExportedSnapshot<T>(
  sql: Sql,
  work: (snapshot: { id: string; facts: DatabaseFacts; smoke: SmokeUser[] }) => Promise<T>,
): Promise<T> {
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    const [exported] = await tx<{ id: string }[]>`select pg_export_snapshot() as id`;
    if (!exported) throw new Error('pg_export_snapshot() returned nothing');
    const id = exported.id;
    const facts = await databaseFacts(tx);
    // A database never migrated (nothing to smoke-test) still backs up.
    const smoke = 'public.users' in facts.tables ? await smokeUsers(tx) : [];
    return work({ id, facts, smoke });
  }) as Promise<T>;
}
