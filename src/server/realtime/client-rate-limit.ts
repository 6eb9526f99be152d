import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../../shared/config.js';
import type { Logger } from '../../shared/logger.js';
import { refusePacket } from './handlers.js';
import type { PulseSocket } from './types.js';

/** Refusals within this window, beyond which a socket counts as abusive and is disconnected. */
const ABUSE_WINDOW_MS = 10_000;
const ABUSE_REFUSALS = 100;

/**
 * Per-socket limit on client events (sustained rate plus a burst bucket refilled over ten
 * seconds). Excess events get a `rate_limited` ack; a socket that keeps flooding is disconnected.
 * In memory: a socket lives on one hub process.
 */
export function clientEventLimiter(config: Config, logger: Logger) {
  const sustained = config.SOCKET_EVENTS_PER_SECOND;
  const limiter = new BurstyRateLimiter(
    new RateLimiterMemory({ points: sustained, duration: 1 }),
    new RateLimiterMemory({ points: Math.max(config.SOCKET_EVENTS_BURST - sustained, 1), duration: 10, keyPrefix: 'burst' }),
  );
  return (socket: PulseSocket) => {
    let refusals: number[] = [];
    socket.use((packet, next) => {
      limiter.consume(socket.id).then(
        () => next(),
        (rejection: unknown) => {
          if (!(rejection instanceof RateLimiterRes)) {
            next(rejection as Error);
            return;
          }
          refusePacket(packet, 'rate_limited', `more than ${sustained} events per second`);
          const now = Date.now();
          refusals = [...refusals.filter((at) => now - at < ABUSE_WINDOW_MS), now];
          if (refusals.length > ABUSE_REFUSALS) {
            logger.warn('disconnecting a socket that keeps flooding', { userId: socket.data.userId, refusals: refusals.length });
            socket.disconnect(true);
          }
        },
      );
    });
  };
}
