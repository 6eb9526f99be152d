import { mkdir } from 'node:fs/promises';
import postgres from 'postgres';
import { parseConfig } from '../src/platform/config.js';
import { outOption, parseOptions, printHeading, profileDir, progress, resultsPath, RunGuard, runBenchmark, usageText, writeReport, type OptionSpec } from './lib/bench-run.js';
import { repoRoot } from './lib/child-process.js';
import { findProfiles, formatProfileSummary, monotonicMicros, profileJson, summarizeCpuProfile, type ProfileSummary, type ProfileWindow } from './lib/cpu-profile.js';
import { EngineCostRounds, type EngineRoundFigures, type RoundKind } from './lib/feed-engine-cost.js';
import { seedFeedFixture, type FeedFixture } from './lib/feed-fixture.js';
import { drainFeedRecomputes, type FeedDrainFigures } from './lib/feed-queue-drain.js';
import { RecomputeSampler, type RecomputePassFigures } from './lib/feed-recompute-sample.js';
import { formatFeedReport, judgeFeed } from './lib/feed-report.js';
import { withHub } from './lib/hub-session.js';
import type { HubProcess } from './lib/hub-process.js';
import { formatCpuUsage, measureCpu, withChildren, type CpuUsage, type ProcessGroup } from './lib/proc-cpu.js';
import { formatNumber } from './lib/table.js';

/**
 * `npm run bench:feed`: personalised feeds on a zero-config hub with its workers in one process
 * (role `all`). One tenant with `--users` users, `--items` items and each user's interaction
 * history, written straight into its Postgres (lib/feed-fixture.ts). Measured: (a) the recompute
 * time per user, FeedRecomputer called for a sample at the `feeds` queue's concurrency; (b) users
 * recomputed per second, one `feed.recompute` per user queued while the queue is paused, then
 * drained by the worker; (c) the engine's CPU per event with feed data against the same events
 * without it, drained from a paused `engagement` queue, rounds alternating.
 */

const options = {
  users: { type: 'number', default: 10_000, min: 100, max: 200_000, help: 'users of the tenant, each with affinities and interactions' },
  items: { type: 'number', default: 5_000, min: 100, max: 200_000, help: 'feed items' },
  authors: { type: 'number', default: 200, min: 5, max: 10_000, help: 'distinct authors of the items' },
  topics: { type: 'number', default: 100, min: 10, max: 10_000, help: 'distinct topics of the items' },
  days: { type: 'number', default: 14, min: 1, max: 365, help: 'items are published over this many days' },
  'topics-per-user': { type: 'number', default: 10, min: 0, max: 100, help: 'topic affinities per user' },
  'authors-per-user': { type: 'number', default: 5, min: 0, max: 100, help: 'author affinities per user' },
  'interactions-per-user': { type: 'number', default: 20, min: 0, max: 500, help: 'items each user has viewed (some opened, liked, hidden)' },
  seed: { type: 'number', default: 1, min: 0, max: 2 ** 31, help: 'seed of the fixture' },
  sample: { type: 'number', default: 1_000, min: 10, max: 200_000, help: 'users recomputed directly for the per-user time (twice: first, then again)' },
  concurrency: { type: 'number', default: 8, min: 1, max: 256, help: "recomputes at once for the sample: keep it equal to the `feeds` queue's\nconcurrency (`queueConsumers` in src/platform/queues/worker-pool.ts)" },
  'drain-timeout': { type: 'number', arg: '<s>', default: 300, min: 10, max: 3_600, help: 'how long the worker may take to recompute every user' },
  'engine-events': { type: 'number', default: 10_000, min: 0, max: 200_000, help: 'events per engine round (0 skips the engine comparison)' },
  'engine-rounds': { type: 'number', default: 2, min: 1, max: 10, help: 'plain and feed rounds each, alternating, after a plain warm-up' },
  'cpu-prof': { type: 'boolean', help: "profile the hub (role all); print where its CPU goes while the worker recomputes every user" },
  out: outOption('feed.json'),
} as const satisfies Record<string, OptionSpec>;

const usage = usageText('npm run bench:feed', options);
type Settings = ReturnType<typeof parseSettings>;

function parseSettings() {
  const { cpuProf: cpuProfile, out, ...flags } = parseOptions(options, usage);
  return { ...flags, cpuProfile, out: out ?? resultsPath(cpuProfile ? 'feed-cpu-prof.json' : 'feed.json') };
}

const guard = new RunGuard(progress);
const WARM_UP_USERS = 100;
/** Users of the sample recomputed once more one at a time: the recompute's own latency, queued behind no other. */
const ALONE_USERS = 200;

interface Measured {
  fixture: Omit<FeedFixture, 'userIds' | 'externalIds' | 'items'>;
  passes: RecomputePassFigures[];
  drain: FeedDrainFigures;
  drainCpu: CpuUsage;
  /** The worker drain on the hub's profile clock. */
  drainWindow: ProfileWindow;
  hubPid: number;
  rounds: EngineRoundFigures[];
  hubProblems: number;
  /** The distinct messages of those warnings and errors. */
  hubProblemMessages: string[];
}

async function processGroups(hub: HubProcess): Promise<{ engine: ProcessGroup[]; other: ProcessGroup[] }> {
  const servers = await hub.localServerPids();
  return {
    engine: [
      { name: 'hub (role all)', pids: () => Promise.resolve([hub.pid]) },
      ...(servers.postgres ? [{ name: 'postgres (postmaster + backends)', pids: () => withChildren(servers.postgres) }] : []),
      ...(servers.redis ? [{ name: 'redis-server', pids: () => Promise.resolve([servers.redis as number]) }] : []),
    ],
    other: [{ name: 'bench (this process)', pids: () => Promise.resolve([process.pid]) }],
  };
}

/** Every `step`-th user, so the sample spreads over zones and draws. */
const sampleOf = (userIds: readonly string[], size: number) => {
  const step = Math.max(1, Math.floor(userIds.length / size));
  return userIds.filter((_, i) => i % step === 0).slice(0, size);
};

async function measure(settings: Settings, hub: HubProcess, signal: AbortSignal): Promise<Measured> {
  const sql = postgres(hub.databaseUrl, { max: settings.concurrency, onnotice: () => undefined });
  try {
    progress(`seeding ${formatNumber(settings.users)} users, ${formatNumber(settings.items)} items and their history`);
    const fixture = await seedFeedFixture(sql, hub.tenantId, {
      users: settings.users,
      items: settings.items,
      authors: settings.authors,
      topics: settings.topics,
      days: settings.days,
      topicsPerUser: settings.topicsPerUser,
      authorsPerUser: settings.authorsPerUser,
      interactionsPerUser: settings.interactionsPerUser,
      seed: settings.seed,
    });
    progress(`seeded in ${formatNumber(fixture.seconds, 1)} s: ${JSON.stringify(fixture.rows)}`);
    const groups = await processGroups(hub);

    const sampler = new RecomputeSampler(sql, hub.tenantId);
    const sample = sampleOf(fixture.userIds, settings.sample);
    // JIT, the pool and Postgres's plan caches warm up on users outside the sample.
    await sampler.pass('warm-up', fixture.userIds.filter((id) => !sample.includes(id)).slice(0, WARM_UP_USERS), settings.concurrency);
    const passes: RecomputePassFigures[] = [];
    const plan = [
      { label: 'first computation', users: sample, concurrency: settings.concurrency },
      { label: 'recomputed', users: sample, concurrency: settings.concurrency },
      { label: 'recomputed, 1 at a time', users: sample.slice(0, ALONE_USERS), concurrency: 1 },
    ];
    for (const { label, users, concurrency } of plan) {
      progress(`recomputing ${formatNumber(users.length)} users directly (${label}), ${concurrency} at a time`);
      const pass = await sampler.pass(label, users, concurrency);
      progress(`${label}: p50 ${formatNumber(pass.recomputeMs.p50)} ms, p99 ${formatNumber(pass.recomputeMs.p99)} ms`);
      passes.push(pass);
    }

    progress(`queueing feed.recompute for all ${formatNumber(fixture.userIds.length)} users in the paused feeds queue`);
    let stopCpu: (() => Promise<CpuUsage>) | undefined;
    const drainWindow = { startUs: 0, endUs: 0 };
    const drain = await drainFeedRecomputes(
      { sql, redisUrl: hub.redisUrl, redisPrefix: hub.redisPrefix, tenantId: hub.tenantId, userIds: fixture.userIds, timeoutMs: settings.drainTimeout * 1000 },
      signal,
      async () => {
        progress('resuming the feeds queue');
        stopCpu = await measureCpu([...groups.engine, ...groups.other]);
        drainWindow.startUs = monotonicMicros();
      },
    );
    drainWindow.endUs = monotonicMicros();
    const drainCpu = await (stopCpu as () => Promise<CpuUsage>)();
    progress(`worker: ${formatNumber(drain.recomputed)} of ${formatNumber(drain.users)} users in ${drain.elapsedMs === null ? 'more than the timeout' : `${formatNumber(drain.elapsedMs / 1000, 1)} s`}`);

    const rounds = settings.engineEvents > 0 ? await engineRounds(settings, hub, fixture, groups, signal) : [];
    return { fixture: { rows: fixture.rows, seconds: fixture.seconds }, passes, drain, drainCpu, drainWindow, hubPid: hub.pid, rounds, hubProblems: hub.problems.length, hubProblemMessages: [...new Set(hub.problems.map((line) => String(line.message)))] };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function engineRounds(settings: Settings, hub: HubProcess, fixture: FeedFixture, groups: { engine: ProcessGroup[]; other: ProcessGroup[] }, signal: AbortSignal): Promise<EngineRoundFigures[]> {
  const rounds = new EngineCostRounds({ url: hub.url, apiKey: hub.apiKey, redisUrl: hub.redisUrl, redisPrefix: hub.redisPrefix, externalIds: fixture.externalIds, items: fixture.items, engineGroups: groups.engine, otherGroups: groups.other });
  try {
    // Each user's first event of the day assigns missions and creates streak rows: a warm-up round takes that, uncounted.
    const plan: [string, RoundKind][] = [['warm-up', 'warm-up']];
    for (let i = 1; i <= settings.engineRounds; i++) plan.push([`plain ${i}`, 'plain'], [`feed ${i}`, 'feed']);
    const figures: EngineRoundFigures[] = [];
    for (const [index, [label, kind]] of plan.entries()) {
      progress(`engine ${label}: ${formatNumber(settings.engineEvents)} events`);
      const round = await rounds.round(label, kind, index, settings.engineEvents, signal);
      progress(`engine ${label}: ${formatNumber(round.eventsPerSecond, 0)} events/s, ${formatNumber(round.engineCpuMsPerEvent, 2)} ms CPU per event`);
      figures.push(round);
    }
    return figures;
  } finally {
    await rounds.close();
  }
}

async function hubProfile(pid: number, window: ProfileWindow): Promise<ProfileSummary | undefined> {
  const file = (await findProfiles(profileDir, pid)).at(-1);
  if (file) return summarizeCpuProfile(file, { window, root: repoRoot });
  console.log(`No CPU profile of the hub (pid ${pid}) in ${profileDir}: did it exit cleanly?`);
  return undefined;
}

async function main(): Promise<number> {
  const settings = parseSettings();
  const budgetSeconds = Math.ceil(420 + settings.users / 100 + settings.drainTimeout + (settings.engineRounds * 2 + 1) * (30 + settings.engineEvents / 200));
  guard.arm(budgetSeconds);
  const defaults = parseConfig({});
  const raised = { RATE_LIMIT_TENANT_PER_SECOND: 10_000_000 } as const;
  printHeading(
    'feed',
    `${formatNumber(settings.users)} users, ${formatNumber(settings.items)} items (${settings.authors} authors, ${settings.topics} topics, ${settings.days} days); ` +
      `sample ${formatNumber(settings.sample)} at ${settings.concurrency} at a time; engine ${settings.engineEvents > 0 ? `${settings.engineRounds} × plain/feed rounds of ${formatNumber(settings.engineEvents)} events` : 'skipped'}; budget ${budgetSeconds} s`,
  );
  console.log(
    `Zero-config hub with its workers in one process (role all), local Postgres and Redis, default feed rules. Raised for this run: ` +
      `RATE_LIMIT_TENANT_PER_SECOND=${formatNumber(raised.RATE_LIMIT_TENANT_PER_SECOND)} (default ${formatNumber(defaults.RATE_LIMIT_TENANT_PER_SECOND)}).`,
  );
  const hubEnv = Object.fromEntries(Object.entries(raised).map(([name, value]) => [name, String(value)]));
  progress('starting a zero-config hub (role all)');
  if (settings.cpuProfile) await mkdir(profileDir, { recursive: true });
  const nodeArgs = settings.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const measured = await withHub(guard, { role: 'all', env: hubEnv, nodeArgs }, (hub) => measure(settings, hub, guard.signal));
  // Written when the hub exits: read after withHub stopped it.
  const profile = settings.cpuProfile ? await hubProfile(measured.hubPid, measured.drainWindow) : undefined;

  const verdicts = judgeFeed(measured.passes, measured.drain, measured.rounds);
  console.log(`\n${formatFeedReport(measured, verdicts)}`);
  console.log(`\n${formatCpuUsage('CPU while the worker recomputed every user', measured.drainCpu)}`);
  if (profile) console.log(`\n${formatProfileSummary(profile, { root: repoRoot, process: 'Hub (role all), while the worker recomputed every user', topFunctions: 30 })}`);
  if (measured.hubProblems > 0) console.log(`\nThe hub logged ${measured.hubProblems} warnings/errors: ${measured.hubProblemMessages.join('; ')}.`);
  await writeReport(
    'feed',
    {
      settings: { ...settings, out: undefined, hub: { mode: 'zero-config', roles: ['all'], raised } },
      fixture: measured.fixture,
      recompute: measured.passes,
      drain: { ...measured.drain, cpu: measured.drainCpu },
      engine: measured.rounds,
      verdicts,
      hubProblems: measured.hubProblems,
      hubProblemMessages: measured.hubProblemMessages,
      ...(profile ? { profile: profileJson(profile, repoRoot, measured.drainWindow) } : {}),
    },
    settings.out,
  );
  return 0;
}

await runBenchmark('bench:feed', usage, guard, main);
