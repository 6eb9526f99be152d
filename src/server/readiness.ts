import { once } from 'node:events';
import type { Redis } from 'ioredis';
import type { Sql } from '../repositories/db/client.js';

export type DependencyName = 'postgres' | 'redis';

export interface DependencyStatus {
  status: 'ok' | 'failing';
  latencyMs: number;
  error?: string;
}

export interface ReadinessReport {
  status: 'ok' | 'unavailable';
  failing: DependencyName[];
  checks: Record<DependencyName, DependencyStatus>;
}

export type ReadinessProbe = (signal: AbortSignal) => Promise<unknown>;

async function probeWithTimeout(probe: ReadinessProbe, timeoutMs: number): Promise<DependencyStatus> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(controller.signal),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return { status: 'ok', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: 'failing', latencyMs: Math.round(performance.now() - started), error: (error as Error).message };
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/**
 * Probes use their own connections (a one-connection Postgres pool, a Redis client without an
 * offline queue) so a saturated app pool cannot fake an outage and a dead server answers at once.
 */
export function createReadinessCheck(deps: { sql: Sql; redis: Redis; timeoutMs: number }) {
  const probes: Record<DependencyName, ReadinessProbe> = {
    postgres: () => deps.sql`select 1`,
    redis: async (signal) => {
      // Just after start (or a reconnect) the client may still be connecting: wait for it within the timeout.
      if (deps.redis.status !== 'ready') await once(deps.redis, 'ready', { signal });
      return deps.redis.ping();
    },
  };
  return async (): Promise<ReadinessReport> => {
    const names = Object.keys(probes) as DependencyName[];
    const results = await Promise.all(names.map((name) => probeWithTimeout(probes[name], deps.timeoutMs)));
    const checks = Object.fromEntries(names.map((name, i) => [name, results[i]])) as ReadinessReport['checks'];
    const failing = names.filter((name) => checks[name].status === 'failing');
    return { status: failing.length === 0 ? 'ok' : 'unavailable', failing, checks };
  };
}
