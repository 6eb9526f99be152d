import http from 'node:http';
import { sleep } from './child-process.js';
import { MsHistogram } from './ms-histogram.js';

/**
 * An open-loop HTTP sender: requests go out on a fixed schedule (`rate` per second, checked every
 * couple of milliseconds), not when earlier ones come back, so a slow server sees the load it was
 * offered instead of a politely reduced one. (autocannon's rate limit sends each second's quota
 * in a burst at the start of the second, which would measure bursts, not a rate.) Only when more
 * than `maxInFlight` requests are outstanding does it fall behind the schedule, and it says how far.
 */

export interface PacedOptions {
  url: URL;
  headers: Record<string, string>;
  rate: number;
  seconds: number;
  /** The body of request `index`, built just before it is sent. */
  body: (index: number) => string;
  /** Headers of request `index` on top of `headers` (say, a different caller's token). */
  headersFor?: (index: number) => Record<string, string>;
  /** Told of each answer (status 0: no answer). */
  onAnswer?: (index: number, status: number) => void;
  maxInFlight?: number;
  signal?: AbortSignal;
}

export interface PacedResult {
  offeredPerSecond: number;
  sent: number;
  /** Requests answered 202. */
  accepted: number;
  /** Other answers by status (0: no answer), with the first body of each. */
  refused: Record<string, { count: number; body: string }>;
  /** Seconds from the first request to the last one sent. */
  sendSeconds: number;
  sentPerSecond: number;
  /** How far the sender fell behind its schedule at worst, waiting for answers. */
  maxLagMs: number;
  /** Request sent → answer. */
  answerLatency: MsHistogram;
}

const TICK_MS = 2;

export async function sendAtRate(options: PacedOptions): Promise<PacedResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const maxInFlight = options.maxInFlight ?? 1_000;
  const total = Math.round(options.rate * options.seconds);
  const answerLatency = new MsHistogram();
  const refused: PacedResult['refused'] = {};
  let sent = 0;
  let accepted = 0;
  let inFlight = 0;
  let maxLagMs = 0;
  let lastSentAt = 0;
  let allAnswered: () => void = () => undefined;
  const answered = new Promise<void>((resolve) => (allAnswered = resolve));

  const refuse = (status: number, body: string) => {
    const entry = (refused[String(status)] ??= { count: 0, body: body.slice(0, 300) });
    entry.count += 1;
  };
  const settle = () => {
    inFlight -= 1;
    if (inFlight === 0 && sent === total) allAnswered();
  };
  const post = (index: number) => {
    const body = options.body(index);
    const started = performance.now();
    inFlight += 1;
    const headers = { ...options.headers, ...options.headersFor?.(index), 'content-length': Buffer.byteLength(body) };
    const request = http.request(options.url, { method: 'POST', agent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        answerLatency.add(performance.now() - started);
        if (response.statusCode === 202) accepted += 1;
        else refuse(response.statusCode ?? 0, Buffer.concat(chunks).toString());
        options.onAnswer?.(index, response.statusCode ?? 0);
        settle();
      });
    });
    request.on('error', (error) => {
      refuse(0, error.message);
      options.onAnswer?.(index, 0);
      settle();
    });
    request.end(body);
  };

  const start = performance.now();
  try {
    while (sent < total) {
      if (options.signal?.aborted) throw options.signal.reason;
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) * options.rate) / 1000) + 1);
      while (sent < due && inFlight < maxInFlight) {
        // How late this request leaves compared with its slot in the schedule.
        maxLagMs = Math.max(maxLagMs, now - (start + (sent * 1000) / options.rate));
        post(sent++);
      }
      lastSentAt = performance.now();
      await sleep(TICK_MS);
    }
    if (inFlight > 0) await answered;
  } finally {
    agent.destroy();
  }
  const sendSeconds = Math.max((lastSentAt - start) / 1000, 1 / options.rate);
  return { offeredPerSecond: options.rate, sent, accepted, refused, sendSeconds, sentPerSecond: sent / sendSeconds, maxLagMs, answerLatency };
}
