import { DelayedError, UnrecoverableError, Worker } from 'bullmq';
import { connectionProviders, type ConnectionProvider } from '../../contracts/api/connections.js';
import { syncJobName, syncQueueName } from '../../contracts/queues.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import { PermanentSyncError, type SyncRunner } from '../../services/integrations/sync-runner.js';
import type { JobHandler } from '../registry.js';

/** How long a sync waits when another run holds its connection, before trying again (plus jitter). */
const BUSY_RETRY_MS = 5_000;

/**
 * The `sync.<provider>` jobs: one connection's sync each (see SyncRunner). How it ended becomes
 * BullMQ's own mechanisms, none of which uses up an attempt except a real failure:
 * - throttled: the provider's queue is rate-limited for the wait (`queue.rateLimit`) and the job
 *   goes back to waiting (`Worker.RateLimitError`): no job of that provider starts meanwhile;
 * - busy (another run holds the connection): the job is delayed (`moveToDelayed` + DelayedError);
 * - refused credentials or an unreadable answer: UnrecoverableError, no retry;
 * - anything else: thrown, retried with exponential backoff and jitter (the queue's job options).
 */
export function createConnectionSyncHandlers(deps: { runner: SyncRunner; queues: JobQueues }): JobHandler[] {
  return connectionProviders.map((provider) => handlerFor(provider, deps));
}

function handlerFor(provider: ConnectionProvider, deps: { runner: SyncRunner; queues: JobQueues }): JobHandler {
  return {
    name: syncJobName(provider),
    async handle(payload, context) {
      const { connectionId } = payload as { connectionId: string };
      let outcome;
      try {
        outcome = await deps.runner.run(connectionId, context.jobId);
      } catch (error) {
        if (error instanceof PermanentSyncError) throw new UnrecoverableError(error.message);
        throw error;
      }
      if (outcome.kind === 'rate_limited') {
        await deps.queues.get(syncQueueName(provider)).rateLimit(outcome.waitMs);
        throw Worker.RateLimitError();
      }
      if (outcome.kind === 'busy') {
        if (!context.job || context.token === undefined) throw new Error('another sync of this connection is running');
        await context.job.moveToDelayed(Date.now() + BUSY_RETRY_MS + Math.floor(Math.random() * BUSY_RETRY_MS), context.token);
        throw new DelayedError();
      }
      return outcome;
    },
  };
}
