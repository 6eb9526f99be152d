import { mkdir } from 'node:fs/promises';
import { parseConfig } from '../src/platform/config.js';
import { createPulseClient, type PulseClient } from '../src/client/index.js';
import { outOption, parseOptions, printHeading, profileDir, progress, resultsPath, RunGuard, runBenchmark, usageText, writeReport, type OptionSpec } from './lib/bench-run.js';
import { measureRawConsume, type ConsumeFigures } from './lib/bullmq-consume.js';
import { repoRoot, sleep } from './lib/child-process.js';
import { findProfiles, formatProfileSummary, monotonicMicros, profileJson, summarizeCpuProfile, type ProfileSummary, type ProfileWindow } from './lib/cpu-profile.js';
import { SUSTAINABLE_P99_MS } from './lib/engine-phase.js';
import { FusionReceipts } from './lib/fusion-receipts.js';
import { mintToken } from './lib/hub-api.js';
import type { HubProcess } from './lib/hub-process.js';
import { withHub } from './lib/hub-session.js';
import type { LatencySummary } from './lib/ms-histogram.js';
import { sendAtRate } from './lib/paced-sender.js';
import { formatCpuUsage, measureCpu, withChildren, type CpuUsage } from './lib/proc-cpu.js';
import { fetchMetrics } from './lib/prom-metrics.js';
import { formatNumber, formatPercent, formatTable, verdict } from './lib/table.js';

/**
 * `npm run bench:fusion`: readings of K tenant-wide signals from S sources posted over REST
 * (`POST /api/v1/signals`, batches of `--per-request`) at a fixed rate, each stamped with its
 * send time as `observedAt`; one admin client subscribed to the tenant's `dashboard` room receives
 * every `signal:fused` and times each reading from its `observedAt` to the first fused result
 * that includes it: the intake, the outbox relay, the deduplicated `signals.fuse` job (at most
 * one per FUSION_MIN_INTERVAL_MS per signal), the fusion's transaction, the realtime queue and
 * the Socket.IO push. The baseline, in the same run on the same Redis: plain BullMQ consuming a
 * trivial job with the signals worker's concurrency.
 */

const LAYOUT_HELP = [
  "burst: a key's readings from all its sources are posted back to back (sources sampling in step),",
  "so one fusion can take them all; spread: each source sweeps every key in turn, so a key's",
  'readings come 1/sources of its period apart (every reading a fusion of its own at ≥ 250 ms apart)',
].join('\n');

const options = {
  keys: { type: 'number', default: 1_000, min: 1, max: 100_000, help: 'tenant-wide signals (keys bench.k<n>)' },
  sources: { type: 'number', default: 5, min: 1, max: 100, help: 'sources reporting every key (bench-s<n>)' },
  rate: { type: 'number', default: 2_000, min: 1, max: 100_000, help: 'readings per second in the measured phase' },
  seconds: { type: 'number', arg: '<s>', default: 30, min: 1, max: 600, help: 'length of the measured phase' },
  'warmup-seconds': { type: 'number', arg: '<s>', default: 5, min: 0, max: 120, help: 'a phase at the same rate before the measured one (every signal fused once; JIT, pools)' },
  'per-request': { type: 'number', default: 10, min: 1, max: 500, help: 'readings in each POST ({signals: [...]}); the rate stays in readings per second' },
  layout: { type: 'string', arg: '<name>', default: 'burst', choices: ['burst', 'spread'], help: LAYOUT_HELP },
  'baseline-jobs': { type: 'number', default: 30_000, min: 1_000, max: 1_000_000, help: 'trivial jobs for the raw BullMQ baseline' },
  'baseline-concurrency': {
    type: 'number',
    default: 32,
    min: 1,
    max: 1_000,
    help: "the raw BullMQ baseline's concurrency: keep it equal to the worker role's signals\nconcurrency (`queueConsumers` in src/platform/queues/worker-pool.ts), which a bench does not import",
  },
  'cpu-prof': { type: 'boolean', help: 'profile the hub and the worker; print where their CPU goes in the measured phase' },
  out: outOption('fusion.json, fusion-cpu-prof.json with --cpu-prof'),
} as const satisfies Record<string, OptionSpec>;

const usage = usageText('npm run bench:fusion', options);
type Settings = ReturnType<typeof parseSettings>;

function parseSettings() {
  const { out, cpuProf: cpuProfile, ...flags } = parseOptions(options, usage);
  return { ...flags, cpuProfile, out: out ?? resultsPath(cpuProfile ? 'fusion-cpu-prof.json' : 'fusion.json') };
}

const guard = new RunGuard(progress);
const KEY_PREFIX = 'bench.k';
const TARGET = { rate: 2_000, p99Ms: 250 } as const;
/** How long after the last post every accepted reading may take to show in a fused result: kept up within `kept`, waited for up to `final`. */
const CATCH_UP_MS = { kept: 5_000, final: 60_000 } as const;
const MIN_SCHEDULE_SHARE = 0.95;

interface Reading {
  key: string;
  source: string;
  value: number;
  sigma: number;
}

/** Reading `n` of the run: which key and source it is, by layout; values near a per-key level, each source with its own bias and sigma. */
function readingOf(settings: Settings, n: number): Reading {
  const { keys, sources } = settings;
  const burst = settings.layout === 'burst';
  const k = burst ? Math.floor(n / sources) % keys : n % keys;
  const s = burst ? n % sources : Math.floor(n / keys) % sources;
  return { key: `${KEY_PREFIX}${k}`, source: `bench-s${s}`, value: 60 + (k % 40) + (s - sources / 2) * 0.3 + Math.sin(n) * 0.5, sigma: 1 + s * 0.5 };
}

interface Backlog {
  /** Readings the relay has not moved to BullMQ yet (events' and readings' outbox rows alike). */
  outbox: number;
  /** signals.fuse jobs waiting (one per signal at most). */
  fusions: number;
  realtime: number;
}

async function sampleBacklog(url: string): Promise<Backlog | null> {
  const metrics = await fetchMetrics(`${url}/metrics`).catch(() => null);
  if (!metrics) return null;
  const waiting = (queue: string) => metrics.get(`bullmq_queue_jobs{queue="${queue}",state="waiting"}`) ?? Number.NaN;
  return { outbox: metrics.get('pulse_outbox_backlog{stage="unrelayed"}') ?? Number.NaN, fusions: waiting('signals'), realtime: waiting('realtime') };
}

interface PhaseFigures {
  label: string;
  offeredPerSecond: number;
  seconds: number;
  requests: number;
  /** Readings answered 202, and per second of sending. */
  accepted: number;
  acceptedPerSecond: number;
  refused: Record<string, { count: number; body: string }>;
  senderMaxLagMs: number;
  /** POST → 202, per request. */
  answer: LatencySummary;
  results: number;
  /** Fused results per second, from the first post to the last result. */
  resultsPerSecond: number;
  /** Readings delivered in a fused result, of those accepted. */
  delivered: number;
  readingsPerResult: number;
  /** observedAt (send time) → the first fused result holding the reading, at the client. */
  latency: LatencySummary;
  backlogAtLastPost: Backlog | null;
  /** From the last post until every key's newest readings had been seen fused (null: not within CATCH_UP_MS.final). */
  caughtUpAfterMs: number | null;
  sustained: boolean;
}

async function waitForCatchUp(receipts: FusionReceipts, timeoutMs: number, signal: AbortSignal): Promise<number | null> {
  const from = Date.now();
  while (receipts.outstanding() > 0) {
    if (Date.now() - from > timeoutMs) return null;
    await sleep(10, signal);
  }
  return Date.now() - from;
}

async function runPhase(settings: Settings, hub: HubProcess, receipts: FusionReceipts, label: string, seconds: number, signal: AbortSignal): Promise<PhaseFigures> {
  const perRequest = settings.perRequest;
  const rate = settings.rate;
  const stamps = new Map<number, number>();
  const batchOf = (index: number) => Array.from({ length: perRequest }, (_, i) => readingOf(settings, index * perRequest + i));
  progress(`${label}: ${formatNumber(rate)} readings/s (${formatNumber(rate / perRequest, 1)} requests/s) for ${seconds} s`);
  const startedAt = Date.now();
  receipts.measureFrom(startedAt);
  const sent = await sendAtRate({
    url: new URL('/api/v1/signals', hub.url),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${hub.apiKey}` },
    rate: rate / perRequest,
    seconds,
    body: (index) => {
      const stamp = Date.now();
      stamps.set(index, stamp);
      const observedAt = new Date(stamp).toISOString();
      return JSON.stringify({ signals: batchOf(index).map((reading) => ({ ...reading, observedAt })) });
    },
    onAnswer: (index, status) => {
      const stamp = stamps.get(index);
      stamps.delete(index);
      if (status === 202 && stamp !== undefined) receipts.accept(batchOf(index), stamp);
    },
    signal,
  });
  const backlogAtLastPost = await sampleBacklog(hub.url);
  const caughtUpAfterMs = await waitForCatchUp(receipts, CATCH_UP_MS.final, signal);
  const fused = receipts.figures();
  const latency = receipts.latency.summary();
  const accepted = sent.accepted * perRequest;
  const acceptedPerSecond = accepted / sent.sendSeconds;
  progress(`${label}: ${formatNumber(accepted)} readings accepted, ${formatNumber(fused.results)} fused results, p99 ${latency.p99} ms${caughtUpAfterMs === null ? ' (not caught up)' : ''}`);
  return {
    label,
    offeredPerSecond: rate,
    seconds,
    requests: sent.sent,
    accepted,
    acceptedPerSecond,
    refused: sent.refused,
    senderMaxLagMs: sent.maxLagMs,
    answer: sent.answerLatency.summary(),
    results: fused.results,
    resultsPerSecond: fused.results > 0 ? (fused.results * 1000) / Math.max(fused.lastAt - startedAt, 1) : 0,
    delivered: fused.delivered,
    readingsPerResult: fused.readingsPerResult,
    latency,
    backlogAtLastPost,
    caughtUpAfterMs,
    sustained:
      sent.accepted === sent.sent &&
      acceptedPerSecond >= rate * MIN_SCHEDULE_SHARE &&
      caughtUpAfterMs !== null &&
      caughtUpAfterMs <= CATCH_UP_MS.kept &&
      latency.p99 <= SUSTAINABLE_P99_MS,
  };
}

/** One admin socket in the tenant's dashboard room: every tenant-wide fused value. */
async function connectDashboard(hub: HubProcess, receipts: FusionReceipts): Promise<PulseClient> {
  const minted = await mintToken(hub.url, hub.apiKey, { userId: 'bench-fusion-admin', role: 'admin' });
  if (!('pair' in minted)) throw new Error(`the admin token was refused: ${minted.refusal.status} ${minted.refusal.body}`);
  const client = createPulseClient({ baseUrl: hub.url, getToken: () => minted.pair.accessToken });
  client.on('signal:fused', (update) => receipts.receive(update));
  await client.subscribe('dashboard');
  return client;
}

async function measureCpuOf(hub: HubProcess): Promise<() => Promise<CpuUsage>> {
  const { postgres, redis } = await hub.localServerPids();
  const fixed = (name: string, pid: number | undefined) => (pid ? [{ name, pids: () => Promise.resolve([pid]) }] : []);
  return measureCpu([
    ...fixed('hub (role hub)', hub.pid),
    ...fixed('worker (role worker)', hub.workerPid),
    ...(postgres ? [{ name: 'postgres (postmaster + backends)', pids: () => withChildren(postgres) }] : []),
    ...fixed('redis-server', redis),
    ...fixed('bench: sender + dashboard client (this process)', process.pid),
  ]);
}

interface Measured {
  baseline: ConsumeFigures;
  warmup: PhaseFigures | null;
  measured: PhaseFigures;
  cpu: CpuUsage;
  /** The measured phase on the profiles' clock, and whose profiles to read once the processes exit. */
  window: ProfileWindow;
  pids: Record<string, number | undefined>;
  hubProblems: number;
}

async function measure(settings: Settings, hub: HubProcess, signal: AbortSignal): Promise<Measured> {
  const { baselineJobs: jobs, baselineConcurrency: concurrency } = settings;
  progress(`raw BullMQ baseline: ${formatNumber(jobs)} trivial jobs, concurrency ${concurrency}`);
  const baseline = await measureRawConsume({ redisUrl: hub.redisUrl, prefix: `${hub.redisPrefix}-baseline`, jobs, concurrency, timeoutMs: 300_000 });
  progress(`raw BullMQ: ${formatNumber(baseline.jobsPerSecond, 0)} jobs/s`);

  const receipts = new FusionReceipts(KEY_PREFIX);
  const client = await connectDashboard(hub, receipts);
  const forget = guard.lastResort(() => client.close());
  try {
    const warmup = settings.warmupSeconds > 0 ? await runPhase(settings, hub, receipts, 'warm-up', settings.warmupSeconds, signal) : null;
    const stopCpu = await measureCpuOf(hub);
    const startUs = monotonicMicros();
    const measured = await runPhase(settings, hub, receipts, 'measured', settings.seconds, signal);
    const window = { startUs, endUs: monotonicMicros() };
    const cpu = await stopCpu();
    return { baseline, warmup, measured, cpu, window, pids: { Hub: hub.pid, Worker: hub.workerPid }, hubProblems: hub.problems.length };
  } finally {
    client.close();
    forget();
  }
}

function judge(settings: Settings, measured: PhaseFigures, baseline: ConsumeFigures) {
  return {
    p99: { targetMs: TARGET.p99Ms, targetRate: TARGET.rate, rate: settings.rate, valueMs: measured.latency.p99, pass: measured.sustained && settings.rate >= TARGET.rate && measured.latency.p99 <= TARGET.p99Ms },
    /** End to end (HTTP intake and the sender on the same cores) against the baseline consumer alone. */
    readingsShare: measured.sustained ? measured.acceptedPerSecond / baseline.jobsPerSecond : 0,
    /** signals.fuse jobs done (one per fused result) against trivial jobs done. */
    fusionJobShare: measured.resultsPerSecond / baseline.jobsPerSecond,
  };
}

function formatReport(settings: Settings, phases: PhaseFigures[], baseline: ConsumeFigures, verdicts: ReturnType<typeof judge>): string {
  const headers = ['phase', 'offered/s', 'accepted/s', 'fused', 'fused/s', 'readings/result', 'delivered', 'p50', 'p90', 'p99', 'max', 'POST p99', 'backlog outbox/fuse/realtime', 'caught up', 'sustained'];
  const textual = new Set(['phase', 'backlog outbox/fuse/realtime', 'caught up', 'sustained']);
  const table = formatTable(
    headers.map((header) => ({ header, align: textual.has(header) ? 'left' : 'right' })),
    phases.map((phase) => [
      phase.label,
      phase.offeredPerSecond,
      formatNumber(phase.acceptedPerSecond, 0),
      phase.results,
      formatNumber(phase.resultsPerSecond, 0),
      formatNumber(phase.readingsPerResult, 2),
      formatPercent(phase.accepted > 0 ? phase.delivered / phase.accepted : 0),
      phase.latency.p50,
      phase.latency.p90,
      phase.latency.p99,
      phase.latency.max,
      phase.answer.p99,
      phase.backlogAtLastPost ? `${phase.backlogAtLastPost.outbox} / ${phase.backlogAtLastPost.fusions} / ${phase.backlogAtLastPost.realtime}` : '-',
      phase.caughtUpAfterMs === null ? 'no' : `${formatNumber(phase.caughtUpAfterMs / 1000, 1)} s`,
      phase.sustained ? 'yes' : 'no',
    ]),
  );
  const measured = phases.at(-1) as PhaseFigures;
  const { p99 } = verdicts;
  return [
    `Latencies in ms: a reading's observedAt (its send time) → the first signal:fused holding it, at the dashboard client. Delivered: accepted readings that showed in a fused result ` +
      `(a reading replaced by a newer one of its source before a fusion took it never does). Backlog: outbox rows unrelayed / signals.fuse jobs / realtime jobs waiting at the last post. ` +
      `Caught up: last post → every key's newest readings seen fused. Sustained: ≥ ${formatPercent(MIN_SCHEDULE_SHARE, 0)} of the schedule accepted, caught up within ${CATCH_UP_MS.kept / 1000} s, p99 ≤ ${formatNumber(SUSTAINABLE_P99_MS)} ms.`,
    table,
    '',
    `Baseline, same run and Redis: raw BullMQ consumed ${formatNumber(baseline.jobs)} trivial jobs at ${formatNumber(baseline.jobsPerSecond, 0)} jobs/s (concurrency ${baseline.concurrency}).`,
    `Readings sustained end to end: ${measured.sustained ? `${formatNumber(measured.acceptedPerSecond, 0)}/s = ${formatPercent(verdicts.readingsShare)} of raw consume` : 'none (the measured phase was not sustained)'}; ` +
      `fusion jobs (one per result) ${formatNumber(measured.resultsPerSecond, 0)}/s = ${formatPercent(verdicts.fusionJobShare)} of raw consume.`,
    '',
    'Target:',
    `  ${verdict(p99.pass)}  reading → signal:fused p99 ${p99.valueMs} ms at ${formatNumber(settings.rate)} readings/s (target ≤ ${p99.targetMs} ms at ${formatNumber(p99.targetRate)} readings/s` +
      `${settings.rate < TARGET.rate ? '; this run is below that rate' : ''}${measured.sustained ? '' : '; not sustained'})`,
  ].join('\n');
}

/** Each process's last profile in the profile folder, over `window`; a process that left none is said and skipped. */
async function profileSummaries(pids: Measured['pids'], window: ProfileWindow): Promise<Record<string, ProfileSummary>> {
  const summaries: Record<string, ProfileSummary> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const file = pid === undefined ? undefined : (await findProfiles(profileDir, pid)).at(-1);
    if (!file) console.log(`No CPU profile of ${name} (pid ${pid}) in ${profileDir}.`);
    else summaries[name] = await summarizeCpuProfile(file, { window, root: repoRoot });
  }
  return summaries;
}

async function main(): Promise<number> {
  const settings = parseSettings();
  const budgetSeconds = Math.ceil(300 + settings.warmupSeconds + settings.seconds + 2 * (CATCH_UP_MS.final / 1000));
  guard.arm(budgetSeconds);
  const defaults = parseConfig({});
  const raised = { RATE_LIMIT_TENANT_PER_SECOND: 10_000_000, ACCESS_TOKEN_TTL_SECONDS: Math.max(defaults.ACCESS_TOKEN_TTL_SECONDS, budgetSeconds + 300) } as const;

  printHeading(
    'fusion',
    `${formatNumber(settings.keys)} signals × ${settings.sources} sources, ${formatNumber(settings.rate)} readings/s (${settings.perRequest} per request, ${settings.layout} layout) ` +
      `for ${settings.seconds} s after a ${settings.warmupSeconds} s warm-up; budget ${budgetSeconds} s`,
  );
  console.log(
    `Zero-config hub (role hub) + one worker process, local Postgres and Redis, FUSION_MIN_INTERVAL_MS=${defaults.FUSION_MIN_INTERVAL_MS} (default). Raised for this run: ` +
      `RATE_LIMIT_TENANT_PER_SECOND=${formatNumber(raised.RATE_LIMIT_TENANT_PER_SECOND)} (default ${formatNumber(defaults.RATE_LIMIT_TENANT_PER_SECOND)}), ACCESS_TOKEN_TTL_SECONDS=${raised.ACCESS_TOKEN_TTL_SECONDS}.`,
  );

  const hubEnv = Object.fromEntries(Object.entries(raised).map(([name, value]) => [name, String(value)]));
  progress('starting a zero-config hub and a worker');
  if (settings.cpuProfile) await mkdir(profileDir, { recursive: true });
  const nodeArgs = settings.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const measured = await withHub(guard, { role: 'hub', separateWorker: true, env: hubEnv, nodeArgs }, (hub) => measure(settings, hub, guard.signal));
  // Profiles are written when the processes exit, so only now.
  const profiles = settings.cpuProfile ? await profileSummaries(measured.pids, measured.window) : {};

  const phases = [...(measured.warmup ? [measured.warmup] : []), measured.measured];
  const verdicts = judge(settings, measured.measured, measured.baseline);
  console.log(`\n${formatReport(settings, phases, measured.baseline, verdicts)}`);
  if (measured.hubProblems > 0) console.log(`The hub logged ${measured.hubProblems} warnings/errors.`);
  console.log(`\n${formatCpuUsage('CPU during the measured phase', measured.cpu)}`);
  for (const [name, profile] of Object.entries(profiles)) console.log(`\n${formatProfileSummary(profile, { root: repoRoot, process: name, topFunctions: 25 })}`);

  const settingsJson = { ...settings, out: undefined, hub: { roles: ['hub', 'worker'], raised, fusionMinIntervalMs: defaults.FUSION_MIN_INTERVAL_MS }, sustainableP99Ms: SUSTAINABLE_P99_MS };
  const { baseline, cpu, hubProblems } = measured;
  const profileFigures = Object.entries(profiles).map(([name, profile]) => [name, profileJson(profile, repoRoot)] as const);
  await writeReport('fusion', { settings: settingsJson, baseline, phases, verdicts, cpu, hubProblems, ...(profileFigures.length > 0 ? { profiles: Object.fromEntries(profileFigures) } : {}) }, settings.out);
  return 0;
}

await runBenchmark('bench:fusion', usage, guard, main);
