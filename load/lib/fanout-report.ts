import type { TargetFigures } from './fanout-run.js';
import type { LatencySummary } from './ms-histogram.js';
import { formatCpuUsage } from './proc-cpu.js';
import { formatNumber, formatTable, verdict, type Cell } from './table.js';

/** The fan-out benchmark's printed report and its verdicts, from the figures of both targets. */

export const FANOUT_GOALS = { heapPerConnectionKiB: 10, broadcastP99Ms: 150, deliveriesPerSecond: 40_000 } as const;

export interface Verdicts {
  heapPerConnection: { targetKiB: number; valueKiB: number; pass: boolean };
  broadcastP99: { targetMs: number; valueMs: number; serverAtP99Ms: number; connections: number; pass: boolean };
  deliveriesPerSecond: { target: number; value: number; offered: number; fullyDelivered: boolean; pass: boolean };
}

export function judge(hub: TargetFigures): Verdicts {
  const heapKiB = hub.memory.heapPerConnectionBytes / 1024;
  const { sustained } = hub;
  return {
    heapPerConnection: { targetKiB: FANOUT_GOALS.heapPerConnectionKiB, valueKiB: heapKiB, pass: heapKiB <= FANOUT_GOALS.heapPerConnectionKiB },
    broadcastP99: {
      targetMs: FANOUT_GOALS.broadcastP99Ms,
      valueMs: hub.latency.send.p99,
      serverAtP99Ms: hub.latency.server.p99,
      connections: hub.memory.connections,
      pass: hub.latency.allComplete && hub.latency.send.p99 <= FANOUT_GOALS.broadcastP99Ms,
    },
    deliveriesPerSecond: {
      target: FANOUT_GOALS.deliveriesPerSecond,
      value: sustained.deliveredPerSecond,
      offered: sustained.rateOffered * hub.memory.connections,
      fullyDelivered: sustained.incompleteBroadcasts === 0 && sustained.overDeliveredBroadcasts === 0 && sustained.delivered === sustained.expectedDeliveries,
      pass: sustained.deliveredPerSecond >= FANOUT_GOALS.deliveriesPerSecond,
    },
  };
}

/** hub / baseline, for the figures where both exist. */
export function ratios(hub: TargetFigures, base: TargetFigures) {
  const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? a / b : Number.NaN);
  return {
    heapPerConnection: ratio(hub.memory.heapPerConnectionBytes, base.memory.heapPerConnectionBytes),
    rssPerConnection: ratio(hub.memory.rssPerConnectionBytes, base.memory.rssPerConnectionBytes),
    broadcastP50: ratio(hub.latency.send.p50, base.latency.send.p50),
    broadcastP99: ratio(hub.latency.send.p99, base.latency.send.p99),
    deliveriesPerSecond: ratio(hub.sustained.deliveredPerSecond, base.sustained.deliveredPerSecond),
    connectsPerSecond: ratio(hub.connect.connectionsPerSecond, base.connect.connectionsPerSecond),
  };
}

const kib = (bytes: number) => formatNumber(bytes / 1024, 2);
const ms = (summary: LatencySummary) => `${summary.p50} / ${summary.p99} / ${summary.max}`;
const times = (value: number, what = '') => (Number.isFinite(value) ? `${value.toFixed(2)}×${what ? ` (${what})` : ''}` : '-');

/** One column per target (the hub first), then hub/baseline for each baseline. */
export function formatComparison(hub: TargetFigures, baselines: readonly TargetFigures[]): string {
  const byBaseline = baselines.map((base) => ratios(hub, base));
  const row = (measure: string, pick: (figures: TargetFigures) => Cell, ratio?: (r: ReturnType<typeof ratios>) => number, what?: string): Cell[] => [
    measure,
    pick(hub),
    ...baselines.map(pick),
    ...byBaseline.map((r) => (ratio ? times(ratio(r), what) : '')),
  ];
  const failures = (figures: TargetFigures) => {
    const total = Object.values(figures.connect.failures).reduce((sum, count) => sum + count, 0);
    return total === 0 ? '0' : `${total} ${JSON.stringify(figures.connect.failures)}`;
  };
  const s = (figures: TargetFigures) => figures.sustained;
  return formatTable(
    [
      { header: 'measure', align: 'left' },
      { header: hub.target },
      ...baselines.map((base) => ({ header: base.target })),
      ...baselines.map((base) => ({ header: `${hub.target}/${base.target}` })),
    ],
    [
      row('connections ready (connected + subscribed)', (f) => f.connect.ready),
      row('connection failures', failures),
      row('connect time s', (f) => formatNumber(f.connect.elapsedMs / 1000, 1)),
      row('connections/s while connecting', (f) => formatNumber(f.connect.connectionsPerSecond, 0), (r) => r.connectsPerSecond),
      row('heap before → after MiB (median)', (f) => `${formatNumber(f.memory.before.heapUsedBytes / 2 ** 20, 1)} → ${formatNumber(f.memory.after.heapUsedBytes / 2 ** 20, 1)}`),
      row('RSS before → after MiB (median)', (f) => `${formatNumber(f.memory.before.rssBytes / 2 ** 20, 1)} → ${formatNumber(f.memory.after.rssBytes / 2 ** 20, 1)}`),
      row('memory samples taken after a forced full GC', (f) => (f.memory.before.gcForced && f.memory.after.gcForced ? 'yes' : 'no')),
      row('heap per connection KiB (median of samples)', (f) => kib(f.memory.heapPerConnectionBytes), (r) => r.heapPerConnection),
      row('heap per connection KiB (min of samples)', (f) => kib(f.memory.heapMinPerConnectionBytes)),
      row('RSS per connection KiB', (f) => kib(f.memory.rssPerConnectionBytes), (r) => r.rssPerConnection),
      row('broadcast p50/p99/max ms, publish → receipt', (f) => ms(f.latency.send), (r) => r.broadcastP99, 'p99'),
      row('broadcast p50/p99/max ms, server `at` → receipt', (f) => ms(f.latency.server)),
      row('broadcasts fully delivered', (f) => `${f.latency.broadcasts.filter((b) => b.complete).length}/${f.latency.broadcasts.length}`),
      row('sustained: broadcasts/s offered', (f) => s(f).rateOffered),
      row('sustained: broadcasts published', (f) => s(f).published),
      row('sustained: ticks held back (backlog)', (f) => s(f).ticksHeldBack),
      row('sustained: deliveries/s (window)', (f) => formatNumber(s(f).deliveredPerSecond, 0), (r) => r.deliveriesPerSecond),
      row('sustained: deliveries/s per second min–max', (f) => `${formatNumber(s(f).perSecond.min)}–${formatNumber(s(f).perSecond.max)}`),
      row('sustained: delivered / expected', (f) => `${formatNumber(s(f).delivered)} / ${formatNumber(s(f).expectedDeliveries)}`),
      row('sustained: incomplete broadcasts', (f) => s(f).incompleteBroadcasts),
      row('sustained: p50/p99/max ms, publish → receipt', (f) => ms(s(f).send)),
      row('sustained: p50/p99/max ms, server `at` → receipt', (f) => ms(s(f).server)),
      row('sockets closed by the server', (f) => f.health.closedUnexpectedly),
    ],
  );
}

export function formatBroadcasts(targets: readonly TargetFigures[]): string {
  return formatTable(
    [
      { header: 'target', align: 'left' },
      { header: 'broadcast', align: 'left' },
      { header: 'receipts' },
      { header: 'p50 ms' },
      { header: 'p99 ms' },
      { header: 'max ms' },
      { header: 'at→ p50' },
      { header: 'at→ p99' },
      { header: 'at→ max' },
    ],
    targets.flatMap((figures) =>
      [figures.latency.warmUp, ...figures.latency.broadcasts].map((b) => [
        figures.target,
        b.phase === 'warm-up' ? 'warm-up (not counted)' : b.phase,
        b.receipts,
        b.send.p50,
        b.send.p99,
        b.send.max,
        b.server.p50,
        b.server.p99,
        b.server.max,
      ]),
    ),
  );
}

export function formatVerdicts(verdicts: Verdicts): string {
  const { heapPerConnection: heap, broadcastP99: p99, deliveriesPerSecond: rate } = verdicts;
  const offeredNote = rate.offered < rate.target ? ` — only ${formatNumber(rate.offered)}/s offered (rate × connections), raise --rate` : '';
  return [
    `heap per connection:           ${formatNumber(heap.valueKiB, 2)} KiB  (target ≤ ${heap.targetKiB} KiB: ${verdict(heap.pass)})`,
    `broadcast to ${formatNumber(p99.connections)} p99:     ${p99.valueMs} ms publish → receipt, ${p99.serverAtP99Ms} ms from the server's \`at\`  (target ≤ ${p99.targetMs} ms, judged on the former: ${verdict(p99.pass)})`,
    `sustained deliveries/s:        ${formatNumber(rate.value, 0)}  (target ≥ ${formatNumber(rate.target)}: ${verdict(rate.pass)}${offeredNote}); every broadcast fully delivered: ${rate.fullyDelivered ? 'yes' : 'NO'}`,
  ].join('\n');
}

export function formatCpu(figures: TargetFigures): string {
  const parts: string[] = [];
  if (figures.connect.cpu) parts.push(formatCpuUsage(`CPU while ${figures.target} clients connected`, figures.connect.cpu));
  if (figures.sustained.cpu) parts.push(formatCpuUsage(`CPU during the ${figures.target} sustained phase`, figures.sustained.cpu));
  return parts.join('\n\n');
}
