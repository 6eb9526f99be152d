import type { Response } from 'express';
import type { Redis } from 'ioredis';
import {
  BurstyRateLimiter,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type IRateLimiterStoreOptions,
} from 'rate-limiter-flexible';
import type { Config } from '../platform/config.js';
import { httpErrors } from './http/errors.js';

type Limiter = RateLimiterRedis | BurstyRateLimiter;

/**
 * Redis-backed limiters shared by every hub process. When Redis is away they fall back to an
 * in-memory "insurance" limiter per process, so limits still hold (per node) and requests are
 * not slowed by a dead store.
 */
function redisLimiter(redis: Redis, prefix: string, name: string, points: number, durationSeconds: number, extra: Partial<IRateLimiterStoreOptions> = {}) {
  return new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: `${prefix}:rl:${name}`,
    points,
    duration: durationSeconds,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ points, duration: durationSeconds, keyPrefix: `${name}-insurance` }),
    ...extra,
  });
}

export class RateLimits {
  readonly authFailures: RateLimiterRedis;
  readonly refresh: RateLimiterRedis;
  readonly user: BurstyRateLimiter;
  readonly tenant: RateLimiterRedis;
  readonly limits: Record<'authFailures' | 'refresh' | 'user' | 'tenant', number>;

  constructor(redis: Redis, config: Config) {
    const prefix = config.REDIS_PREFIX;
    const perMinute = config.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE;
    // Once an address is over the limit it is refused from memory, without asking Redis, until the window ends.
    this.authFailures = redisLimiter(redis, prefix, 'authfail', perMinute, 60, { inMemoryBlockOnConsumed: perMinute + 1, inMemoryBlockDuration: 60 });
    this.refresh = redisLimiter(redis, prefix, 'refresh', config.RATE_LIMIT_REFRESH_PER_SECOND, 1);
    const sustained = config.RATE_LIMIT_USER_PER_SECOND;
    const extraBurst = Math.max(config.RATE_LIMIT_USER_BURST - sustained, 1);
    // Steady `sustained` per second, plus a bucket of `extraBurst` that refills over ten seconds.
    this.user = new BurstyRateLimiter(
      redisLimiter(redis, prefix, 'user', sustained, 1),
      redisLimiter(redis, prefix, 'user-burst', extraBurst, 10),
    );
    this.tenant = redisLimiter(redis, prefix, 'tenant', config.RATE_LIMIT_TENANT_PER_SECOND, 1);
    this.limits = { authFailures: perMinute, refresh: config.RATE_LIMIT_REFRESH_PER_SECOND, user: config.RATE_LIMIT_USER_BURST, tenant: config.RATE_LIMIT_TENANT_PER_SECOND };
  }
}

function setHeaders(res: Response, limit: number, result: RateLimiterRes): void {
  res.setHeader('RateLimit-Limit', String(limit));
  res.setHeader('RateLimit-Remaining', String(Math.max(result.remainingPoints, 0)));
  res.setHeader('RateLimit-Reset', String(Math.ceil(result.msBeforeNext / 1000)));
}

/** Takes one point for `key`; sets the RateLimit-* headers and throws 429 (with Retry-After) when none is left. */
export async function consumeOrThrow(limiter: Limiter, limit: number, key: string, res: Response, what: string): Promise<void> {
  try {
    setHeaders(res, limit, await limiter.consume(key));
  } catch (rejection) {
    if (!(rejection instanceof RateLimiterRes)) throw rejection;
    setHeaders(res, limit, rejection);
    throw httpErrors.tooManyRequests(Math.max(Math.ceil(rejection.msBeforeNext / 1000), 1), `${what} rate limit exceeded`);
  }
}
