import type { FusedSignal } from '../../src/contracts/api/signals.js';
import { MsHistogram } from './ms-histogram.js';

/**
 * The fusion benchmark's bookkeeping, both ends: the readings the hub accepted (the newest
 * `observedAt` per key and source) and the `signal:fused` results received. A fused result
 * lists each source's newest reading; an input counts as delivered when its `observedAt` is
 * newer than that source's in the previous result of the key, and its latency is receipt −
 * `observedAt` (the sender stamps `observedAt` with its clock when it builds the request, and the
 * receiver reads the same clock). A reading replaced by a newer one of its source before any
 * fusion took it is never delivered: `delivered` against `accepted` shows how many were.
 */

const pairId = (key: string, source: string) => `${key}\u0000${source}`;

export interface FusionFigures {
  /** Fused results of the bench's keys received since `measureFrom`. */
  results: number;
  /** Readings stamped since `measureFrom` that reached a client in a fused result. */
  delivered: number;
  /** Delivered readings per fused result: how many readings one fusion took on average. */
  readingsPerResult: number;
  /** First and last receipt since `measureFrom` (epoch ms; 0: none). */
  firstAt: number;
  lastAt: number;
}

export class FusionReceipts {
  /** Newest `observedAt` (epoch ms) per key and source, as accepted by the hub / as seen fused. */
  private readonly accepted = new Map<string, number>();
  private readonly seen = new Map<string, number>();
  private since = 0;
  private results = 0;
  private delivered = 0;
  private firstAt = 0;
  private lastAt = 0;
  latency = new MsHistogram();

  constructor(private readonly keyPrefix: string) {}

  /** Counts (results, latencies) restart here; only readings stamped at or after `ms` are timed. */
  measureFrom(ms: number): void {
    this.since = ms;
    this.results = 0;
    this.delivered = 0;
    this.firstAt = 0;
    this.lastAt = 0;
    this.latency = new MsHistogram();
  }

  /** The hub answered 202 to readings of these keys and sources stamped `observedAt`. */
  accept(readings: Iterable<{ key: string; source: string }>, observedAt: number): void {
    for (const { key, source } of readings) {
      const id = pairId(key, source);
      if ((this.accepted.get(id) ?? 0) < observedAt) this.accepted.set(id, observedAt);
    }
  }

  receive(signal: FusedSignal, at = Date.now()): void {
    if (!signal.key.startsWith(this.keyPrefix)) return;
    let fresh = 0;
    for (const input of signal.inputs) {
      const observedAt = Date.parse(input.observedAt);
      const id = pairId(signal.key, input.source);
      if (observedAt <= (this.seen.get(id) ?? 0)) continue;
      this.seen.set(id, observedAt);
      if (observedAt < this.since) continue;
      fresh += 1;
      this.latency.add(at - observedAt);
    }
    if (fresh === 0 && Date.parse(signal.computedAt) < this.since) return;
    this.delivered += fresh;
    this.results += 1;
    if (this.firstAt === 0) this.firstAt = at;
    this.lastAt = at;
  }

  /** Key-source pairs whose newest accepted reading has not been seen in a fused result yet. */
  outstanding(): number {
    let count = 0;
    for (const [id, observedAt] of this.accepted) if ((this.seen.get(id) ?? 0) < observedAt) count += 1;
    return count;
  }

  figures(): FusionFigures {
    return {
      results: this.results,
      delivered: this.delivered,
      readingsPerResult: this.results > 0 ? this.delivered / this.results : 0,
      firstAt: this.firstAt,
      lastAt: this.lastAt,
    };
  }
}
