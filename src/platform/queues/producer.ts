import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { jobDefinitions, queueNames, type JobName, type JobPayload, type QueueName } from '../../contracts/queues.js';

const DAY_SECONDS = 24 * 60 * 60;

/** Where BullMQ keeps every queue of a deployment: under the deployment's REDIS_PREFIX. */
export const bullPrefix = (redisPrefix: string) => `${redisPrefix}:bull`;

/** Completed jobs are trimmed so Redis stays bounded; failed ones are kept for a month to be inspected and retried. */
export const defaultJobOptions: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: DAY_SECONDS, count: 1_000 },
  removeOnFail: { age: 30 * DAY_SECONDS },
};

/** Typed producer side of every queue: a job can only be added with the payload its name requires. */
export class JobQueues {
  readonly queues: ReadonlyMap<QueueName, Queue>;

  constructor(
    connection: Redis,
    readonly prefix: string,
  ) {
    this.queues = new Map(
      queueNames.map((name) => [name, new Queue(name, { connection, prefix, defaultJobOptions })] as const),
    );
  }

  get(name: QueueName): Queue {
    const queue = this.queues.get(name);
    if (!queue) throw new Error(`unknown queue ${name}`);
    return queue;
  }

  async enqueue<N extends JobName>(name: N, payload: JobPayload<N>, options?: JobsOptions) {
    const definition = jobDefinitions[name];
    return this.get(definition.queue).add(name, definition.payload.parse(payload), options);
  }

  /** Adds many jobs of one name in a single round trip. */
  async enqueueMany<N extends JobName>(name: N, jobs: { payload: JobPayload<N>; options?: JobsOptions }[]) {
    const definition = jobDefinitions[name];
    return this.get(definition.queue).addBulk(
      jobs.map((job) => ({ name, data: definition.payload.parse(job.payload), opts: job.options })),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
  }
}
