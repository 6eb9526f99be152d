import type { Redis } from 'ioredis';
import type { BackupStatus } from '../contracts/backups.js';
import { errorFields, type Logger } from '../platform/logger.js';
import type { JobQueues } from '../platform/queues/producer.js';
import { BackupStatusStore } from '../repositories/backup-status.js';

/**
 * Hands a backup run's outcome to the hubs (`realtime.backup`), which push `backup:status` to every
 * tenant's dashboard. Live news only, so one attempt and nothing kept: a hub that misses it still
 * shows the stored status on its next `dashboard:metrics` tick.
 */
export async function publishBackupStatus(queues: JobQueues, status: BackupStatus): Promise<void> {
  await queues.enqueue('realtime.backup', status, { attempts: 1, removeOnComplete: true, removeOnFail: true });
}

/**
 * The status store that also tells the dashboards each change, for the worker's backup job: the
 * status the job stores is the one it publishes, whichever way the run ended. A failed hand-off is
 * logged, never the job's failure (the status is stored, and the dashboards read it within a second).
 */
export class PublishedBackupStatusStore extends BackupStatusStore {
  constructor(
    redis: Redis,
    prefix: string,
    private readonly queues: JobQueues,
    private readonly logger: Logger,
  ) {
    super(redis, prefix);
  }

  override async update(change: Partial<BackupStatus>): Promise<BackupStatus> {
    const status = await super.update(change);
    await publishBackupStatus(this.queues, status).catch((error: unknown) => this.logger.warn('backup status not published to the dashboards', errorFields(error)));
    return status;
  }
}
