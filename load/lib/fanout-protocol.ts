import type { HistogramEntries } from './ms-histogram.js';

/**
 * What the fan-out benchmark, its client processes and its publisher agree on: the payload every
 * broadcast carries, the connection plan, and the IPC messages between the fleet and its children.
 */

/** The `data` the benchmark publishes, and what a client reads back on receipt. */
export interface BenchPayload {
  /** Receipts are aggregated per phase: `warm-up`, `latency-1`, ..., `sustained`. */
  phase: string;
  seq: number;
  /** Date.now() just before the publishing request was sent. */
  sentAt: number;
}

/**
 * What a client times: `stream` — `stream:message`s carrying a BenchPayload (fan-out); `updates` —
 * its user's `activity:recorded` updates of events typed `bench.p<n>` (phase `p<n>`, seq n), timed
 * from the event's `occurredAt` (the sender's clock when it posted), with every user update's seq
 * checked to follow the previous one on that socket.
 */
export type ReceiptSource = 'stream' | 'updates';

/** The event type the engine benchmark posts in phase n, and how the clients read it back. */
export const benchEventType = (phase: number) => `bench.p${phase}`;
export const BENCH_EVENT_TYPE = /^bench\.p(\d+)$/;

export interface ConnectPlan {
  /** `ws://host:port`. */
  baseUrl: string;
  protocol: 'socket.io' | 'raw';
  /** Default `stream`. */
  receipts?: ReceiptSource;
  connections: number;
  /** Socket.IO `auth.token`s, handed out round-robin. */
  tokens?: readonly string[];
  /** Subscribed to right after connecting, with an ack (Socket.IO only). */
  room?: string;
  /** Connections being opened at once, across the fleet. */
  concurrency: number;
  timeoutMs: number;
}

export interface ConnectResult {
  attempted: number;
  connected: number;
  /** Connections whose `subscribe` was acknowledged `{ ok: true }`; all connected ones when there is no room. */
  ready: number;
  /** Failures by reason: `connect_error <code>`, `ws <errno>`, `timeout`, `subscribe refused <code>`, ... */
  failures: Record<string, number>;
  elapsedMs: number;
}

export interface FleetHealth {
  /** Sockets the server closed while the fleet was not closing. */
  closedUnexpectedly: number;
  sessionExpired: number;
  otherEvents: number;
  /** Timed messages whose data was not what the receipt source expects. */
  malformed: number;
  /** User updates received (`updates` receipts only). */
  userUpdates: number;
  /** User updates whose seq did not follow the previous one on the same socket. */
  outOfOrder: number;
}

export const TIMELINE_BUCKET_MS = 100;

export type ConnectTask = Omit<ConnectPlan, 'connections'> & { first: number; count: number };

export type ToChild = { type: 'connect'; task: ConnectTask } | { type: 'report'; id: number; phase: string } | { type: 'close' };

export interface WirePhase {
  receipts: number;
  sendLatency: HistogramEntries;
  serverLatency: HistogramEntries;
  timeline: [number, number][];
  firstAt: number;
  lastAt: number;
}

export type FromChild =
  | { type: 'ready' }
  | { type: 'progress'; connected: number; failed: number }
  | { type: 'connected'; result: ConnectResult }
  | { type: 'receipts'; counts: [seq: number, receipts: number][] }
  | { type: 'report'; id: number; phase: WirePhase; health: FleetHealth };
