import type { RetentionPolicy } from '../../domain/backup-retention.js';
import type { Config } from '../../platform/config.js';
import { pgToolsFrom, type PgTools } from '../../platform/pg-tools.js';

/** What every backup use case needs: the database it backs up, where dumps live, the tools and the retention policy. */
export interface BackupSettings {
  databaseUrl: string;
  backupDir: string;
  tools: PgTools;
  policy: RetentionPolicy;
}

export function backupSettingsFrom(
  config: Pick<Config, 'BACKUP_DIR' | 'PG_DUMP_BIN' | 'PG_RESTORE_BIN' | 'BACKUP_RETAIN' | 'BACKUP_KEEP_DAILY' | 'BACKUP_KEEP_WEEKLY' | 'BACKUP_KEEP_MONTHLY'>,
  databaseUrl: string,
): BackupSettings {
  return {
    databaseUrl,
    backupDir: config.BACKUP_DIR,
    tools: pgToolsFrom(config),
    // BACKUP_RETAIN (the old "keep the newest N") lives on as the policy's `last` rule.
    policy: { last: config.BACKUP_RETAIN, daily: config.BACKUP_KEEP_DAILY, weekly: config.BACKUP_KEEP_WEEKLY, monthly: config.BACKUP_KEEP_MONTHLY },
  };
}

/** Progress callbacks of a dump or a restore: the number of tables, then each table as its data goes. */
export interface TableProgress {
  onStart?: (totalTables: number) => void;
  onTable?: (table: string) => void;
}
