import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

/**
 * - `command`: app commands and BullMQ producers; fail fast instead of queueing forever when Redis is away.
 * - `blocking`: BullMQ workers and queue events, which BullMQ requires to retry indefinitely.
 * - `probe`: readiness checks; no offline queue, so a down Redis answers at once instead of hanging.
 * - `pipelined`: many tiny independent commands per tick (rate limiting): auto-pipelining sends
 *   them in one socket write instead of one write each, which was the largest cost of ingest.
 * - `adapter`: the Socket.IO streams adapter: one XADD per broadcast, many per tick when a batch of
 *   updates is delivered, so auto-pipelined; its duplicate blocks on XREAD, so retries never give up.
 */
export type RedisRole = 'command' | 'blocking' | 'probe' | 'pipelined' | 'adapter';

const roleOptions: Record<RedisRole, RedisOptions> = {
  command: { maxRetriesPerRequest: 3 },
  blocking: { maxRetriesPerRequest: null },
  probe: { maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 2_000 },
  pipelined: { maxRetriesPerRequest: 1, enableAutoPipelining: true },
  adapter: { maxRetriesPerRequest: null, enableAutoPipelining: true },
};

export function createRedis(url: string, role: RedisRole, logger: Logger, name: string): Redis {
  const redis = new Redis(url, {
    ...roleOptions[role],
    connectionName: name,
    // Cap the reconnect backoff so a returning Redis is noticed within a second.
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1_000),
  });
  // ioredis emits one error per failed reconnect; log transitions, not every attempt.
  let healthy = true;
  redis.on('error', (error: Error) => {
    if (healthy) logger.warn('redis connection lost', { connection: name, error: error.message });
    healthy = false;
  });
  redis.on('ready', () => {
    if (!healthy) logger.info('redis connection restored', { connection: name });
    healthy = true;
  });
  return redis;
}
