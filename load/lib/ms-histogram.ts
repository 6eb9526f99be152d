/**
 * Whole-millisecond latencies counted per value: exact percentiles for clocks that tick in
 * milliseconds anyway (Date.now(), ISO timestamps), cheap to fill in a hot loop and to merge
 * across processes as `[ms, count]` pairs.
 */

export type HistogramEntries = [ms: number, count: number][];

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export class MsHistogram {
  private readonly counts = new Map<number, number>();
  private total = 0;

  get count(): number {
    return this.total;
  }

  /** Negative values (a clock read a hair early) count as 0. */
  add(ms: number, times = 1): void {
    const key = ms > 0 ? Math.round(ms) : 0;
    this.counts.set(key, (this.counts.get(key) ?? 0) + times);
    this.total += times;
  }

  merge(entries: Iterable<readonly [number, number]>): this {
    for (const [ms, count] of entries) this.add(ms, count);
    return this;
  }

  entries(): HistogramEntries {
    return [...this.counts.entries()];
  }

  /** Nearest rank: the smallest value at or below which at least `fraction` of the samples fall. */
  percentile(fraction: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(fraction * this.total));
    let seen = 0;
    for (const ms of this.sortedKeys()) {
      seen += this.counts.get(ms) ?? 0;
      if (seen >= rank) return ms;
    }
    return this.sortedKeys().at(-1) ?? Number.NaN;
  }

  summary(): LatencySummary {
    let sum = 0;
    for (const [ms, count] of this.counts) sum += ms * count;
    return {
      count: this.total,
      p50: this.percentile(0.5),
      p90: this.percentile(0.9),
      p99: this.percentile(0.99),
      max: this.sortedKeys().at(-1) ?? Number.NaN,
      mean: this.total > 0 ? sum / this.total : Number.NaN,
    };
  }

  private sortedKeys(): number[] {
    return [...this.counts.keys()].sort((a, b) => a - b);
  }
}
