import type { JobHandler } from '../../platform/queues/registry.js';
import type { Pusher } from './push.js';

/** A sync's progress, from the worker running it, to the tenant's dashboard sockets on every node (live only). */
export function createRealtimeSyncHandler(pusher: Pusher): JobHandler<'realtime.sync'> {
  return {
    name: 'realtime.sync',
    handle({ tenantId, progress }) {
      pusher.toDashboard(tenantId, 'sync:progress', progress);
      return Promise.resolve();
    },
  };
}
