import type { UserUpdate } from '../../contracts/socket/user-updates.js';
import type { JobHandler } from '../../platform/queues/registry.js';
import type { Pusher } from './push.js';

/**
 * Workers reach clients only through the `realtime` queue: whichever hub node takes a
 * `realtime.deliver` job pushes to the users' rooms through the Socket.IO adapter, which reaches
 * the node holding the sockets. With no hub up, jobs wait in the queue; updates are stored first,
 * so nothing depends on them.
 */
export function createRealtimeDeliverHandler(pusher: Pusher): JobHandler<'realtime.deliver'> {
  return {
    name: 'realtime.deliver',
    handle({ deliveries }) {
      for (const { userId, updates } of deliveries) {
        // The job's schema checks the envelope (event name, seq, at); the engine stored the rest from typed values.
        for (const update of updates as UserUpdate[]) pusher.toUser(userId, update.event, update.data);
      }
      return Promise.resolve();
    },
  };
}
