import type { Sql } from '../repositories/db/client.js';
import { confirmPushes } from '../repositories/user-updates.js';
import type { UserUpdate } from '../contracts/socket/user-updates.js';
import type { JobQueues } from '../platform/queues/producer.js';

export interface Delivery {
  tenantId: string;
  userId: string;
  updates: UserUpdate[];
}

/**
 * Hands stored updates to the hubs for live delivery: one `realtime` job for them all, however
 * many users they belong to, then confirms them so the reconciler does not push them again.
 * Users with nothing new are left out; nothing is enqueued for none.
 */
export async function deliverUpdates(deps: { queues: JobQueues; sql: Sql }, deliveries: readonly Delivery[]): Promise<void> {
  const due = deliveries.filter((delivery) => delivery.updates.length > 0);
  if (due.length === 0) return;
  await deps.queues.enqueue('realtime.deliver', { deliveries: due }, { removeOnComplete: true });
  await confirmPushes(
    deps.sql,
    due.map(({ userId, updates }) => ({ userId, toSeq: Math.max(...updates.map((update) => update.data.seq)) })),
  );
}
