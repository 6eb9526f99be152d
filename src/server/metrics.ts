import client from 'prom-client';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { Sql } from '../repositories/db/client.js';
import type { JobQueues } from '../platform/queues/producer.js';
import { circuitStates } from '../contracts/api/connections.js';
import { syncCounters, type SyncTelemetry } from '../repositories/sync-telemetry.js';
import type { BackupStatusStore } from '../repositories/backup-status.js';
import { registerBackupGauges } from './backup-metrics.js';

const queueStates = ['waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children'] as const;

/** One registry per hub instance, so several hubs in one process (tests) do not collide. */
export function createMetrics(deps: { queues: JobQueues; sql: Sql; redis: Redis; requeuedCounterKey: string; connectedSockets: () => number; syncTelemetry: SyncTelemetry; backupStatus: BackupStatusStore }) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });

  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  new client.Gauge({
    name: 'socketio_connected_sockets',
    help: 'Socket.IO clients connected to this hub process',
    registers: [registry],
    collect() {
      this.set(deps.connectedSockets());
    },
  });

  new client.Gauge({
    name: 'bullmq_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      await Promise.all(
        [...deps.queues.queues].map(async ([name, queue]) => {
          const counts = await queue.getJobCounts(...queueStates);
          for (const state of queueStates) this.set({ queue: name, state }, counts[state] ?? 0);
        }),
      );
    },
  });

  const backlog = new client.Gauge({
    name: 'pulse_outbox_backlog',
    help: 'Accepted events not yet applied by the engine, by stage: unrelayed (not yet queued: grows while Redis is unreachable) or relayed',
    labelNames: ['stage'] as const,
    registers: [registry],
    async collect() {
      const [row] = await deps.sql<{ unrelayed: number; relayed: number }[]>`
        select count(*) filter (where relayed_at is null)::int as unrelayed, count(*) filter (where relayed_at is not null)::int as relayed from outbox`;
      backlog.set({ stage: 'unrelayed' }, row?.unrelayed ?? 0);
      backlog.set({ stage: 'relayed' }, row?.relayed ?? 0);
    },
  });

  new client.Gauge({
    name: 'pulse_pending_pushes',
    help: 'Users whose stored updates are not yet confirmed as handed to the hubs (the reconciler pushes them again when overdue)',
    registers: [registry],
    async collect() {
      const [row] = await deps.sql<{ pending: number }[]>`select count(*)::int as pending from pending_pushes`;
      this.set(row?.pending ?? 0);
    },
  });

  new client.Gauge({
    name: 'pulse_outbox_requeued_total',
    help: 'Accepted events handed to the engine again because Redis had lost their jobs (all workers, since Redis last lost its data)',
    registers: [registry],
    async collect() {
      this.set(Number((await deps.redis.get(deps.requeuedCounterKey)) ?? 0));
    },
  });

  // Syncs run in worker processes: their counters and circuit states are read from Redis at scrape time.
  const syncCounterHelp: Record<(typeof syncCounters)[number], string> = {
    calls: 'HTTP calls made to the provider',
    rate_limited: 'Calls the provider throttled (429 or its own bucket-full answer)',
    errors: 'Calls that failed with a 5xx, a timeout or no connection',
    records: 'Records stored (new or changed)',
    events: 'Events created from synced records',
    runs: 'Sync runs ended (completed or failed)',
    duration_ms: 'Milliseconds spent in ended sync runs',
  };
  for (const counter of syncCounters) {
    new client.Gauge({
      name: `pulse_sync_${counter}_total`,
      help: `${syncCounterHelp[counter]}, per provider, all workers`,
      labelNames: ['provider'] as const,
      registers: [registry],
      async collect() {
        for (const [provider, figures] of Object.entries(await deps.syncTelemetry.figures())) this.set({ provider }, figures[counter]);
      },
    });
  }
  new client.Gauge({
    name: 'pulse_sync_circuit_state',
    help: "Each provider's circuit breaker as the workers last reported it: 1 for its current state",
    labelNames: ['provider', 'state'] as const,
    registers: [registry],
    async collect() {
      for (const [provider, current] of Object.entries(await deps.syncTelemetry.circuits())) {
        for (const state of circuitStates) this.set({ provider, state }, state === current ? 1 : 0);
      }
    },
  });

  registerBackupGauges(registry, deps.backupStatus);

  /** Labels by the matched route pattern, never the raw path, so ids cannot explode label cardinality. */
  const observeRequests: RequestHandler = (req, res, next) => {
    const end = httpDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      const matched = req.route as { path: string } | undefined;
      const route = matched ? `${req.baseUrl}${matched.path}` : 'unmatched';
      end({ route, status: String(res.statusCode) });
    });
    next();
  };

  return { registry, observeRequests };
}
