import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadinessReport } from '../../src/server/readiness.js';
import { startLocalPostgres, startLocalRedis } from '../../src/platform/local-services/index.js';
import { silentLogger } from '../support/silent-logger.js';
import { startTestHub, type TestHub } from '../support/test-env.js';

/**
 * Stopping the shared test servers would break the other files running in parallel, so this file
 * runs its hub on a Postgres and a Redis of its own, started by the same launcher, and stops and
 * restarts those in place (same data, same port).
 */
describe('readiness follows its dependencies', () => {
  const logger = silentLogger();
  let dataDir: string;
  let pgPort: number;
  let redisPort: number;
  let stopPostgres: () => Promise<void>;
  let stopRedis: () => Promise<void>;
  let hub: TestHub;

  const startPostgres = async (port?: number) => {
    const server = await startLocalPostgres({ dataDir, ephemeral: false, port, logger });
    stopPostgres = server.stop;
    return server.url;
  };
  const startRedis = async (port?: number) => {
    const server = await startLocalRedis({ dataDir, ephemeral: false, port, redisServerBin: 'redis-server', logger });
    stopRedis = server.stop;
    return server.url;
  };

  async function readiness(): Promise<{ status: number; body: ReadinessReport }> {
    const response = await fetch(`${hub.url}/readyz`);
    return { status: response.status, body: (await response.json()) as ReadinessReport };
  }

  async function eventually(expected: number, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    let last = await readiness();
    while (last.status !== expected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      last = await readiness();
    }
    return last;
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'pulse-readiness-'));
    const databaseUrl = await startPostgres();
    const redisUrl = await startRedis();
    pgPort = Number(new URL(databaseUrl).port);
    redisPort = Number(new URL(redisUrl).port);
    const database = { name: 'postgres', url: databaseUrl, drop: () => Promise.resolve() };
    hub = await startTestHub(database, { role: 'hub', env: { REDIS_URL: redisUrl, READINESS_TIMEOUT_MS: '500' } });
  });

  afterAll(async () => {
    await hub?.stop();
    await stopRedis?.();
    await stopPostgres?.();
    await rm(dataDir, { recursive: true, force: true });
  });

  const outages = [
    { dependency: 'redis', other: 'postgres', stop: () => stopRedis(), restart: () => startRedis(redisPort) },
    { dependency: 'postgres', other: 'redis', stop: () => stopPostgres(), restart: () => startPostgres(pgPort) },
  ] as const;

  it.each(outages)('is 503 naming $dependency while it is stopped, and 200 again once it is back', async (outage) => {
    expect((await readiness()).status).toBe(200);

    await outage.stop();
    const down = await eventually(503);
    expect(down.status).toBe(503);
    expect(down.body.failing).toEqual([outage.dependency]);
    expect(down.body.checks[outage.other].status).toBe('ok');

    await outage.restart();
    const back = await eventually(200);
    expect(back.status).toBe(200);
    expect(back.body.failing).toEqual([]);
  });
});
