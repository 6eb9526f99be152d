import { z } from 'zod';

const at = z.iso.datetime({ offset: true }).nullable();

/**
 * What the hubs show of backups (/metrics, the dashboard's Backups tile, `backup:status`): the
 * deployment's latest backup, as the worker stored it after its last run. Times are ISO strings;
 * every field is null before the first backup.
 */
export const backupStatusSchema = z.object({
  /** The last backup whose dump and manifest were written. */
  lastBackupAt: at,
  lastBackupFile: z.string().nullable(),
  lastBackupBytes: z.number().int().min(0).nullable(),
  /** The last backup that a restore proved. */
  lastVerifiedAt: at,
  lastVerificationMs: z.number().min(0).nullable(),
  /** How the latest run ended: `verified`, or `failed` (verification failed, or no backup could be made) with the reason. */
  lastResult: z.enum(['verified', 'failed']).nullable(),
  lastReason: z.string().nullable(),
  lastFinishedAt: at,
  /** When the schedule runs next; null when BACKUP_CRON is off. */
  nextRunAt: at,
});
export type BackupStatus = z.infer<typeof backupStatusSchema>;
