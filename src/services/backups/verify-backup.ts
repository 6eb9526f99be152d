import { readManifest, writeManifest, type BackupManifest, type BackupVerification } from '../../repositories/backup-manifests.js';
import { createDatabase, databaseNameOf, dropDatabase } from '../../repositories/databases.js';
import { checkDumpFile, freshDatabaseName, restoreAndCheck } from './restore-check.js';
import type { BackupSettings, TableProgress } from './settings.js';

export interface VerifiedBackup {
  file: string;
  manifest: BackupManifest;
  verification: BackupVerification;
}

/**
 * Proves a backup by restoring it: checksum, restore into a scratch database on the same server,
 * row counts, migration and smoke reads (restoreAndCheck); the scratch database is dropped
 * whatever happens. The result is written into the manifest and returned; a failure is a result
 * (status `failed` with the reason), not an exception. Throws only when there is no manifest to judge by.
 */
export async function verifyBackup(settings: BackupSettings, file: string, progress: TableProgress = {}): Promise<VerifiedBackup> {
  const manifest = await readManifest(file);
  const started = Date.now();
  let reason: string | null = null;
  try {
    await checkDumpFile(file, manifest);
    const scratch = freshDatabaseName(`pulse_verify_${databaseNameOf(settings.databaseUrl)}`);
    const scratchUrl = await createDatabase(settings.databaseUrl, scratch);
    try {
      await restoreAndCheck(settings, file, manifest, scratchUrl, progress);
    } finally {
      await dropDatabase(settings.databaseUrl, scratch);
    }
  } catch (error) {
    reason = (error as Error).message;
  }
  const verification: BackupVerification = {
    status: reason === null ? 'verified' : 'failed',
    reason,
    durationMs: Date.now() - started,
    verifiedAt: new Date().toISOString(),
  };
  const updated = { ...manifest, verification };
  await writeManifest(file, updated);
  return { file, manifest: updated, verification };
}
