import type { StreamMessage } from '../../src/contracts/api/streams.js';
import { hubRequest, mintToken } from './hub-api.js';
import type { BenchPayload } from './fanout-protocol.js';
import type { HubProcess } from './hub-process.js';
import type { ProcessGroup } from './proc-cpu.js';
import { withChildren } from './proc-cpu.js';
import { fetchMetrics } from './prom-metrics.js';
import { collectGarbage } from './remote-gc.js';
import { BASELINE_STATS_PATH, type BaselineServer, type BaselineServerStats } from './baseline-server.js';

/**
 * The two servers the fan-out benchmark drives, behind one shape: where clients connect and how
 * they speak, how a broadcast is published (the same request for both), and how the server
 * process's memory is read (the hub's Prometheus metrics, the baseline's /stats).
 */

export const BENCH_STREAM = 'bench';
export const BENCH_ROOM = `stream:${BENCH_STREAM}`;

export interface MemorySample {
  heapUsedBytes: number;
  rssBytes: number;
  /** Connections the server itself counts. */
  connections: number;
}

export interface FanoutTarget {
  name: string;
  /** `http://host:port`. */
  url: string;
  wsUrl: string;
  protocol: 'socket.io' | 'raw';
  tokens?: readonly string[];
  room?: string;
  /** Bearer credential for publishing, if the server checks one. */
  apiKey?: string;
  memory(): Promise<MemorySample>;
  /** A full GC in the server process (through its inspector), when it was started with one. */
  collectGarbage?: () => Promise<void>;
  /** The server side's processes, for CPU accounting. */
  processGroups(): Promise<ProcessGroup[]>;
}

export function hubTarget(hub: HubProcess, tokens: readonly string[], inspectPort?: number): FanoutTarget {
  return {
    name: 'hub',
    url: hub.url,
    wsUrl: hub.url.replace(/^http:/, 'ws:'),
    protocol: 'socket.io',
    tokens,
    room: BENCH_ROOM,
    apiKey: hub.apiKey,
    async memory() {
      const metrics = await fetchMetrics(`${hub.url}/metrics`);
      const value = (name: string) => metrics.get(name) ?? Number.NaN;
      return {
        heapUsedBytes: value('nodejs_heap_size_used_bytes'),
        rssBytes: value('process_resident_memory_bytes'),
        connections: value('socketio_connected_sockets'),
      };
    },
    ...(inspectPort ? { collectGarbage: () => collectGarbage(inspectPort) } : {}),
    async processGroups() {
      const servers = await hub.localServerPids();
      return [
        { name: 'hub (node, role hub)', pids: () => Promise.resolve([hub.pid]) },
        ...(servers.redis ? [{ name: 'redis-server', pids: () => Promise.resolve([servers.redis as number]) }] : []),
        ...(servers.postgres ? [{ name: 'postgres (postmaster + backends)', pids: () => withChildren(servers.postgres) }] : []),
      ];
    },
  };
}

/** Target names of the baselines, as the report's columns show them. */
export const BASELINE_NAMES = { ws: 'bare ws', 'socket.io': 'bare socket.io' } as const;

export function baselineTarget(server: BaselineServer, inspectPort?: number): FanoutTarget {
  const socketIo = server.kind === 'socket.io';
  return {
    name: BASELINE_NAMES[server.kind],
    url: server.url,
    wsUrl: server.wsUrl,
    protocol: socketIo ? 'socket.io' : 'raw',
    ...(socketIo ? { room: BENCH_ROOM } : {}),
    async memory() {
      const response = await fetch(`${server.url}${BASELINE_STATS_PATH}`, { signal: AbortSignal.timeout(5_000) });
      const stats = (await response.json()) as BaselineServerStats;
      return { heapUsedBytes: stats.heapUsedBytes, rssBytes: stats.rssBytes, connections: stats.clients };
    },
    ...(inspectPort ? { collectGarbage: () => collectGarbage(inspectPort) } : {}),
    processGroups: () => Promise.resolve([{ name: `${BASELINE_NAMES[server.kind]} server (node)`, pids: () => Promise.resolve([server.pid]) }]),
  };
}

export interface PublishOutcome {
  status: number;
  /** The server's publication time, from the 202 answer. */
  at?: string;
  body?: string;
}

/** `POST /api/v1/streams/bench/messages` with `{ data }`; never throws (a network error is status 0). */
export async function publish(target: FanoutTarget, data: BenchPayload): Promise<PublishOutcome> {
  try {
    const response = await hubRequest(`${target.url}/api/v1/streams/${BENCH_STREAM}/messages`, target.apiKey, 'POST', { data }, 10_000);
    if (response.status !== 202) return { status: response.status, body: response.body.slice(0, 300) };
    return { status: 202, at: (JSON.parse(response.body) as Pick<StreamMessage, 'at'>).at };
  } catch (error) {
    return { status: 0, body: error instanceof Error ? error.message : String(error) };
  }
}

export interface MintedTokens {
  tokens: string[];
  expiresInSeconds: number;
  /** Refusals by status, with the first body of each. */
  refusals: Record<string, { count: number; body: string }>;
  elapsedMs: number;
}

/** One access token per user `bench-<i>`, minted with the tenant API key, a few requests at a time. */
export async function mintTokens(hub: HubProcess, users: number, concurrency = 8): Promise<MintedTokens> {
  const started = performance.now();
  const tokens: string[] = [];
  const refusals: MintedTokens['refusals'] = {};
  let expiresInSeconds = Number.NaN;
  let next = 0;
  const lane = async () => {
    while (next < users) {
      const userId = `bench-${next++}`;
      const minted = await mintToken(hub.url, hub.apiKey, { userId });
      if ('pair' in minted) {
        tokens.push(minted.pair.accessToken);
        expiresInSeconds = minted.pair.expiresIn;
        continue;
      }
      const refusal = (refusals[String(minted.refusal.status)] ??= { count: 0, body: minted.refusal.body.slice(0, 300) });
      refusal.count += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, users) }, lane));
  return { tokens, expiresInSeconds, refusals, elapsedMs: performance.now() - started };
}
