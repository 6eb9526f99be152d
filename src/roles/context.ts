import type { Redis } from 'ioredis';
import type { Config } from '../platform/config.js';
import { connectDatabase, type DatabaseHandle } from '../repositories/db/client.js';
import type { Logger } from '../platform/logger.js';
import { bullPrefix, JobQueues } from '../platform/queues/producer.js';
import { createRedis } from '../platform/redis.js';
import type { Lifecycle } from '../platform/lifecycle.js';

/** What every process role shares: config, logger, the Postgres pool, a Redis client and the queue producers. */
export interface AppContext {
  config: Config;
  logger: Logger;
  lifecycle: Lifecycle;
  databaseUrl: string;
  redisUrl: string;
  database: DatabaseHandle;
  redis: Redis;
  queues: JobQueues;
}

export function createAppContext(options: {
  config: Config;
  logger: Logger;
  lifecycle: Lifecycle;
  databaseUrl: string;
  redisUrl: string;
  role: string;
}): AppContext {
  const { config, logger, lifecycle, databaseUrl, redisUrl, role } = options;
  const database = connectDatabase(databaseUrl, { max: config.DATABASE_POOL_MAX, applicationName: `pulse-hub:${role}` });
  lifecycle.defer('postgres pool', () => database.close());
  const redis = createRedis(redisUrl, 'command', logger, `${role}:command`);
  lifecycle.defer('redis', async () => void (await redis.quit()));
  const queues = new JobQueues(redis, bullPrefix(config.REDIS_PREFIX));
  lifecycle.defer('queues', () => queues.close());
  return { config, logger, lifecycle, databaseUrl, redisUrl, database, redis, queues };
}
