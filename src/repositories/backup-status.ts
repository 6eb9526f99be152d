import type { Redis } from 'ioredis';

/** What the hubs show of backups (/metrics, the dashboard's Backups tile). Times are ISO strings. */
export interface BackupStatus {
  /** The last backup whose dump and manifest were written. */
  lastBackupAt: string | null;
  lastBackupFile: string | null;
  lastBackupBytes: number | null;
  /** The last backup that a restore proved. */
  lastVerifiedAt: string | null;
  lastVerificationMs: number | null;
  /** How the latest run ended: `verified`, or `failed` (verification failed, or no backup could be made) with the reason. */
  lastResult: 'verified' | 'failed' | null;
  lastReason: string | null;
  lastFinishedAt: string | null;
  /** When the schedule runs next; null when BACKUP_CRON is off. */
  nextRunAt: string | null;
}

const EMPTY: BackupStatus = {
  lastBackupAt: null,
  lastBackupFile: null,
  lastBackupBytes: null,
  lastVerifiedAt: null,
  lastVerificationMs: null,
  lastResult: null,
  lastReason: null,
  lastFinishedAt: null,
  nextRunAt: null,
};

/**
 * The latest backup status, written by the worker after each backup and read by the hubs. One
 * JSON value: a run's fields change together, so a reader never mixes two runs.
 */
export class BackupStatusStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private get key(): string {
    return `${this.prefix}:backup:status`;
  }

  /** The status for /metrics and the dashboard; every field null before the first backup. */
  async read(): Promise<BackupStatus> {
    const raw = await this.redis.get(this.key);
    return raw ? { ...EMPTY, ...(JSON.parse(raw) as Partial<BackupStatus>) } : { ...EMPTY };
  }

  /** Merges `change` into the stored status (fields a failed run does not know keep their last value). */
  async update(change: Partial<BackupStatus>): Promise<BackupStatus> {
    const next = { ...(await this.read()), ...change };
    await this.redis.set(this.key, JSON.stringify(next));
    return next;
  }
}
