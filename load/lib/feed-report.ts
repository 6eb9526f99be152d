import type { EngineRoundFigures } from './feed-engine-cost.js';
import type { FeedDrainFigures } from './feed-queue-drain.js';
import type { RecomputePassFigures } from './feed-recompute-sample.js';
import { formatNumber, formatPercent, formatTable, verdict } from './table.js';

/** The targets: per-user recompute p99, and every user recomputed by the worker within this. */
export const RECOMPUTE_P99_TARGET_MS = 20;
export const ALL_USERS_TARGET_MS = 60_000;

export interface EngineComparison {
  plainCpuMsPerEvent: number;
  feedCpuMsPerEvent: number;
  /** Feed over plain: what feed data costs the engine per event. */
  cpuRatio: number;
  plainEventsPerSecond: number;
  feedEventsPerSecond: number;
  rateRatio: number;
}

export interface FeedVerdicts {
  recomputeP99: { pass: string; p99Ms: number; passed: boolean }[];
  allUsers: { elapsedMs: number | null; passed: boolean };
  engine: EngineComparison | null;
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

export function judgeFeed(passes: readonly RecomputePassFigures[], drain: FeedDrainFigures, rounds: readonly EngineRoundFigures[]): FeedVerdicts {
  const of = (kind: 'plain' | 'feed') => rounds.filter((round) => round.kind === kind);
  const [plain, feed] = [of('plain'), of('feed')];
  const engine =
    plain.length > 0 && feed.length > 0
      ? {
          plainCpuMsPerEvent: mean(plain.map((round) => round.engineCpuMsPerEvent)),
          feedCpuMsPerEvent: mean(feed.map((round) => round.engineCpuMsPerEvent)),
          plainEventsPerSecond: mean(plain.map((round) => round.eventsPerSecond)),
          feedEventsPerSecond: mean(feed.map((round) => round.eventsPerSecond)),
        }
      : null;
  return {
    recomputeP99: passes.map((pass) => ({ pass: pass.label, p99Ms: pass.recomputeMs.p99, passed: pass.recomputeMs.p99 <= RECOMPUTE_P99_TARGET_MS })),
    allUsers: { elapsedMs: drain.elapsedMs, passed: drain.elapsedMs !== null && drain.elapsedMs <= ALL_USERS_TARGET_MS },
    engine: engine && { ...engine, cpuRatio: engine.feedCpuMsPerEvent / engine.plainCpuMsPerEvent, rateRatio: engine.feedEventsPerSecond / engine.plainEventsPerSecond },
  };
}

const ms = (value: number) => formatNumber(value, value < 100 ? 1 : 0);

export function formatFeedReport(measured: { passes: readonly RecomputePassFigures[]; drain: FeedDrainFigures; rounds: readonly EngineRoundFigures[] }, verdicts: FeedVerdicts): string {
  const { passes, drain, rounds } = measured;
  const sections: string[] = [];
  sections.push(
    `Recompute per user (FeedRecomputer.recompute, ${passes[0]?.concurrency ?? '?'} at a time; target p99 ≤ ${RECOMPUTE_P99_TARGET_MS} ms):\n` +
      formatTable(
        [{ header: 'pass', align: 'left' }, { header: 'users' }, { header: 'p50 ms' }, { header: 'p90 ms' }, { header: 'p99 ms' }, { header: 'max ms' }, { header: 'users/s' }, { header: 'entries' }, { header: 'announced', align: 'left' }, { header: 'target' }],
        passes.map((pass, i) => [
          pass.label,
          pass.users,
          ms(pass.recomputeMs.p50),
          ms(pass.recomputeMs.p90),
          ms(pass.recomputeMs.p99),
          ms(pass.recomputeMs.max),
          formatNumber(pass.usersPerSecond, 0),
          formatNumber(pass.meanEntries, 1),
          Object.entries(pass.announcements).map(([kind, count]) => `${kind} ${count}`).join(', '),
          verdict(verdicts.recomputeP99[i]?.passed ?? false),
        ]),
      ),
  );
  for (const pass of passes) {
    sections.push(
      `Where the time of a recompute goes (${pass.label}; mean over ${formatNumber(pass.users)} users, shares of the summed recompute time):\n` +
        formatTable(
          [{ header: 'step', align: 'left' }, { header: 'calls' }, { header: 'mean ms' }, { header: 'p99 ms' }, { header: 'share' }],
          pass.steps.map((step) => [step.step, step.calls, formatNumber(step.meanMs, 2), Number.isNaN(step.p99Ms) ? '-' : formatNumber(step.p99Ms, 1), formatPercent(step.share)]),
        ),
    );
  }
  sections.push(
    `Worker (role all, feeds queue): every user's feed.recompute queued, then drained; target all within ${ALL_USERS_TARGET_MS / 1000} s:\n` +
      formatTable(
        [{ header: 'users' }, { header: 'recomputed' }, { header: 'elapsed s' }, { header: 'users/s' }, { header: "worker's median ms" }, { header: 'target' }],
        [[drain.users, drain.recomputed, drain.elapsedMs === null ? 'timeout' : formatNumber(drain.elapsedMs / 1000, 1), formatNumber(drain.usersPerSecond, 0), drain.workerMedianMs === null ? '-' : ms(drain.workerMedianMs), verdict(verdicts.allUsers.passed)]],
      ),
  );
  if (rounds.length > 0) {
    sections.push(
      'Engine: feed-typed events drained from a paused engagement queue, without data (plain) and with data {itemId, topics} (feed):\n' +
        formatTable(
          [{ header: 'round', align: 'left' }, { header: 'events' }, { header: 'drain s' }, { header: 'events/s' }, { header: 'engine CPU ms/event' }, ...(rounds[0]?.cpu.groups.map((group) => ({ header: `${group.name.split(' ')[0] ?? group.name} cores` })) ?? []), { header: 'other cores' }],
          rounds.map((round) => [
            round.label,
            round.events,
            formatNumber(round.drainMs / 1000, 1),
            formatNumber(round.eventsPerSecond, 0),
            formatNumber(round.engineCpuMsPerEvent, 2),
            ...round.cpu.groups.map((group) => formatNumber(group.cpuMs / round.cpu.wallMs, 2)),
            formatNumber(round.cpu.otherMs / round.cpu.wallMs, 2),
          ]),
        ),
    );
    const engine = verdicts.engine;
    if (engine) {
      sections.push(
        `Feed data costs the engine ${formatNumber(engine.cpuRatio, 2)}× the CPU per event (${formatNumber(engine.feedCpuMsPerEvent, 2)} against ${formatNumber(engine.plainCpuMsPerEvent, 2)} ms, hub + Postgres + Redis) ` +
          `and drains at ${formatNumber(engine.rateRatio, 2)}× the rate (${formatNumber(engine.feedEventsPerSecond, 0)} against ${formatNumber(engine.plainEventsPerSecond, 0)} events/s); means of the rounds above.`,
      );
    }
  }
  return sections.join('\n\n');
}
