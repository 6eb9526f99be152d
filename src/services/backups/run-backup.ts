import type { BackupManifest, BackupVerification } from '../../repositories/backup-manifests.js';
import type { Sql } from '../../repositories/db/client.js';
import { createBackup } from './create-backup.js';
import { applyRetention } from './retention.js';
import type { BackupSettings, TableProgress } from './settings.js';
import { verifyBackup } from './verify-backup.js';

export interface BackupRun {
  file: string;
  manifest: BackupManifest;
  verification: BackupVerification;
  /** Backups deleted by retention (none when the new one failed verification). */
  removed: string[];
  retention: string;
}

/**
 * Dump, manifest, verification by restore, then retention — only once the new backup verified, so
 * a run of failures never ages the good backups out.
 */
export async function runBackup(settings: BackupSettings, sql: Sql, progress: { dump?: TableProgress; verify?: TableProgress } = {}): Promise<BackupRun> {
  const created = await createBackup(settings, sql, progress.dump);
  const { manifest, verification } = await verifyBackup(settings, created.file, progress.verify);
  if (verification.status !== 'verified') {
    return { file: created.file, manifest, verification, removed: [], retention: 'not applied: the new backup failed verification' };
  }
  const { removed, summary } = await applyRetention(settings);
  return { file: created.file, manifest, verification, removed, retention: summary };
}
