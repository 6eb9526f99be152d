import { randomBytes } from 'node:crypto';
import { tableCountDifferences } from '../../domain/backup-checks.js';
import { pgRestore } from '../../platform/pg-tools.js';
import { fileSize, sha256Of, type BackupManifest } from '../../repositories/backup-manifests.js';
import { databaseFacts } from '../../repositories/backup-snapshot.js';
import { withDatabase } from '../../repositories/databases.js';
import { loadRules } from '../../repositories/engine-rules.js';
import { loadUserState } from '../../repositories/user-state.js';
import type { BackupSettings, TableProgress } from './settings.js';

/** A dump that is not what its manifest describes, or a copy that does not read back as it should. */
export class BackupCheckError extends Error {}

/** Size first (a truncated file shows at once), then SHA-256 of every byte. */
export async function checkDumpFile(file: string, manifest: BackupManifest): Promise<void> {
  const size = await fileSize(file);
  if (size !== manifest.size) throw new BackupCheckError(`checksum: ${file} has ${size} bytes, the manifest says ${manifest.size} (truncated or replaced)`);
  const sha256 = await sha256Of(file);
  if (sha256 !== manifest.sha256) throw new BackupCheckError(`checksum: SHA-256 of ${file} is ${sha256}, the manifest says ${manifest.sha256} (the file changed since it was written)`);
}

/** A database name unique to this run: `<prefix>_<UTC stamp>_<random>`, short enough for Postgres' 63 bytes. */
export function freshDatabaseName(prefix: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, '').toLowerCase();
  return `${prefix.slice(0, 30)}_${stamp}_${randomBytes(3).toString('hex')}`;
}

/**
 * Restores the dump into the (empty) database of `targetUrl` and checks the copy: every table's
 * row count, the applied migration, and the smoke users' state read back through the
 * application's own read (loadUserState, as /me/state serves it) with their update seq and points.
 */
export async function restoreAndCheck(settings: BackupSettings, file: string, manifest: BackupManifest, targetUrl: string, progress: TableProgress = {}): Promise<void> {
  progress.onStart?.(Object.keys(manifest.tables).length);
  await pgRestore(settings.tools.pgRestore, { databaseUrl: targetUrl, file, onTable: progress.onTable });
  await withDatabase(targetUrl, async (sql) => {
    const facts = await databaseFacts(sql);
    const differences = tableCountDifferences(manifest.tables, facts.tables);
    if (differences.length > 0) throw new BackupCheckError(`row counts: ${differences.join('; ')}`);
    if ((facts.migration?.hash ?? null) !== (manifest.migration?.hash ?? null)) {
      throw new BackupCheckError(`migration: the copy is at ${facts.migration?.tag ?? 'none'}, the manifest says ${manifest.migration?.tag ?? 'none'}`);
    }
    for (const user of manifest.smoke) {
      const { rules } = await loadRules(sql, user.tenantId);
      const state = await loadUserState(sql, user.tenantId, user.userId, rules, new Date());
      if (!state) throw new BackupCheckError(`smoke: user ${user.userId} does not read back`);
      if (state.seq !== user.seq || state.points !== user.points) {
        throw new BackupCheckError(`smoke: user ${user.userId} reads back seq ${state.seq} and ${state.points} points, expected seq ${user.seq} and ${user.points} points`);
      }
    }
  });
}
