import autocannon from 'autocannon';
import { formatNumber, formatTable } from './table.js';

/** autocannon as a promise that an AbortSignal can cut short, and the figures every benchmark reports. */

export type CannonOptions = autocannon.Options;
export type CannonRequest = autocannon.Request;

export function runCannon(options: CannonOptions, signal?: AbortSignal): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted before the load started'));
    // A stopped instance still calls back with what it measured so far; the caller checks the signal.
    const onAbort = () => instance.stop();
    const instance = autocannon(options, (error: unknown, result) => {
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }));
      else resolve(result);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface LoadSummary {
  url: string;
  connections: number;
  durationSeconds: number;
  /** Per-second samples over the run. */
  requestsPerSecond: { average: number; stddev: number; min: number; max: number };
  /** autocannon records whole milliseconds. */
  latencyMs: { average: number; p50: number; p90: number; p99: number; p99_9: number; max: number };
  requests: { sent: number; completed: number };
  statusCodes: Record<string, number>;
  non2xx: number;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
}

export function summarizeLoad(result: autocannon.Result): LoadSummary {
  const { requests, latency } = result;
  return {
    url: result.url,
    connections: result.connections,
    durationSeconds: result.duration,
    requestsPerSecond: { average: requests.average, stddev: requests.stddev, min: requests.min, max: requests.max },
    latencyMs: { average: latency.average, p50: latency.p50, p90: latency.p90, p99: latency.p99, p99_9: latency.p99_9, max: latency.max },
    requests: { sent: requests.sent, completed: requests.total },
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stats]) => [code, stats.count ?? 0])),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** Load summaries as a table: one row per labelled run, first column `label`. */
export function formatLoadTable(label: string, runs: readonly (readonly [string, LoadSummary])[]): string {
  return formatTable(
    [
      { header: label, align: 'left' },
      { header: 'req/s' },
      { header: 'p50 ms' },
      { header: 'p99 ms' },
      { header: 'p99.9 ms' },
      { header: 'max ms' },
      { header: 'requests' },
      { header: 'non-2xx' },
      { header: 'errors' },
      { header: 'status codes', align: 'left' },
    ],
    runs.map(([name, summary]) => [
      name,
      formatNumber(summary.requestsPerSecond.average, 0),
      summary.latencyMs.p50,
      summary.latencyMs.p99,
      summary.latencyMs.p99_9,
      summary.latencyMs.max,
      summary.requests.completed,
      summary.non2xx,
      summary.errors,
      Object.entries(summary.statusCodes)
        .map(([code, count]) => `${code}×${formatNumber(count)}`)
        .join(' '),
    ]),
  );
}
