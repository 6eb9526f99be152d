import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { runMigrations } from '../../src/repositories/db/migrate.js';
import { startLocalPostgres, startLocalRedis } from '../../src/platform/local-services/index.js';
import { silentLogger } from './silent-logger.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL with rights to create databases; test files clone `templateDatabase` from it. */
    adminDatabaseUrl: string;
    /** Migrated once per run; every test file gets its own copy. */
    templateDatabase: string;
    redisUrl: string;
  }
}

/**
 * Starts throwaway Postgres and Redis servers (the same launchers as zero-config `npm start`,
 * with durability off) unless TEST_DATABASE_URL / TEST_REDIS_URL name servers to use instead.
 */
export default async function setup(project: TestProject) {
  const logger = silentLogger();
  const stops: (() => Promise<void>)[] = [];
  const env = process.env;

  let adminDatabaseUrl = env.TEST_DATABASE_URL;
  if (!adminDatabaseUrl) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'pulse-test-pg-'));
    const server = await startLocalPostgres({ dataDir, ephemeral: true, logger });
    stops.push(server.stop);
    adminDatabaseUrl = server.url;
  }
  let redisUrl = env.TEST_REDIS_URL;
  if (!redisUrl) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'pulse-test-redis-'));
    const server = await startLocalRedis({ dataDir, ephemeral: true, redisServerBin: env.REDIS_SERVER_BIN ?? 'redis-server', logger });
    stops.push(server.stop);
    redisUrl = server.url;
  }

  const templateDatabase = `pulse_template_${process.pid}_${Date.now()}`;
  const admin = postgres(adminDatabaseUrl, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`create database "${templateDatabase}"`);
  const templateUrl = new URL(adminDatabaseUrl);
  templateUrl.pathname = `/${templateDatabase}`;
  await runMigrations(templateUrl.toString(), logger);

  project.provide('adminDatabaseUrl', adminDatabaseUrl);
  project.provide('templateDatabase', templateDatabase);
  project.provide('redisUrl', redisUrl);

  return async () => {
    await admin.unsafe(`drop database if exists "${templateDatabase}" with (force)`);
    await admin.end();
    for (const stop of stops) await stop();
  };
}
