import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { defaultJobOptions } from '../../src/platform/queues/producer.js';
import { NodeChild, cleanEnv } from './child-process.js';

/**
 * The engine benchmark's baseline: how fast plain BullMQ consumes a trivial job on the same Redis,
 * with the engine worker's concurrency and job options, in a process of its own (as the worker
 * is). The queue is filled first; the clock runs from the worker's start to the last completion.
 */

export interface ConsumeFigures {
  jobs: number;
  concurrency: number;
  elapsedMs: number;
  jobsPerSecond: number;
}

const script = fileURLToPath(import.meta.url);

/** Runs the measurement in a child process and returns its figures. */
export async function measureRawConsume(options: { redisUrl: string; prefix: string; jobs: number; concurrency: number; timeoutMs: number }): Promise<ConsumeFigures> {
  let result: ConsumeFigures | undefined;
  const child = new NodeChild({
    script,
    args: [options.redisUrl, options.prefix, String(options.jobs), String(options.concurrency)],
    env: cleanEnv(),
    onLine: (line, stream) => {
      if (stream === 'stdout' && line.startsWith('{')) result = JSON.parse(line) as ConsumeFigures;
    },
  });
  const status = await child.waitForExit(options.timeoutMs);
  if (!status) await child.stop(5_000);
  if (!result) throw new Error(`the BullMQ baseline gave no figures (${JSON.stringify(status ?? 'timed out')}):\n${child.recentOutput()}`);
  return result;
}

async function consume(redisUrl: string, prefix: string, jobs: number, concurrency: number): Promise<ConsumeFigures> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const name = `bench-consume-${process.pid}`;
  const queue = new Queue(name, { connection, prefix, defaultJobOptions });
  try {
    for (let first = 0; first < jobs; first += 1_000) {
      const count = Math.min(1_000, jobs - first);
      await queue.addBulk(Array.from({ length: count }, (_, i) => ({ name: 'trivial', data: { n: first + i } })));
    }
    let completed = 0;
    let finish: (elapsedMs: number) => void = () => undefined;
    const done = new Promise<number>((resolve) => (finish = resolve));
    const started = performance.now();
    const worker = new Worker(name, () => Promise.resolve(), { connection, prefix, concurrency });
    worker.on('completed', () => {
      completed += 1;
      if (completed === jobs) finish(performance.now() - started);
    });
    const elapsedMs = await done;
    await worker.close();
    return { jobs, concurrency, elapsedMs, jobsPerSecond: (jobs / elapsedMs) * 1000 };
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
    connection.disconnect();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === script) {
  const [redisUrl = '', prefix = '', jobs = '', concurrency = ''] = process.argv.slice(2);
  const figures = await consume(redisUrl, prefix, Number(jobs), Number(concurrency));
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  process.exit(0);
}
