import type { JobHandler } from '../../platform/queues/registry.js';
import type { Pusher } from './push.js';

/**
 * A backup run's outcome, from the worker that ran it, to every tenant's dashboard on every node
 * (backups are the deployment's, not a tenant's). Live only: `dashboard:metrics` carries the
 * stored status to a dashboard that was away.
 */
export function createRealtimeBackupHandler(pusher: Pusher): JobHandler<'realtime.backup'> {
  return {
    name: 'realtime.backup',
    handle(status) {
      pusher.toAllDashboards('backup:status', status);
      return Promise.resolve();
    },
  };
}
