import type { Redis } from 'ioredis';
import { errorFields, type Logger } from '../../platform/logger.js';
import type { PulseServer, PulseSocket } from './types.js';

/** A node refreshes its sockets' entries this often; entries older than STALE_MS belong to a dead node. */
const HEARTBEAT_MS = 30_000;
const STALE_MS = 3 * HEARTBEAT_MS;

/**
 * Caps the sockets one user holds at once across every hub node: a sorted set per user in Redis
 * of socket ids scored by when their node last vouched for them. The newest socket beyond the
 * cap is refused (the ones already working are never cut off by a newcomer). Entries of a node
 * that died without cleaning up age out after STALE_MS.
 */
export class UserSocketQuota {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly maxPerUser: number,
    private readonly logger: Logger,
  ) {}

  private key(socket: PulseSocket): string {
    return `${this.prefix}:sockets:${socket.data.tenantId}:${socket.data.userId}`;
  }

  /** Claims a place for the socket; false when the user is at the cap. */
  async claim(socket: PulseSocket): Promise<boolean> {
    const key = this.key(socket);
    const now = Date.now();
    // Add first, then count: two racing claims can both see themselves over the cap and both be
    // refused, but never both admitted beyond it.
    const results = await this.redis
      .multi()
      .zremrangebyscore(key, '-inf', now - STALE_MS)
      .zadd(key, now, socket.id)
      .zcard(key)
      .pexpire(key, STALE_MS)
      .exec();
    const count = Number(results?.[2]?.[1] ?? 0);
    if (count <= this.maxPerUser) return true;
    await this.redis.zrem(key, socket.id);
    return false;
  }

  release(socket: PulseSocket): void {
    this.redis.zrem(this.key(socket), socket.id).catch((error: unknown) => this.logger.warn('could not release a socket quota entry', errorFields(error)));
  }

  /** Keeps this node's entries fresh while it lives. */
  startHeartbeat(io: PulseServer): void {
    this.timer = setInterval(() => {
      const now = Date.now();
      const pipeline = this.redis.pipeline();
      for (const socket of io.of('/').sockets.values()) {
        pipeline.zadd(this.key(socket), now, socket.id);
        pipeline.pexpire(this.key(socket), STALE_MS);
      }
      pipeline.exec().catch((error: unknown) => this.logger.warn('socket quota heartbeat failed', errorFields(error)));
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }
}
