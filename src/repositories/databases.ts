import { connectDatabase, type Sql } from './db/client.js';

/**
 * Databases as whole objects on a server (create, drop, rename, who is connected), for backup
 * verification and restores. Each call opens one short connection with the given URL's rights.
 */

export function databaseNameOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

export function withDatabaseName(url: string, name: string): string {
  const next = new URL(url);
  next.pathname = `/${encodeURIComponent(name)}`;
  return next.toString();
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Connected as the application connects (drizzle's type parsers included), so the app's reads behave as they do in a hub. */
async function onServer<T>(url: string, work: (sql: Sql) => Promise<T>): Promise<T> {
  const database = connectDatabase(url, { max: 1, applicationName: 'pulse-hub:backup' });
  try {
    return await work(database.sql);
  } finally {
    await database.close();
  }
}

/** Creates an empty database (from template0, so nothing of template1 leaks into a restore) on the server of `serverUrl`. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  await onServer(serverUrl, (sql) => sql.unsafe(`create database ${quoteIdent(name)} template template0`));
  return withDatabaseName(serverUrl, name);
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await onServer(serverUrl, (sql) => sql.unsafe(`drop database if exists ${quoteIdent(name)} with (force)`));
}

export async function databaseExists(serverUrl: string, name: string): Promise<boolean> {
  return onServer(serverUrl, async (sql) => (await sql`select 1 from pg_database where datname = ${name}`).length > 0);
}

/**
 * A database to connect to when the one at hand may not exist or is being renamed (a database
 * cannot be renamed from a session on itself, and zero-config's database is `postgres` itself):
 * `template1`, which every server has.
 */
export function maintenanceUrl(serverUrl: string): string {
  return withDatabaseName(serverUrl, 'template1');
}

export async function renameDatabase(serverUrl: string, from: string, to: string): Promise<void> {
  await onServer(maintenanceUrl(serverUrl), (sql) => sql.unsafe(`alter database ${quoteIdent(from)} rename to ${quoteIdent(to)}`));
}

/** Sessions on database `name` with one of the given application names (other than this connection). */
export async function sessionsOf(serverUrl: string, name: string, applicationNames: readonly string[]): Promise<{ pid: number; applicationName: string; clientAddr: string | null }[]> {
  return onServer(serverUrl, async (sql) => {
    const rows = await sql<{ pid: number; application_name: string; client_addr: string | null }[]>`
      select pid, application_name, client_addr::text from pg_stat_activity
      where datname = ${name} and application_name in ${sql(applicationNames as string[])} and pid <> pg_backend_pid()`;
    return rows.map((row) => ({ pid: row.pid, applicationName: row.application_name, clientAddr: row.client_addr }));
  });
}

/** Runs `work` on a connection to the database of `url` (for reads on a scratch or restored copy). */
export const withDatabase = onServer;
