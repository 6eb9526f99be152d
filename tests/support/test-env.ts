import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, inject } from 'vitest';
import { parseConfig, type Config } from '../../src/platform/config.js';
import { boot, type Booted, type ProcessRole } from '../../src/roles/boot.js';
import { Lifecycle } from '../../src/platform/lifecycle.js';
import { silentLogger } from './silent-logger.js';

export const uniqueName = (label: string) => `${label}_${randomBytes(5).toString('hex')}`;

export function databaseUrlFor(name: string): string {
  const url = new URL(inject('adminDatabaseUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function createDatabase(template: string | undefined): Promise<TestDatabase> {
  const name = uniqueName('test');
  const admin = postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`create database "${name}"${template ? ` template "${template}"` : ''}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: databaseUrlFor(name),
    async drop() {
      const sql = postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => undefined });
      await sql.unsafe(`drop database if exists "${name}" with (force)`);
      await sql.end();
    },
  };
}

/** A database of this file's own, already migrated (cloned from the run's template). */
export const createTestDatabase = () => createDatabase(inject('templateDatabase'));
/** An empty database, for testing migrations themselves. */
export const createEmptyDatabase = () => createDatabase(undefined);

export async function testEnv(database: TestDatabase, overrides: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: database.url,
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: uniqueName('t'),
    LOG_LEVEL: 'error',
    BACKUP_CRON: 'off',
    JWT_SECRET: randomBytes(32).toString('hex'),
    DATA_DIR: await mkdtemp(path.join(os.tmpdir(), 'pulse-test-data-')),
    ...overrides,
  };
}

export interface TestHub extends Booted {
  config: Config;
  url: string;
  stop(): Promise<void>;
}

/** Boots the hub in this process exactly as `main.ts` does, on an ephemeral port. */
export async function startTestHub(
  database: TestDatabase,
  options: { role?: ProcessRole; env?: Record<string, string> } = {},
): Promise<TestHub> {
  const config = parseConfig(await testEnv(database, options.env));
  const logger = silentLogger();
  const lifecycle = new Lifecycle(logger, config.SHUTDOWN_TIMEOUT_MS);
  const booted = await boot({
    role: options.role ?? 'all',
    config,
    logger,
    lifecycle,
    databaseUrl: config.DATABASE_URL as string,
    redisUrl: config.REDIS_URL as string,
  });
  const address = booted.hub?.server.address();
  const url = address && typeof address === 'object' ? `http://127.0.0.1:${address.port}` : '';
  return {
    ...booted,
    config,
    url,
    async stop() {
      const code = await lifecycle.shutdown('test finished');
      if (code !== 0) throw new Error(`test hub shut down with code ${code}`);
    },
  };
}

export interface HubFixture {
  database: TestDatabase;
  hub: TestHub;
}

/**
 * The usual file setup: a database of the file's own and a hub on it, started before the file's
 * tests and stopped after them. Read `fixture.hub` inside tests (it is set by then).
 */
export function useTestHub(options: Parameters<typeof startTestHub>[1] = {}): HubFixture {
  const fixture = {} as HubFixture;
  beforeAll(async () => {
    fixture.database = await createTestDatabase();
    fixture.hub = await startTestHub(fixture.database, options);
  });
  afterAll(async () => {
    await fixture.hub?.stop();
    await fixture.database?.drop();
  });
  return fixture;
}
