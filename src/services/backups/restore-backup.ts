import { readManifest } from '../../repositories/backup-manifests.js';
import { createDatabase, databaseExists, databaseNameOf, dropDatabase, maintenanceUrl, renameDatabase, sessionsOf, withDatabase, withDatabaseName } from '../../repositories/databases.js';
import { checkDumpFile, freshDatabaseName, restoreAndCheck } from './restore-check.js';
import type { BackupSettings, TableProgress } from './settings.js';

/** A restore that would lose data or disturb running processes: nothing was changed. */
export class RestoreRefusedError extends Error {}

export type RestoreTarget =
  /** A new database beside the configured one (the default). */
  | { kind: 'new' }
  /** A database named by URL: created when missing, refused when it holds tables. */
  | { kind: 'into'; url: string }
  /** The configured database itself (`--yes`); its current contents are kept under another name. */
  | { kind: 'replace'; appSessionNames: readonly string[] };

export interface RestoreResult {
  databaseUrl: string;
  /** With `replace`: the name the configured database's previous contents now live under. */
  previousDatabase?: string;
}

async function refuseIfConnected(settings: BackupSettings, names: readonly string[]): Promise<void> {
  const name = databaseNameOf(settings.databaseUrl);
  const sessions = await sessionsOf(settings.databaseUrl, name, names);
  if (sessions.length > 0) {
    const who = sessions.map((session) => `${session.applicationName} (pid ${session.pid}${session.clientAddr ? ` from ${session.clientAddr}` : ''})`).join(', ');
    throw new RestoreRefusedError(`refusing to restore into ${name}: Pulse Hub processes are connected to it: ${who}. Stop every hub and worker first, or restore into a new database (omit --yes).`);
  }
}

async function isEmpty(url: string): Promise<boolean> {
  return withDatabase(url, async (sql) => (await sql`select 1 from pg_tables where schemaname not in ('pg_catalog', 'information_schema') limit 1`).length === 0);
}

/**
 * Restores a backup after checking its checksum, and checks the copy as verification does. The
 * configured database is only ever replaced with `replace`, and then by renaming: the dump is
 * restored into a new database first, and the old one is renamed aside, never dropped.
 */
export async function restoreBackup(settings: BackupSettings, file: string, target: RestoreTarget, progress: TableProgress = {}): Promise<RestoreResult> {
  const manifest = await readManifest(file);
  await checkDumpFile(file, manifest);
  const configured = databaseNameOf(settings.databaseUrl);

  if (target.kind === 'into') {
    const name = databaseNameOf(target.url);
    // Asked through the maintenance database: the target may not exist yet, and may be on another server.
    const server = maintenanceUrl(target.url);
    if (!(await databaseExists(server, name))) await createDatabase(server, name);
    else if (!(await isEmpty(target.url))) throw new RestoreRefusedError(`refusing to restore into ${name}: it already holds tables (restore into an empty or new database)`);
    await restoreAndCheck(settings, file, manifest, target.url, progress);
    return { databaseUrl: target.url };
  }

  if (target.kind === 'replace') await refuseIfConnected(settings, target.appSessionNames);
  const fresh = freshDatabaseName(`${configured}_restored`);
  const freshUrl = await createDatabase(settings.databaseUrl, fresh);
  try {
    await restoreAndCheck(settings, file, manifest, freshUrl, progress);
  } catch (error) {
    await dropDatabase(settings.databaseUrl, fresh);
    throw error;
  }
  if (target.kind === 'new') return { databaseUrl: freshUrl };

  // Checked again: a process may have started during the restore.
  await refuseIfConnected(settings, target.appSessionNames);
  const previous = freshDatabaseName(`${configured}_before_restore`);
  await renameDatabase(settings.databaseUrl, configured, previous);
  try {
    await renameDatabase(settings.databaseUrl, fresh, configured);
  } catch (error) {
    await renameDatabase(settings.databaseUrl, previous, configured);
    throw error;
  }
  return { databaseUrl: withDatabaseName(settings.databaseUrl, configured), previousDatabase: previous };
}
