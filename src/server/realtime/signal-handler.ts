import type { JobHandler } from '../../platform/queues/registry.js';
import type { Pusher } from './push.js';

/**
 * A tenant-wide signal's new fused value, from the worker that fused it: to the sockets subscribed
 * to `signal:<key>` and to the tenant's dashboard, on every node through the adapter. Live only:
 * `GET /api/v1/signals/{key}` answers the latest for a client that was away.
 */
export function createRealtimeSignalHandler(pusher: Pusher): JobHandler<'realtime.signal'> {
  return {
    name: 'realtime.signal',
    handle({ tenantId, signal }) {
      pusher.toSignal(tenantId, signal.key, 'signal:fused', signal);
      pusher.toDashboard(tenantId, 'signal:fused', signal);
      return Promise.resolve();
    },
  };
}
