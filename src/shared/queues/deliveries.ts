import type { UserUpdate } from '../socket/user-updates.js';
import type { JobQueues } from './producer.js';

export interface Delivery {
  tenantId: string;
  userId: string;
  updates: UserUpdate[];
}

/**
 * Hands stored updates to the hubs for live delivery: one `realtime` job for them all, however
 * many users they belong to. Users with nothing new are left out; nothing is enqueued for none.
 */
export async function deliverUpdates(queues: JobQueues, deliveries: readonly Delivery[]): Promise<void> {
  const due = deliveries.filter((delivery) => delivery.updates.length > 0);
  if (due.length > 0) await queues.enqueue('realtime.deliver', { deliveries: due }, { removeOnComplete: true });
}
