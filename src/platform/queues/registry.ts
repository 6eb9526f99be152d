import type { Job } from 'bullmq';
import { jobNames, type JobName, type JobPayload } from '../../contracts/queues.js';
import type { Logger } from '../logger.js';

export interface JobContext {
  logger: Logger;
  jobId: string;
  attempt: number;
  /** The BullMQ job and its lock token: for a handler that must delay itself (`moveToDelayed`) or rate-limit its queue. */
  job?: Job;
  token?: string;
}

export interface JobHandler<N extends JobName = JobName> {
  name: N;
  handle(payload: JobPayload<N>, context: JobContext): Promise<unknown>;
}

export type HandlerRegistry = ReadonlyMap<JobName, JobHandler>;

export class HandlerRegistryError extends Error {
  override name = 'HandlerRegistryError';
}

/**
 * The one way a job is handled, in every role: the worker's processors (src/workers/processors/)
 * and the hub's realtime delivery (src/server/realtime/deliver-handler.ts) both implement it, and
 * a role's pool (./worker-pool.ts) dispatches its queues' jobs through a registry of them.
 *
 * Maps each job name to exactly one handler. A name with no handler, two handlers, or a handler
 * for an unknown name is a deployment bug: refuse to start rather than strand or double-run jobs.
 */
export function buildHandlerRegistry(
  handlers: readonly JobHandler[],
  expected: readonly JobName[] = jobNames,
): HandlerRegistry {
  const registry = new Map<JobName, JobHandler>();
  const problems: string[] = [];
  for (const handler of handlers) {
    if (!expected.includes(handler.name)) problems.push(`handler for unknown job "${handler.name}"`);
    else if (registry.has(handler.name)) problems.push(`two handlers for job "${handler.name}"`);
    else registry.set(handler.name, handler);
  }
  for (const name of expected) {
    if (!registry.has(name)) problems.push(`no handler for job "${name}"`);
  }
  if (problems.length > 0) throw new HandlerRegistryError(`job handler registry refused: ${problems.join('; ')}`);
  return registry;
}
