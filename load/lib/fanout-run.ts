import { sleep } from './child-process.js';
import { monotonicMicros, type ProfileWindow } from './cpu-profile.js';
import type { ClientFleet } from './fanout-clients.js';
import { TIMELINE_BUCKET_MS, type ConnectResult, type FleetHealth } from './fanout-protocol.js';
import { publish, type FanoutTarget, type MemorySample, type PublishOutcome } from './fanout-targets.js';
import { MsHistogram, type LatencySummary } from './ms-histogram.js';
import { measureCpu, procAvailable, type CpuUsage, type ProcessGroup } from './proc-cpu.js';

/**
 * The three fan-out measures against one target, with a fleet of clients: memory per connection,
 * latency of single broadcasts to every subscriber, and deliveries per second under a steady
 * publishing rate. Identical for the hub and the baseline, so their ratios mean something.
 */

export interface FanoutSettings {
  connections: number;
  /** Connections being opened at once. */
  connectConcurrency: number;
  connectTimeoutMs: number;
  /** Measured single broadcasts (after one unmeasured warm-up broadcast). */
  latencyRepeats: number;
  sustainSeconds: number;
  /** Broadcasts per second offered during the sustained phase. */
  rate: number;
  /** Memory samples, a second apart, before and after connecting. */
  memorySamples: number;
  /** Pause after the last subscription before the memory samples. */
  settleMs: number;
}

export interface MemoryStats {
  /** Medians of the samples. */
  heapUsedBytes: number;
  rssBytes: number;
  connections: number;
  /** The smallest heap sample: the closest to live data when no GC could be forced. */
  heapUsedMinBytes: number;
  /** Whether each sample followed a full GC forced in the server (through its inspector). */
  gcForced: boolean;
  samples: MemorySample[];
}

export interface MemoryFigures {
  before: MemoryStats;
  after: MemoryStats;
  /** Connections the growth is divided by: those the fleet has connected (and subscribed). */
  connections: number;
  heapPerConnectionBytes: number;
  heapMinPerConnectionBytes: number;
  rssPerConnectionBytes: number;
}

export interface BroadcastLatency {
  phase: string;
  seq: number;
  receipts: number;
  complete: boolean;
  send: LatencySummary;
  server: LatencySummary;
  /** The publishing request's answer (202 when accepted; 0 for a network error). */
  publishStatus: number;
}

export interface LatencyFigures {
  warmUp: BroadcastLatency;
  broadcasts: BroadcastLatency[];
  /** Over every receipt of the measured broadcasts. */
  send: LatencySummary;
  server: LatencySummary;
  allComplete: boolean;
}

export interface SustainedFigures {
  seconds: number;
  rateOffered: number;
  /** Ticks skipped because too many earlier broadcasts were still being delivered. */
  ticksHeldBack: number;
  maxOutstanding: number;
  published: number;
  publishFailures: Record<string, number>;
  expectedDeliveries: number;
  delivered: number;
  /** Broadcasts with fewer receipts than subscribers, after the drain. */
  incompleteBroadcasts: number;
  /** Broadcasts with more receipts than subscribers (duplicates). */
  overDeliveredBroadcasts: number;
  drainedWithinMs: number | null;
  /** Receipts inside the publishing window, per second of it. */
  deliveredPerSecond: number;
  /** Every receipt, from the first publication to the last receipt. */
  deliveredPerSecondOverall: number;
  perSecond: { min: number; max: number };
  send: LatencySummary;
  server: LatencySummary;
  cpu?: CpuUsage;
  /** The publishing window on the clock CPU profiles use. */
  window: ProfileWindow;
}

export interface TargetFigures {
  target: string;
  connect: ConnectResult & { connectionsPerSecond: number; cpu?: CpuUsage };
  memory: MemoryFigures;
  latency: LatencyFigures;
  sustained: SustainedFigures;
  health: FleetHealth;
}

const DELIVERY_TIMEOUT_MS = 20_000;
const DRAIN_TIMEOUT_MS = 15_000;
/** A broadcast this old no longer holds the publisher back, delivered or not. */
const OUTSTANDING_MAX_AGE_MS = 5_000;

export class FanoutRun {
  private seq = 0;

  constructor(
    private readonly target: FanoutTarget,
    private readonly fleet: ClientFleet,
    private readonly settings: FanoutSettings,
    private readonly signal: AbortSignal,
    private readonly log: (message: string) => void,
    /** Processes outside the target measured for CPU too: the fleet, the benchmark itself. */
    private readonly otherGroups: ProcessGroup[],
  ) {}

  async measure(): Promise<TargetFigures> {
    const { settings, target } = this;
    const how = `${settings.memorySamples} samples 1 s apart${target.collectGarbage ? ', each after a forced full GC' : ''}`;
    this.log(`${target.name}: sampling memory before connecting (${how})`);
    const before = await this.sampleMemory();
    this.log(`${target.name}: opening ${settings.connections} connections (${settings.connectConcurrency} at a time)`);
    const connect = await this.withCpu(() =>
      this.fleet.connect(
        {
          baseUrl: target.wsUrl,
          protocol: target.protocol,
          connections: settings.connections,
          tokens: target.tokens,
          room: target.room,
          concurrency: settings.connectConcurrency,
          timeoutMs: settings.connectTimeoutMs,
        },
        (connected, failed) => this.log(`${target.name}:   ${connected} connected, ${failed} failed`),
      ),
    );
    const ready = connect.result.ready;
    this.log(
      `${target.name}: ${ready} of ${settings.connections} connected${target.room ? ' and subscribed' : ''} in ${(connect.result.elapsedMs / 1000).toFixed(1)} s` +
        (Object.keys(connect.result.failures).length ? `; failures ${JSON.stringify(connect.result.failures)}` : ''),
    );
    if (ready === 0) throw new Error(`${target.name}: no connection could be opened: ${JSON.stringify(connect.result.failures)}`);
    await sleep(settings.settleMs, this.signal);
    this.log(`${target.name}: sampling memory with ${ready} connections (${how})`);
    const after = await this.sampleMemory();
    const memory: MemoryFigures = {
      before,
      after,
      connections: ready,
      heapPerConnectionBytes: (after.heapUsedBytes - before.heapUsedBytes) / ready,
      heapMinPerConnectionBytes: (after.heapUsedMinBytes - before.heapUsedMinBytes) / ready,
      rssPerConnectionBytes: (after.rssBytes - before.rssBytes) / ready,
    };
    const latency = await this.latency(ready);
    const sustained = await this.sustain(ready);
    const { health } = await this.fleet.report('sustained');
    return {
      target: target.name,
      connect: { ...connect.result, connectionsPerSecond: (connect.result.connected * 1000) / connect.result.elapsedMs, ...(connect.cpu ? { cpu: connect.cpu } : {}) },
      memory,
      latency,
      sustained,
      health,
    };
  }

  private async sampleMemory(): Promise<MemoryStats> {
    const samples: MemorySample[] = [];
    let gcForced = this.target.collectGarbage !== undefined;
    for (let i = 0; i < this.settings.memorySamples; i++) {
      if (i > 0) await sleep(1_000, this.signal);
      if (gcForced) {
        await this.target.collectGarbage?.().catch((error: unknown) => {
          this.log(`${this.target.name}: could not force a GC (${error instanceof Error ? error.message : String(error)}); sampling without`);
          gcForced = false;
        });
      }
      samples.push(await this.target.memory());
    }
    const median = (pick: (sample: MemorySample) => number) => {
      const values = samples.map(pick).sort((a, b) => a - b);
      const middle = Math.floor(values.length / 2);
      return values.length % 2 ? (values[middle] ?? Number.NaN) : ((values[middle - 1] ?? 0) + (values[middle] ?? 0)) / 2;
    };
    return {
      heapUsedBytes: median((sample) => sample.heapUsedBytes),
      rssBytes: median((sample) => sample.rssBytes),
      connections: median((sample) => sample.connections),
      heapUsedMinBytes: Math.min(...samples.map((sample) => sample.heapUsedBytes)),
      gcForced,
      samples,
    };
  }

  /** One warm-up broadcast, then `latencyRepeats` measured ones, each waited for until every subscriber has it. */
  private async latency(subscribers: number): Promise<LatencyFigures> {
    const results: BroadcastLatency[] = [];
    for (let i = 0; i <= this.settings.latencyRepeats; i++) {
      const phase = i === 0 ? 'warm-up' : `latency-${i}`;
      const seq = this.seq++;
      const outcome = await publish(this.target, { phase, seq, sentAt: Date.now() });
      const complete = outcome.status === 202 && (await this.fleet.waitForReceipts([seq], subscribers, DELIVERY_TIMEOUT_MS, this.signal));
      const report = await this.fleet.report(phase);
      const figures = { phase, seq, receipts: report.receipts, complete, send: report.sendLatency.summary(), server: report.serverLatency.summary(), publishStatus: outcome.status };
      results.push(figures);
      this.log(
        `${this.target.name}: ${phase}: ${figures.receipts} receipts, p50 ${figures.send.p50} ms, p99 ${figures.send.p99} ms, max ${figures.send.max} ms (from the publishing request)` +
          (outcome.status === 202 ? '' : `; publish answered ${outcome.status} ${outcome.body ?? ''}`),
      );
      await sleep(500, this.signal);
    }
    const [warmUp, ...broadcasts] = results as [BroadcastLatency, ...BroadcastLatency[]];
    const send = new MsHistogram();
    const server = new MsHistogram();
    for (const report of await Promise.all(broadcasts.map((broadcast) => this.fleet.report(broadcast.phase)))) {
      send.merge(report.sendLatency.entries());
      server.merge(report.serverLatency.entries());
    }
    return { warmUp, broadcasts, send: send.summary(), server: server.summary(), allComplete: broadcasts.every((broadcast) => broadcast.complete) };
  }

  /** A steady publishing rate for `sustainSeconds`, held back while too many broadcasts are still being delivered. */
  private async sustain(subscribers: number): Promise<SustainedFigures> {
    const { rate, sustainSeconds } = this.settings;
    const intervalMs = 1000 / rate;
    const maxOutstanding = Math.max(2, Math.ceil(rate / 2));
    const published: { seq: number; at: number }[] = [];
    const publishFailures: Record<string, number> = {};
    const requests: Promise<void>[] = [];
    let ticksHeldBack = 0;
    let oldestPending = 0;
    this.log(`${this.target.name}: sustained phase, ${rate} broadcasts/s for ${sustainSeconds} s (${rate * subscribers} deliveries/s offered)`);
    const stopCpu = (await procAvailable()) ? await measureCpu([...(await this.target.processGroups()), ...this.otherGroups]) : undefined;
    const startUs = monotonicMicros();
    const start = Date.now();
    const end = start + sustainSeconds * 1000;
    for (let tick = 0; start + tick * intervalMs < end; tick++) {
      await sleep(Math.max(0, start + tick * intervalMs - Date.now()), this.signal);
      const now = Date.now();
      while (oldestPending < published.length) {
        const oldest = published[oldestPending] as { seq: number; at: number };
        if (this.fleet.receipts(oldest.seq) < subscribers && now - oldest.at < OUTSTANDING_MAX_AGE_MS) break;
        oldestPending += 1;
      }
      const outstanding = published.slice(oldestPending).filter(({ seq, at }) => this.fleet.receipts(seq) < subscribers && now - at < OUTSTANDING_MAX_AGE_MS).length;
      if (outstanding >= maxOutstanding) {
        ticksHeldBack += 1;
        continue;
      }
      const seq = this.seq++;
      published.push({ seq, at: now });
      requests.push(
        publish(this.target, { phase: 'sustained', seq, sentAt: now }).then((outcome: PublishOutcome) => {
          if (outcome.status !== 202) publishFailures[String(outcome.status)] = (publishFailures[String(outcome.status)] ?? 0) + 1;
        }),
      );
    }
    const windowEnd = Date.now();
    const window = { startUs, endUs: monotonicMicros() };
    const cpu = await stopCpu?.();
    await Promise.all(requests);
    const seqs = published.map(({ seq }) => seq);
    const drainStarted = Date.now();
    const drained = await this.fleet.waitForReceipts(seqs, subscribers, DRAIN_TIMEOUT_MS, this.signal);
    const drainedWithinMs = drained ? Date.now() - drainStarted : null;
    // The last receipts counts reach the parent every 50 ms.
    await sleep(200, this.signal);
    const report = await this.fleet.report('sustained');
    const windowSeconds = (windowEnd - start) / 1000;
    const perSecond = new Map<number, number>();
    let inWindow = 0;
    for (const [bucket, count] of report.timeline) {
      if (bucket < start - TIMELINE_BUCKET_MS || bucket >= windowEnd) continue;
      inWindow += count;
      const second = Math.max(0, Math.floor((bucket - start) / 1000));
      perSecond.set(second, (perSecond.get(second) ?? 0) + count);
    }
    // Whole seconds only: the last one is cut by the end of the window.
    const fullSeconds = [...perSecond.entries()].filter(([second]) => second >= 0 && second < Math.floor(windowSeconds)).map(([, count]) => count);
    const received = seqs.map((seq) => this.fleet.receipts(seq));
    return {
      seconds: windowSeconds,
      rateOffered: rate,
      ticksHeldBack,
      maxOutstanding,
      published: published.length,
      publishFailures,
      expectedDeliveries: published.length * subscribers,
      delivered: report.receipts,
      incompleteBroadcasts: received.filter((count) => count < subscribers).length,
      overDeliveredBroadcasts: received.filter((count) => count > subscribers).length,
      drainedWithinMs,
      deliveredPerSecond: inWindow / windowSeconds,
      deliveredPerSecondOverall: report.receipts > 0 ? (report.receipts * 1000) / Math.max(report.lastAt - start, 1) : 0,
      perSecond: { min: fullSeconds.length ? Math.min(...fullSeconds) : 0, max: fullSeconds.length ? Math.max(...fullSeconds) : 0 },
      send: report.sendLatency.summary(),
      server: report.serverLatency.summary(),
      ...(cpu ? { cpu } : {}),
      window,
    };
  }

  private async withCpu<T>(run: () => Promise<T>): Promise<{ result: T; cpu?: CpuUsage }> {
    const stop = (await procAvailable()) ? await measureCpu([...(await this.target.processGroups()), ...this.otherGroups]) : undefined;
    const result = await run();
    const cpu = await stop?.();
    return { result, ...(cpu ? { cpu } : {}) };
  }
}
