import { Worker } from 'bullmq';
import { jobDefinitions } from '../../contracts/queues.js';
import { createRedis } from '../../platform/redis.js';
import { errorFields, type Logger } from '../../platform/logger.js';
import { rooms } from '../../contracts/socket/contracts.js';
import type { PulseServer } from './types.js';
import { stalledJobOptions } from '../../platform/queues/worker-options.js';

/**
 * Workers reach clients only through the `realtime` queue: whichever hub node takes a job emits
 * to the user's room through the Socket.IO adapter, which reaches the node holding the sockets.
 * With no hub up, jobs wait in the queue; updates are stored first, so nothing depends on them.
 */
export function startRealtimeDelivery(options: { io: PulseServer; redisUrl: string; prefix: string; logger: Logger }) {
  const { io, logger } = options;
  const connection = createRedis(options.redisUrl, 'blocking', logger, 'hub:realtime');
  const worker = new Worker(
    'realtime',
    (job) => {
      const { deliveries } = jobDefinitions['realtime.deliver'].payload.parse(job.data);
      for (const { userId, updates } of deliveries) {
        const room = io.to(rooms.user(userId));
        for (const update of updates) room.emit(update.event, update.data as never);
      }
      return Promise.resolve();
    },
    { connection, prefix: options.prefix, concurrency: 64, ...stalledJobOptions },
  );
  worker.on('error', (error) => logger.error('realtime delivery error', errorFields(error)));
  return {
    async close() {
      await worker.close();
      await connection.quit();
    },
  };
}
