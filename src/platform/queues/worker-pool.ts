import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { jobDefinitions, jobsOfQueue, queueNames, type JobName, type QueueName } from '../../contracts/queues.js';
import { createRedis } from '../redis.js';
import { stalledJobOptions } from './worker-options.js';
import { errorFields, withLogContext, type Logger } from '../logger.js';
import type { HandlerRegistry } from './registry.js';

/** The processes that consume queues: hubs hold the sockets, workers everything else. */
export type ConsumerRole = 'worker' | 'hub';

/**
 * The one table of consumers, keyed by queue: which role consumes it and how many of its jobs
 * one process of that role runs at once. Every queue has exactly one consuming role.
 */
export const queueConsumers = {
  maintenance: { role: 'worker', concurrency: 1 },
  engagement: { role: 'worker', concurrency: 64 },
  /** Hub processes consume it, since only they hold sockets. */
  realtime: { role: 'hub', concurrency: 64 },
  /** One fusion per signal at a time (deduplicated), many signals side by side. */
  signals: { role: 'worker', concurrency: 32 },
  /** Each recomputation is one user's, bounded (candidate pool); never on the engine's queue. */
  feeds: { role: 'worker', concurrency: 8 },
  // A provider's syncs share its queue's rate limit, which its Retry-After sets (queue.rateLimit);
  // BullMQ honours a manual rate limit only on a worker with `limiter.max`, hence a limit no sync reaches.
  'sync-shopify': { role: 'worker', concurrency: 4, limiter: { max: 1_000, duration: 1_000 } },
  'sync-stripe': { role: 'worker', concurrency: 4, limiter: { max: 1_000, duration: 1_000 } },
  'sync-etsy': { role: 'worker', concurrency: 4, limiter: { max: 1_000, duration: 1_000 } },
  'sync-tiktok_shop': { role: 'worker', concurrency: 4, limiter: { max: 1_000, duration: 1_000 } },
} as const satisfies Record<QueueName, { role: ConsumerRole; concurrency: number; limiter?: { max: number; duration: number } }>;

/** The queues a role consumes (those with jobs). */
export const consumedQueues = (role: ConsumerRole): QueueName[] =>
  queueNames.filter((queue) => queueConsumers[queue].role === role && jobsOfQueue(queue).length > 0);

/** The jobs a role must have handlers for: those of the queues it consumes. */
export const consumedJobNames = (role: ConsumerRole): JobName[] => consumedQueues(role).flatMap((queue) => jobsOfQueue(queue));

export interface WorkerPool {
  workers: readonly Worker[];
  /** Waits for running jobs up to `timeoutMs`, then stops them; BullMQ hands interrupted jobs to another worker. */
  close(timeoutMs: number): Promise<void>;
}

function limiterOf(queue: QueueName): { limiter?: { max: number; duration: number } } {
  const consumer = queueConsumers[queue];
  return 'limiter' in consumer ? { limiter: consumer.limiter } : {};
}

function isJobName(name: string): name is JobName {
  return Object.hasOwn(jobDefinitions, name);
}

function processorFor(registry: HandlerRegistry, logger: Logger) {
  return (job: Job, token?: string) => {
    const context = { jobId: job.id ?? 'unknown', queue: job.queueName, job: job.name };
    return withLogContext(context, async () => {
      const handler = isJobName(job.name) ? registry.get(job.name) : undefined;
      if (!handler) throw new UnrecoverableError(`no handler for job "${job.name}"`);
      const payload = jobDefinitions[handler.name].payload.safeParse(job.data);
      if (!payload.success) throw new UnrecoverableError(`invalid payload: ${payload.error.message}`);
      return handler.handle(payload.data, { logger, jobId: context.jobId, attempt: job.attemptsMade + 1, job, token });
    });
  };
}

/**
 * One BullMQ worker per queue the role consumes, at the table's concurrency, dispatching each job
 * to its registered handler. The registry must have been built for the same role
 * (`buildHandlerRegistry(handlers, consumedJobNames(role))`), so a missing handler stops start-up.
 */
export function startWorkerPool(options: {
  role: ConsumerRole;
  redisUrl: string;
  prefix: string;
  registry: HandlerRegistry;
  logger: Logger;
}): WorkerPool {
  const { role, redisUrl, prefix, registry, logger } = options;
  const missing = consumedJobNames(role).filter((name) => !registry.has(name));
  if (missing.length > 0) throw new Error(`the ${role} pool has no handler for ${missing.join(', ')}`);
  const connection = createRedis(redisUrl, 'blocking', logger, role === 'worker' ? 'worker' : `${role}:queues`);
  const workers = consumedQueues(role).map((queue) => {
    // BullMQ duplicates the shared connection for each worker's blocking reads and closes those itself.
    const worker = new Worker(queue, processorFor(registry, logger), {
      connection,
      prefix,
      concurrency: queueConsumers[queue].concurrency,
      ...limiterOf(queue),
      ...stalledJobOptions,
    });
    worker.on('failed', (job, error) =>
      logger.warn('job failed', { queue, jobId: job?.id, job: job?.name, attempt: job?.attemptsMade, ...errorFields(error) }),
    );
    worker.on('error', (error) => logger.error('worker error', { queue, ...errorFields(error) }));
    return worker;
  });

  return {
    workers,
    async close(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const drained = Promise.all(workers.map((worker) => worker.close())).then(() => true);
      const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const finished = await Promise.race([drained, timedOut]);
      clearTimeout(timer);
      if (!finished) {
        logger.warn('running jobs did not finish in time; stopping them for another worker to retry', { timeoutMs });
        await Promise.all(workers.map((worker) => worker.close(true)));
      }
      await connection.quit();
    },
  };
}
