import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { majorOf, pgDumpMismatch } from '../../domain/pg-versions.js';
import { pgDump, toolVersion } from '../../platform/pg-tools.js';
import { backupFileName, fileSize, removeStalePartials, sha256Of, writeManifest, type BackupManifest } from '../../repositories/backup-manifests.js';
import { serverVersionOf, withExportedSnapshot } from '../../repositories/backup-snapshot.js';
import type { Sql } from '../../repositories/db/client.js';
import type { BackupSettings, TableProgress } from './settings.js';

/** A half-written dump this old was left by a killed backup (no dump of this database runs for a day). */
const STALE_PARTIAL_MS = 24 * 3_600_000;

/** A pg_dump that cannot make a restorable backup of this server: retrying will not help. */
export class BackupRefusedError extends Error {}

/** Refuses a pg_dump whose major differs from the server's (see pgDumpMismatch); returns both versions. */
export async function checkPgDumpVersion(sql: Sql, pgDumpBin: string): Promise<{ serverVersion: string; pgDumpVersion: string }> {
  const server = await serverVersionOf(sql);
  const pgDumpVersion = await toolVersion(pgDumpBin);
  const clientMajor = majorOf(pgDumpVersion);
  if (clientMajor === undefined) throw new BackupRefusedError(`cannot read the version of ${pgDumpBin} ("${pgDumpVersion}"); set PG_DUMP_BIN to a pg_dump`);
  const problem = pgDumpMismatch(server, { major: clientMajor, version: pgDumpVersion, bin: pgDumpBin });
  if (problem) throw new BackupRefusedError(problem);
  return { serverVersion: server.version, pgDumpVersion };
}

/**
 * Dumps the database and writes its manifest (unverified yet). The row counts, the smoke users and
 * the dump all come from one exported snapshot, so the manifest describes exactly this dump.
 */
export async function createBackup(settings: BackupSettings, sql: Sql, progress: TableProgress = {}, now = new Date()): Promise<{ file: string; manifest: BackupManifest }> {
  const versions = await checkPgDumpVersion(sql, settings.tools.pgDump);
  await mkdir(settings.backupDir, { recursive: true });
  await removeStalePartials(settings.backupDir, STALE_PARTIAL_MS, now.getTime());
  const file = path.join(settings.backupDir, backupFileName(now));
  const partial = `${file}.partial`;
  try {
    const facts = await withExportedSnapshot(sql, async (snapshot) => {
      progress.onStart?.(Object.keys(snapshot.facts.tables).length);
      await pgDump(settings.tools.pgDump, { databaseUrl: settings.databaseUrl, snapshot: snapshot.id, file: partial, onTable: progress.onTable });
      return snapshot;
    });
    await rename(partial, file);
    const manifest: BackupManifest = {
      format: 1,
      file: path.basename(file),
      size: await fileSize(file),
      sha256: await sha256Of(file),
      createdAt: now.toISOString(),
      serverVersion: versions.serverVersion,
      pgDumpVersion: versions.pgDumpVersion,
      migration: facts.facts.migration,
      tables: facts.facts.tables,
      smoke: facts.smoke,
      verification: { status: 'unverified', reason: null, durationMs: null, verifiedAt: null },
    };
    await writeManifest(file, manifest);
    return { file, manifest };
  } finally {
    await rm(partial, { force: true });
  }
}
