import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { jobDefinitions, jobsOfQueue, queueNames, type JobName, type QueueName } from '../contracts/queues.js';
import { createRedis } from '../platform/redis.js';
import { stalledJobOptions } from '../platform/queues/worker-options.js';
import { errorFields, withLogContext, type Logger } from '../platform/logger.js';
import type { HandlerRegistry } from './registry.js';

/**
 * How many jobs of each queue one worker process runs at once. `realtime` is missing on
 * purpose: hub processes consume it, since only they hold sockets.
 */
export const workerConcurrency: Partial<Record<QueueName, number>> = {
  maintenance: 1,
  engagement: 64,
};

/** The jobs the worker role must have handlers for: those of the queues it consumes. */
export const consumedJobNames = (): JobName[] =>
  queueNames.filter((queue) => workerConcurrency[queue] !== undefined).flatMap((queue) => jobsOfQueue(queue));

export interface WorkerPool {
  workers: readonly Worker[];
  /** Waits for running jobs up to `timeoutMs`, then stops them; BullMQ hands interrupted jobs to another worker. */
  close(timeoutMs: number): Promise<void>;
}

function isJobName(name: string): name is JobName {
  return Object.hasOwn(jobDefinitions, name);
}

function processorFor(registry: HandlerRegistry, logger: Logger) {
  return (job: Job) => {
    const context = { jobId: job.id ?? 'unknown', queue: job.queueName, job: job.name };
    return withLogContext(context, async () => {
      const handler = isJobName(job.name) ? registry.get(job.name) : undefined;
      if (!handler) throw new UnrecoverableError(`no handler for job "${job.name}"`);
      const payload = jobDefinitions[handler.name].payload.safeParse(job.data);
      if (!payload.success) throw new UnrecoverableError(`invalid payload: ${payload.error.message}`);
      return handler.handle(payload.data, { logger, jobId: context.jobId, attempt: job.attemptsMade + 1 });
    });
  };
}

export function startWorkerPool(options: {
  redisUrl: string;
  prefix: string;
  registry: HandlerRegistry;
  logger: Logger;
}): WorkerPool {
  const { redisUrl, prefix, registry, logger } = options;
  const connection = createRedis(redisUrl, 'blocking', logger, 'worker');
  const workers = queueNames
    .filter((queue) => workerConcurrency[queue] !== undefined && jobsOfQueue(queue).length > 0)
    .map((queue) => {
      // BullMQ duplicates the shared connection for each worker's blocking reads and closes those itself.
      const worker = new Worker(queue, processorFor(registry, logger), {
        connection,
        prefix,
        concurrency: workerConcurrency[queue],
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
