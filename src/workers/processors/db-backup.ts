import path from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { PgToolMissingError } from '../../platform/pg-tools.js';
import type { BackupStatusStore } from '../../repositories/backup-status.js';
import type { Sql } from '../../repositories/db/client.js';
import { BackupRefusedError } from '../../services/backups/create-backup.js';
import { runBackup } from '../../services/backups/run-backup.js';
import { verifyBackup } from '../../services/backups/verify-backup.js';
import type { BackupSettings } from '../../services/backups/settings.js';
import type { JobHandler } from '../registry.js';

export interface BackupJobDeps {
  settings: BackupSettings;
  sql: Sql;
  status: BackupStatusStore;
  /** When the schedule runs next (null when it is off), for the published status. */
  nextRun: () => Promise<Date | null>;
}

/**
 * `db.backup`: dump, manifest, verification by restore, retention (runBackup), then the outcome
 * published in Redis for the hubs' /metrics and dashboard. A backup that fails verification
 * completes the job (it is kept and reported; a retry would only pile up dumps); a backup that
 * could not be made fails it, unrecoverably when a retry cannot help (missing or mismatched pg_dump).
 */
export function createBackupHandler(deps: BackupJobDeps): JobHandler<'db.backup'> {
  return {
    name: 'db.backup',
    async handle(payload, { logger }) {
      const nextRunAt = async () => (await deps.nextRun().catch(() => null))?.toISOString() ?? null;
      let run;
      try {
        run = await runBackup(deps.settings, deps.sql);
      } catch (error) {
        const reason = (error as Error).message;
        await deps.status.update({ lastResult: 'failed', lastReason: reason, lastFinishedAt: new Date().toISOString(), nextRunAt: await nextRunAt() });
        if (error instanceof BackupRefusedError || error instanceof PgToolMissingError) throw new UnrecoverableError(reason);
        throw error;
      }
      const { manifest, verification } = run;
      const finishedAt = new Date().toISOString();
      const verified = verification.status === 'verified';
      await deps.status.update({
        lastBackupAt: manifest.createdAt,
        lastBackupFile: manifest.file,
        lastBackupBytes: manifest.size,
        ...(verified ? { lastVerifiedAt: verification.verifiedAt, lastVerificationMs: verification.durationMs } : {}),
        lastResult: verified ? 'verified' : 'failed',
        lastReason: verification.reason,
        lastFinishedAt: finishedAt,
        nextRunAt: await nextRunAt(),
      });
      const result = {
        file: run.file,
        bytes: manifest.size,
        sha256: manifest.sha256,
        verification: verification.status,
        reason: verification.reason,
        verificationMs: verification.durationMs,
        removed: run.removed,
        retention: run.retention,
        trigger: payload.reason,
      };
      logger.info('database backup written', { file: path.basename(run.file), bytes: manifest.size, trigger: payload.reason });
      if (verified) logger.info('database backup verified', result);
      else logger.error('database backup failed verification', result);
      return result;
    },
  };
}

/**
 * `db.backup.verify`: proves an existing backup again (the payload names a file in BACKUP_DIR, so
 * a job cannot point the worker elsewhere). The result goes into its manifest; a failure completes
 * the job like a failed scheduled verification, and the published status is left to `db.backup`.
 */
export function createBackupVerifyHandler(deps: Pick<BackupJobDeps, 'settings'>): JobHandler<'db.backup.verify'> {
  return {
    name: 'db.backup.verify',
    async handle(payload, { logger }) {
      const { manifest, verification } = await verifyBackup(deps.settings, path.join(deps.settings.backupDir, payload.file));
      const result = { file: manifest.file, verification: verification.status, reason: verification.reason, verificationMs: verification.durationMs };
      if (verification.status === 'verified') logger.info('database backup verified', result);
      else logger.error('database backup failed verification', result);
      return result;
    },
  };
}
