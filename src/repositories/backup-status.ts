import type { Redis } from 'ioredis';
import type { BackupStatus } from '../contracts/backups.js';

export type { BackupStatus };

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
