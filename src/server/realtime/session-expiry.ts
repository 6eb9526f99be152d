import { pushToSocket } from './push.js';
import type { PulseSocket } from './types.js';

/**
 * With connection-state recovery on, Socket.IO sends even a single socket's emits through the
 * adapter (a Redis stream round trip), so an immediate disconnect would overtake the expiry
 * notice. The expired socket leaves every room at once, so nothing else reaches it, and is
 * disconnected after this grace.
 */
const EXPIRY_NOTICE_GRACE_MS = 1_000;

export const isSessionLive = (socket: PulseSocket, now = Date.now()): boolean => socket.data.expiresAt > now;

/** Ends a session now: out of every room (nothing more reaches it), told why, then disconnected. */
export function endSession(socket: PulseSocket, reason: 'token_expired' | 'session_revoked'): void {
  for (const room of socket.rooms) if (room !== socket.id) void socket.leave(room);
  pushToSocket(socket, 'session:expired', { reason });
  setTimeout(() => socket.disconnect(true), EXPIRY_NOTICE_GRACE_MS).unref();
}

/**
 * Ends sessions at the instant their access token runs out without an `auth:refresh`. JWT
 * expiries are whole seconds, so sockets are kept in one bucket per expiry second, with one
 * timer per bucket: exact to the timer, and far cheaper than a timer per socket. A socket
 * whose token was refreshed is tracked again under its new expiry; when its old bucket fires it
 * is found live and left alone.
 */
export function watchSessionExpiry(): { track(socket: PulseSocket): void; untrack(socket: PulseSocket): void; close(): void } {
  const buckets = new Map<number, { timer: NodeJS.Timeout; sockets: Set<PulseSocket> }>();

  const fire = (at: number) => {
    const bucket = buckets.get(at);
    buckets.delete(at);
    const now = Date.now();
    for (const socket of bucket?.sockets ?? []) {
      if (!socket.connected || socket.data.expiresAt !== at) continue;
      if (isSessionLive(socket, now)) track(socket);
      else endSession(socket, 'token_expired');
    }
  };

  const track = (socket: PulseSocket) => {
    const at = socket.data.expiresAt;
    let bucket = buckets.get(at);
    if (!bucket) {
      const timer = setTimeout(() => fire(at), Math.max(at - Date.now(), 0));
      timer.unref();
      bucket = { timer, sockets: new Set() };
      buckets.set(at, bucket);
    }
    bucket.sockets.add(socket);
  };

  return {
    track,
    untrack: (socket) => void buckets.get(socket.data.expiresAt)?.sockets.delete(socket),
    close() {
      for (const bucket of buckets.values()) clearTimeout(bucket.timer);
      buckets.clear();
    },
  };
}
