import type { ConsumeFigures } from './bullmq-consume.js';
import type { DrainFigures } from './engine-drain.js';
import type { PhaseFigures } from './engine-phase.js';
import { formatNumber, formatPercent, formatTable, verdict } from './table.js';

/** The engine benchmark's verdicts and printed report. */

export const ENGINE_GOALS = { p99Ms: 100, shareOfRawConsume: 0.25 } as const;

export interface EngineVerdicts {
  p99AtRate: { rate: number; targetMs: number; valueMs: number; sustainable: boolean; pass: boolean };
  pipelineShare: {
    target: number;
    /** The highest rate a phase sustained (null: none did). */
    highestSustainableRate: number | null;
    /** Every phase was sustainable (the ramp stopped at --max-rate): the highest is a lower bound. */
    lowerBound: boolean;
    rawConsumePerSecond: number;
    value: number;
    pass: boolean;
  };
  /** The same share with the pipeline measured as the baseline is: consuming a queue filled beforehand (null: no drain). */
  consumeShare: { target: number; perSecond: number; rawConsumePerSecond: number; value: number; pass: boolean } | null;
}

export function judgeEngine(rate: number, phases: readonly PhaseFigures[], baseline: ConsumeFigures, drain: DrainFigures | null): EngineVerdicts {
  const measured = phases.find((phase) => phase.label === 'measured');
  const loaded = phases.filter((phase) => phase.label !== 'warm-up');
  const sustained = loaded.filter((phase) => phase.sustainable).map((phase) => phase.offeredPerSecond);
  const highest = sustained.length > 0 ? Math.max(...sustained) : null;
  const share = highest === null ? 0 : highest / baseline.jobsPerSecond;
  const p99 = measured?.push.p99 ?? Number.NaN;
  return {
    p99AtRate: { rate, targetMs: ENGINE_GOALS.p99Ms, valueMs: p99, sustainable: measured?.sustainable ?? false, pass: (measured?.sustainable ?? false) && p99 <= ENGINE_GOALS.p99Ms },
    pipelineShare: {
      target: ENGINE_GOALS.shareOfRawConsume,
      highestSustainableRate: highest,
      lowerBound: loaded.length > 0 && loaded.every((phase) => phase.sustainable),
      rawConsumePerSecond: baseline.jobsPerSecond,
      value: share,
      pass: share >= ENGINE_GOALS.shareOfRawConsume,
    },
    consumeShare: drain && {
      target: ENGINE_GOALS.shareOfRawConsume,
      perSecond: drain.perSecond,
      rawConsumePerSecond: baseline.jobsPerSecond,
      value: drain.perSecond / baseline.jobsPerSecond,
      pass: drain.elapsedMs !== null && drain.perSecond / baseline.jobsPerSecond >= ENGINE_GOALS.shareOfRawConsume,
    },
  };
}

export function formatEngineReport(phases: readonly PhaseFigures[], baseline: ConsumeFigures, drain: DrainFigures | null, verdicts: EngineVerdicts): string {
  const phaseTable = formatTable(
    [
      { header: 'phase', align: 'left' },
      { header: 'offered/s' },
      { header: 'sent/s' },
      { header: '202' },
      { header: 'pushed' },
      { header: 'pushed/s' },
      { header: 'post→push p50' },
      { header: 'p90' },
      { header: 'p99' },
      { header: 'max' },
      { header: 'POST p99' },
      { header: 'commit→client p99' },
      { header: 'backlog outbox/engine/realtime', align: 'left' },
      { header: 'sustainable', align: 'left' },
    ],
    phases.map((phase) => [
      phase.label,
      phase.offeredPerSecond,
      formatNumber(phase.sentPerSecond, 0),
      phase.accepted,
      phase.pushed,
      formatNumber(phase.pushedPerSecond, 0),
      phase.push.p50,
      phase.push.p90,
      phase.push.p99,
      phase.push.max,
      phase.answer.p99,
      phase.delivery.p99,
      phase.backlogAtLastPost ? `${phase.backlogAtLastPost.outbox} / ${phase.backlogAtLastPost.engine} / ${phase.backlogAtLastPost.realtime}` : '-',
      phase.sustainable ? 'yes' : `no${phase.drainedAfterMs === null ? ' (backlog)' : ''}`,
    ]),
  );
  const { p99AtRate, pipelineShare, consumeShare } = verdicts;
  const highest = pipelineShare.highestSustainableRate;
  const lines = [
    'Latencies in ms. post→push: the event posted (its occurredAt) → its activity:recorded at the user\'s client. ' +
      'Backlog: events waiting in the outbox, engagement jobs and realtime jobs waiting in BullMQ when the last post was answered.',
    phaseTable,
    '',
    `Baseline, same run and Redis: raw BullMQ consumed ${formatNumber(baseline.jobs)} trivial jobs at ${formatNumber(baseline.jobsPerSecond, 0)} jobs/s (concurrency ${baseline.concurrency}).`,
    ...(drain
      ? [
          `Drain, same run: ${formatNumber(drain.queued)} events queued in the paused engagement queue, then ${formatNumber(drain.pushed)} applied and pushed ` +
            (drain.elapsedMs === null ? 'before the time ran out (not all)' : `in ${formatNumber(drain.elapsedMs / 1000, 1)} s = ${formatNumber(drain.perSecond, 0)} events/s`) +
            ' (resume → the last activity:recorded at its client; no HTTP ingestion meanwhile, as in the baseline).',
        ]
      : []),
    '',
    'Targets:',
    `  ${verdict(p99AtRate.pass)}  post→push p99 at ${formatNumber(p99AtRate.rate)} events/s: ${p99AtRate.valueMs} ms (target ≤ ${p99AtRate.targetMs} ms${p99AtRate.sustainable ? '' : '; the phase was not sustainable'})`,
    `  ${verdict(pipelineShare.pass)}  highest sustainable rate ${highest === null ? 'none' : `${formatNumber(highest)} events/s${pipelineShare.lowerBound ? ' (at least: the ramp reached --max-rate)' : ''}`} = ` +
      `${formatPercent(pipelineShare.value)} of raw BullMQ consume (target ≥ ${formatPercent(pipelineShare.target, 0)}; end to end, HTTP ingestion and the sender on the same cores)`,
    ...(consumeShare
      ? [
          `  ${verdict(consumeShare.pass)}  pipeline consume (drain) ${formatNumber(consumeShare.perSecond, 0)} events/s = ${formatPercent(consumeShare.value)} of raw BullMQ consume ` +
            `(target ≥ ${formatPercent(consumeShare.target, 0)}; measured as the baseline is, from a queue filled beforehand)`,
        ]
      : []),
  ];
  return lines.join('\n');
}
