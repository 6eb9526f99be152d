import type { Redis } from 'ioredis';
import { connectionProviders, type CircuitState, type ConnectionProvider } from '../contracts/api/connections.js';

/** Per-provider sync counters, summed over every worker process since Redis last lost its data. */
export const syncCounters = ['calls', 'rate_limited', 'errors', 'records', 'events', 'runs', 'duration_ms'] as const;
export type SyncCounter = (typeof syncCounters)[number];

export type ProviderFigures = Record<SyncCounter, number>;

/**
 * What the worker processes report about syncs for the hubs' `/metrics`, the connection API and
 * the dashboard: counters per provider and the last circuit-breaker state each provider's breaker
 * reported. In Redis because syncs run in worker processes and metrics are served by hubs.
 */
export class SyncTelemetry {
  private readonly countersKey: string;
  private readonly circuitsKey: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.countersKey = `${prefix}:sync:counters`;
    this.circuitsKey = `${prefix}:sync:circuits`;
  }

  async add(provider: ConnectionProvider, counts: Partial<ProviderFigures>): Promise<void> {
    const entries = Object.entries(counts).filter(([, value]) => value !== undefined && value !== 0);
    if (entries.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [counter, value] of entries) pipeline.hincrby(this.countersKey, `${provider}:${counter}`, Math.round(value));
    await pipeline.exec();
  }

  async setCircuit(provider: ConnectionProvider, state: CircuitState): Promise<void> {
    await this.redis.hset(this.circuitsKey, provider, state);
  }

  async circuits(): Promise<Record<ConnectionProvider, CircuitState>> {
    const stored = await this.redis.hgetall(this.circuitsKey);
    return Object.fromEntries(connectionProviders.map((provider) => [provider, (stored[provider] as CircuitState | undefined) ?? 'closed'])) as Record<ConnectionProvider, CircuitState>;
  }

  async figures(): Promise<Record<ConnectionProvider, ProviderFigures>> {
    const stored = await this.redis.hgetall(this.countersKey);
    return Object.fromEntries(
      connectionProviders.map((provider) => [provider, Object.fromEntries(syncCounters.map((counter) => [counter, Number(stored[`${provider}:${counter}`] ?? 0)]))]),
    ) as Record<ConnectionProvider, ProviderFigures>;
  }
}
