import type { Config } from '../platform/config.js';
import { runMigrations } from '../repositories/db/migrate.js';
import type { Logger } from '../platform/logger.js';
import { startHub, type Hub } from './hub.js';
import { startWorkerRole } from './worker.js';
import type { WorkerPool } from '../platform/queues/worker-pool.js';
import { createAppContext, type AppContext } from './context.js';
import type { Lifecycle } from '../platform/lifecycle.js';
import { checkRedisPersistence } from '../platform/redis-persistence.js';

export const processRoles = ['all', 'hub', 'worker'] as const;
export type ProcessRole = (typeof processRoles)[number];

export interface Booted {
  context: AppContext;
  hub?: Hub;
  workers?: WorkerPool;
}

/** Migrates, then starts the role's parts; everything started is registered on `lifecycle` for shutdown. */
export async function boot(options: {
  role: ProcessRole;
  config: Config;
  logger: Logger;
  lifecycle: Lifecycle;
  databaseUrl: string;
  redisUrl: string;
}): Promise<Booted> {
  await runMigrations(options.databaseUrl, options.logger);
  const context = createAppContext(options);
  await checkRedisPersistence(context.redis, options.logger);
  // Started in this order so shutdown (reverse order) stops the listener before draining jobs.
  const workers = options.role === 'hub' ? undefined : await startWorkerRole(context);
  const hub = options.role === 'worker' ? undefined : await startHub(context);
  return { context, hub, workers };
}
