import type { EngineRules } from '../../shared/api/rules.js';
import { pgArrayType, type Sql, type Transaction } from '../../shared/db/client.js';
import type { JobPayload } from '../../shared/queues/contracts.js';
import { appendUserUpdates } from '../../shared/repositories/user-updates.js';
import type { UserUpdate } from '../../shared/socket/user-updates.js';
import { applyEvent, type AppliedEvent } from './apply-event.js';

export type EngagementJob = JobPayload<'engagement.event'>;

export interface AppliedJob {
  updates: UserUpdate[];
  applied: AppliedEvent;
}

/**
 * Applies a batch of ingested events in one transaction, each with its processed-event marker,
 * so a redelivered event (BullMQ is at-least-once) finds its marker and changes nothing. The
 * batch's users are locked first, in id order, so two batches sharing users cannot deadlock;
 * then each user's events apply one after another while different users' go side by side, their
 * queries pipelined on the one connection. Null for an event already applied (or gone).
 */
export async function applyEvents(sql: Sql, jobs: readonly EngagementJob[], rules: ReadonlyMap<string, EngineRules>, now: Date): Promise<(AppliedJob | null)[]> {
  return sql.begin(async (tx) => {
    const userIds = [...new Set(jobs.map((job) => job.userId))].sort();
    await tx`select 1 from users where id = any(${tx.array(userIds, pgArrayType.uuid)}::uuid[]) order by id for update`;
    const results: (AppliedJob | null)[] = jobs.map(() => null);
    const byUser = new Map<string, number[]>();
    jobs.forEach((job, index) => {
      const indexes = byUser.get(job.userId);
      if (indexes) indexes.push(index);
      else byUser.set(job.userId, [index]);
    });
    // allSettled: every chain stops (the transaction is aborted after any error) before the rollback is sent.
    const settled = await Promise.allSettled(
      [...byUser.values()].map(async (indexes) => {
        for (const index of indexes) {
          const job = jobs[index] as EngagementJob;
          const tenantRules = rules.get(job.tenantId);
          if (!tenantRules) throw new Error(`no rules given for tenant ${job.tenantId}`);
          results[index] = await applyJob(tx, job, tenantRules, now);
        }
      }),
    );
    const failure = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failure) throw failure.reason;
    return results;
  });
}

async function applyJob(tx: Transaction, { eventId, tenantId, userId }: EngagementJob, rules: EngineRules, now: Date): Promise<AppliedJob | null> {
  // The marker and the event in one round trip: nothing comes back when it was processed already.
  const [event] = await tx<{ type: string; value: number | null; occurred_at: string }[]>`
    with fresh as (insert into processed_events (event_id) select id from events where id = ${eventId} on conflict do nothing returning event_id)
    select e.type, e.value, e.occurred_at from events e join fresh on fresh.event_id = e.id`;
  if (!event) return null;
  const applied = await applyEvent(tx, { id: eventId, tenantId, userId, type: event.type, value: event.value, occurredAt: new Date(event.occurred_at) }, rules, now);
  return { updates: await appendUserUpdates(tx, tenantId, userId, applied.updates), applied };
}
