import type { Redis } from 'ioredis';
import { errorFields, type Logger } from '../../platform/logger.js';
import type { RevocationCheck } from './access-tokens.js';

/**
 * The denylist of revoked logins (refresh-token families), shared by every hub node through
 * Redis. An entry lives as long as the longest access token the family could have issued, after
 * which the tokens are dead anyway. Postgres keeps the revocation of the refresh tokens
 * themselves; this list only stops the short-lived access tokens early.
 *
 * When Redis cannot answer, the check lets the token through (and logs it): refusing every
 * user while Redis blips would turn a cache outage into a full outage, and readiness already
 * reports Redis down.
 */
export class RevokedFamilies implements RevocationCheck {
  private warnedAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly accessTokenTtlSeconds: number,
    private readonly logger: Logger,
  ) {}

  private key(familyId: string): string {
    return `${this.prefix}:revoked-family:${familyId}`;
  }

  async revoke(familyIds: readonly string[]): Promise<void> {
    if (familyIds.length === 0) return;
    const pipeline = this.redis.pipeline();
    // One second beyond the TTL covers a token signed in the same second as the revocation.
    for (const familyId of familyIds) pipeline.set(this.key(familyId), '1', 'EX', this.accessTokenTtlSeconds + 1);
    await pipeline.exec();
  }

  async isRevoked(familyId: string): Promise<boolean> {
    try {
      return (await this.redis.exists(this.key(familyId))) === 1;
    } catch (error) {
      if (Date.now() - this.warnedAt > 10_000) {
        this.warnedAt = Date.now();
        this.logger.warn('cannot check revoked sessions: Redis did not answer; letting tokens through', errorFields(error));
      }
      return false;
    }
  }
}
