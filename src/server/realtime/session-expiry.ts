import type { PulseServer, PulseSocket } from './types.js';

/** How often local sockets are checked for an expired token: expiry is enforced within this. */
const SWEEP_INTERVAL_MS = 1_000;
/**
 * With connection-state recovery on, Socket.IO sends even a single socket's emits through the
 * adapter (a Redis stream round trip), so an immediate disconnect would overtake the expiry
 * notice. The expired socket leaves every room at once, so nothing else reaches it, and is
 * disconnected on the first sweep after this grace.
 */
const EXPIRY_NOTICE_GRACE_MS = 1_000;

export const isSessionLive = (socket: PulseSocket, now = Date.now()): boolean => socket.data.expiresAt > now;

/**
 * Ends sessions whose access token ran out without an `auth:refresh`: `session:expired`, then a
 * disconnect. One sweep over the node's sockets instead of a timer per socket keeps the memory
 * of an idle connection down (a timer and its closure cost more than the check).
 */
export function watchSessionExpiry(io: PulseServer): { close(): void } {
  const noticedAt = new WeakMap<PulseSocket, number>();
  const sweep = () => {
    const now = Date.now();
    for (const socket of io.of('/').sockets.values()) {
      if (isSessionLive(socket, now)) {
        noticedAt.delete(socket);
        continue;
      }
      const noticed = noticedAt.get(socket);
      if (noticed === undefined) {
        for (const room of socket.rooms) if (room !== socket.id) void socket.leave(room);
        socket.emit('session:expired', { reason: 'token_expired' });
        noticedAt.set(socket, now);
      } else if (now - noticed >= EXPIRY_NOTICE_GRACE_MS) {
        socket.disconnect();
      }
    }
  };
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS);
  timer.unref();
  return { close: () => clearInterval(timer) };
}
