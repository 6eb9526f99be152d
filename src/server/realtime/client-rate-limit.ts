import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../../platform/config.js';
import type { Logger } from '../../platform/logger.js';
import { SocketError } from './handlers.js';
import type { PulseSocket } from './types.js';

/** Refusals within this window, beyond which a socket counts as abusive and is disconnected. */
const ABUSE_WINDOW_MS = 10_000;
const ABUSE_REFUSALS = 100;

export type ClientEventLimiter = (socket: PulseSocket) => Promise<void>;

/**
 * Per-socket limit on client events (sustained rate plus a burst bucket refilled over ten
 * seconds). The returned check rejects an event over the limit with a `rate_limited`
 * SocketError; a socket that keeps flooding is disconnected. In memory: a socket lives on one
 * hub process, and state exists only for sockets that send events.
 */
export function clientEventLimiter(config: Config, logger: Logger): ClientEventLimiter {
  const sustained = config.SOCKET_EVENTS_PER_SECOND;
  const limiter = new BurstyRateLimiter(
    new RateLimiterMemory({ points: sustained, duration: 1 }),
    new RateLimiterMemory({ points: Math.max(config.SOCKET_EVENTS_BURST - sustained, 1), duration: 10, keyPrefix: 'burst' }),
  );
  const refusals = new WeakMap<PulseSocket, number[]>();
  return async (socket) => {
    try {
      await limiter.consume(socket.id);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const now = Date.now();
      const recent = [...(refusals.get(socket) ?? []).filter((at) => now - at < ABUSE_WINDOW_MS), now];
      refusals.set(socket, recent);
      if (recent.length > ABUSE_REFUSALS) {
        logger.warn('disconnecting a socket that keeps flooding', { userId: socket.data.userId, refusals: recent.length });
        socket.disconnect(true);
      }
      throw new SocketError('rate_limited', `more than ${sustained} events per second`);
    }
  };
}
