import { execFile } from 'node:child_process';
import { access, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bullPrefix, JobQueues } from '../../src/platform/queues/producer.js';
import { FORCE_EXIT_AFTER_MS } from '../../src/platform/lifecycle.js';
import { BackupStatusStore } from '../../src/repositories/backup-status.js';
import { PulseProcess } from '../support/pulse-process.js';
import { createTestDatabase, testEnv, type TestDatabase } from '../support/test-env.js';

const execFileAsync = promisify(execFile);

async function waitForState(job: Job, wanted: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await job.getState();
    if (state === wanted) return;
    if (state === 'failed') throw new Error(`job ${job.id} failed`);
    if (Date.now() > deadline) throw new Error(`job stayed ${state}, expected ${wanted}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** pg_dump needs a share lock on every table, so an exclusive lock held here parks a backup mid-run. */
async function lockUsersTable(url: string) {
  const blocker = postgres(url, { max: 1, onnotice: () => undefined });
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const transaction = blocker.begin(async (sql) => {
    await sql`lock table users in access exclusive mode`;
    locked();
    await released;
  });
  await isLocked;
  return async () => {
    release();
    await transaction;
    await blocker.end();
  };
}

describe('worker process', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let redis: Redis;
  let queues: JobQueues;
  let worker: PulseProcess;

  beforeAll(async () => {
    database = await createTestDatabase();
    env = await testEnv(database, {
      LOG_LEVEL: 'info',
      BACKUP_DIR: await mkdtemp(path.join(os.tmpdir(), 'pulse-backups-')),
    });
    redis = new Redis(env.REDIS_URL as string, { maxRetriesPerRequest: null });
    queues = new JobQueues(redis, bullPrefix(env.REDIS_PREFIX as string));
    worker = PulseProcess.start('worker', env);
    await worker.waitForLog((line) => line.message === 'workers started');
  });

  afterAll(async () => {
    if (worker.child.exitCode === null) worker.kill('SIGKILL');
    await queues?.close();
    redis?.disconnect();
    await database?.drop();
  });

  it('runs a queued job with its registered handler: db.backup writes a dump, proves it by a restore and publishes the status', async () => {
    const job = await queues.enqueue('db.backup', { reason: 'manual' });
    await waitForState(job, 'completed');

    const finished = await queues.get('maintenance').getJob(job.id as string);
    const result = finished?.returnvalue as { file: string; bytes: number; verification: string; reason: string | null };
    expect(path.dirname(result.file)).toBe(env.BACKUP_DIR);
    expect(result.bytes).toBeGreaterThan(0);
    expect(result).toMatchObject({ verification: 'verified', reason: null });
    const status = await new BackupStatusStore(redis, env.REDIS_PREFIX as string).read();
    expect(status).toMatchObject({ lastBackupFile: path.basename(result.file), lastBackupBytes: result.bytes, lastResult: 'verified', lastReason: null, nextRunAt: null });
    expect(status.lastVerificationMs).toBeGreaterThan(0);
    expect(Date.parse(status.lastVerifiedAt as string)).toBeGreaterThanOrEqual(Date.parse(status.lastBackupAt as string));
    const { stdout } = await execFileAsync('pg_restore', ['--list', result.file]);
    expect(stdout).toMatch(/TABLE public users/);
    expect(stdout).toMatch(/TABLE public tenants/);

    const logged = await worker.waitForLog((line) => line.message === 'database backup verified' && line.jobId === job.id);
    expect(logged).toMatchObject({ queue: 'maintenance', job: 'db.backup', role: 'worker' });

    const again = await queues.enqueue('db.backup.verify', { file: path.basename(result.file) });
    await waitForState(again, 'completed');
    expect((await queues.get('maintenance').getJob(again.id as string))?.returnvalue).toMatchObject({ file: path.basename(result.file), verification: 'verified', reason: null });
  });

  it('on SIGTERM lets the job in flight finish, then exits 0', async () => {
    const unlock = await lockUsersTable(database.url);
    const job = await queues.enqueue('db.backup', { reason: 'manual' });
    await waitForState(job, 'active');
    worker.kill('SIGTERM');
    await worker.waitForLog((line) => line.message === 'shutting down');
    await new Promise((resolve) => setTimeout(resolve, 750));
    expect(worker.child.exitCode).toBeNull();
    expect(await job.getState()).toBe('active');

    await unlock();
    expect((await worker.exit()).code).toBe(0);
    expect(await job.getState()).toBe('completed');
    const finished = await queues.get('maintenance').getJob(job.id as string);
    await access((finished?.returnvalue as { file: string }).file);
  });

  it('exits at once on a signal repeated after the grace period, even with a job in flight', async () => {
    const impatient = PulseProcess.start('worker', env);
    await impatient.waitForLog((line) => line.message === 'workers started');
    const unlock = await lockUsersTable(database.url);
    try {
      const job = await queues.enqueue('db.backup', { reason: 'manual' });
      await waitForState(job, 'active');
      impatient.kill('SIGTERM');
      await impatient.waitForLog((line) => line.message === 'shutting down');
      // A repeat within the grace period is the same request to stop (npm, a process group)...
      impatient.kill('SIGTERM');
      await impatient.waitForLog((line) => line.message === 'already shutting down; ignoring a repeated signal');
      await new Promise((resolve) => setTimeout(resolve, FORCE_EXIT_AFTER_MS));
      expect(impatient.child.exitCode).toBeNull();
      // ...one after it is a person who will not wait for the drain.
      impatient.kill('SIGTERM');
      expect((await impatient.exit(5_000)).code).toBe(130);
      expect(await job.getState()).toBe('active');
    } finally {
      await unlock();
    }
  });
});
