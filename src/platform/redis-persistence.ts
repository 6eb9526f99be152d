import type { Redis } from 'ioredis';
import type { Logger } from './logger.js';

/** What a Redis server keeps across a restart, as far as `CONFIG GET` tells. */
export type RedisPersistence =
  | { checked: false; reason: string }
  | { checked: true; appendonly: boolean; save: string; persists: boolean };

const CHECK_TIMEOUT_MS = 2_000;

async function configValue(redis: Pick<Redis, 'config'>, name: string): Promise<string | undefined> {
  // CONFIG GET answers [name, value, ...]; an empty list when the server does not know the name.
  const reply: unknown = await redis.config('GET', name);
  return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : undefined;
}

/**
 * Reads `appendonly` and `save`. Managed Redis (ElastiCache, Memorystore, Upstash...) often
 * renames or forbids CONFIG; then the answer is "could not check", never a failure.
 */
export async function readRedisPersistence(redis: Pick<Redis, 'config'>, timeoutMs = CHECK_TIMEOUT_MS): Promise<RedisPersistence> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const [appendonly, save] = await Promise.race([Promise.all([configValue(redis, 'appendonly'), configValue(redis, 'save')]), timeout]);
    if (appendonly === undefined || save === undefined) return { checked: false, reason: 'CONFIG GET did not return appendonly and save' };
    const aof = appendonly.toLowerCase() === 'yes';
    return { checked: true, appendonly: aof, save, persists: aof || save.trim() !== '' };
  } catch (error) {
    return { checked: false, reason: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** Logs at start-up whether Redis keeps queued jobs across its own restart, and what it means if not. */
export async function checkRedisPersistence(redis: Pick<Redis, 'config'>, logger: Logger, timeoutMs?: number): Promise<RedisPersistence> {
  const persistence = await readRedisPersistence(redis, timeoutMs);
  if (!persistence.checked) {
    logger.info('could not check Redis persistence (the server does not allow CONFIG GET); make sure it persists (appendonly yes, or save)', {
      reason: persistence.reason,
    });
  } else if (!persistence.persists) {
    logger.warn(
      'Redis persists nothing (appendonly no, save ""): a Redis restart loses every queued job, rate-limit counter ' +
        'and the revoked-session list. Pulse Hub re-queues lost work from Postgres, but that work is delayed until the ' +
        'reconciler finds it, rate limits start from zero and revoked access tokens work again until they expire. ' +
        'Turn on appendonly yes (or RDB save points) for production.',
      { appendonly: persistence.appendonly, save: persistence.save },
    );
  } else {
    logger.info('Redis persistence', { appendonly: persistence.appendonly, save: persistence.save });
  }
  return persistence;
}
