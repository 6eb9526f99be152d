import { mkdir } from 'node:fs/promises';
import { parseConfig } from '../src/platform/config.js';
import { outOption, parseOptions, printHeading, profileDir, progress, resultsPath, RunGuard, runBenchmark, signalProcess, usageText, writeReport, type OptionSpec } from './lib/bench-run.js';
import { measureRawConsume, type ConsumeFigures } from './lib/bullmq-consume.js';
import { repoRoot, sleep } from './lib/child-process.js';
import { findProfiles, formatProfileSummary, profileJson, monotonicMicros, summarizeCpuProfile, type ProfileSummary, type ProfileWindow } from './lib/cpu-profile.js';
import { formatEngineReport, judgeEngine } from './lib/engine-report.js';
import { runDrain, type DrainFigures } from './lib/engine-drain.js';
import { runPhase, SUSTAINABLE_P99_MS, type PhaseFigures, type PhasePlan } from './lib/engine-phase.js';
import { ClientFleet } from './lib/fanout-clients.js';
import { mintTokens } from './lib/fanout-targets.js';
import { hubRequest } from './lib/hub-api.js';
import { startHub, type HubProcess } from './lib/hub-process.js';
import { formatCpuUsage, measureCpu, withChildren, type CpuUsage, type ProcessGroup } from './lib/proc-cpu.js';
import { formatNumber } from './lib/table.js';

/**
 * `npm run bench:engine`: K users, each with a connected client, and events posted over REST at a
 * fixed rate, round-robin over the users; every event is timed from its post to its
 * `activity:recorded` on the user's socket, through the whole pipeline: ingest, outbox relay,
 * BullMQ, the engine's transaction (streaks, records, missions, campaigns, rewards), the
 * realtime queue and the Socket.IO adapter. A ramp then raises the rate until the pipeline no
 * longer keeps up. Last, the drain: events queued while the engagement queue is paused, then
 * applied and pushed as fast as the pipeline consumes them. The baseline, in the same run on the
 * same Redis: plain BullMQ consuming a trivial job with the engine worker's concurrency.
 */

const options = {
  users: { type: 'number', default: 1_000, min: 1, max: 20_000, help: 'users, each with one connected client' },
  rate: { type: 'number', default: 1_000, min: 1, max: 50_000, help: 'events per second in the measured phase' },
  seconds: { type: 'number', arg: '<s>', default: 30, min: 1, max: 600, help: 'length of the measured phase' },
  'ramp-seconds': { type: 'number', arg: '<s>', default: 10, min: 0, max: 120, help: 'length of each ramp step (0 skips the ramp)' },
  'ramp-factor': { type: 'number', arg: '<x>', default: 1.25, min: 1.05, max: 4, whole: false, help: "each ramp step's rate over the previous one" },
  'max-rate': { type: 'number', default: 20_000, min: 1, max: 100_000, help: 'the ramp stops here' },
  'baseline-jobs': { type: 'number', default: 30_000, min: 1_000, max: 1_000_000, help: 'trivial jobs for the raw BullMQ baseline' },
  'baseline-concurrency': {
    type: 'number',
    default: 64,
    min: 1,
    max: 1_000,
    help: "the raw BullMQ baseline's concurrency: keep it equal to the worker role's engagement\nconcurrency (`queueConsumers` in src/platform/queues/worker-pool.ts), which a bench does not import",
  },
  'events-per-request': {
    type: 'number',
    default: 1,
    min: 1,
    max: 500,
    help: 'events in each POST (1: as a mobile client sends them; more: one {events: [...]}\nrequest for that many users, as an app\'s backend batches)',
  },
  'drain-events': { type: 'number', default: 10_000, min: 0, max: 200_000, help: 'events queued in the paused engagement queue, then consumed (0 skips the drain)' },
  rules: {
    type: 'string',
    arg: '<name>',
    default: 'default',
    choices: ['default', 'activity-only'],
    help: 'default (the rules a new tenant gets) or activity-only (no streaks, records or\nmissions: what the pipeline costs without the engine\'s effects)',
  },
  'cpu-prof': { type: 'boolean', help: 'profile the hub and the worker; print where their CPU goes in the measured phase' },
  'database-url': {
    type: 'string',
    arg: '<url>',
    help: 'run against this Postgres instead of a local zero-config one (for example one started\nwith pg_stat_statements); its CPU is then not broken out',
  },
  'redis-url': { type: 'string', arg: '<url>', help: 'the same for Redis (the run uses a key prefix of its own)' },
  out: outOption('engine.json, engine-cpu-prof.json with --cpu-prof'),
} as const satisfies Record<string, OptionSpec>;

const usage = usageText('npm run bench:engine', options);

interface Settings {
  users: number;
  rate: number;
  seconds: number;
  rampSeconds: number;
  rampFactor: number;
  maxRate: number;
  baselineJobs: number;
  baselineConcurrency: number;
  drainEvents: number;
  eventsPerRequest: number;
  rules: 'default' | 'activity-only';
  cpuProfile: boolean;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  out: string;
}

function parseSettings(): Settings {
  const { cpuProf: cpuProfile, out, ...flags } = parseOptions(options, usage);
  return { ...flags, cpuProfile, out: out ?? resultsPath(cpuProfile ? 'engine-cpu-prof.json' : 'engine.json') };
}

/** Rules under which an event only records its activity: the pipeline without the engine's effects. */
const ACTIVITY_ONLY_RULES = { streaks: [], records: [], missions: { perDay: 0 } };

async function useRules(hub: HubProcess, rules: Settings['rules']): Promise<void> {
  if (rules === 'default') return;
  const answer = await hubRequest(`${hub.url}/api/v1/admin/rules`, hub.apiKey, 'PUT', ACTIVITY_ONLY_RULES);
  if (answer.status !== 200) throw new Error(`the rules were refused: ${answer.status} ${answer.body}`);
  // The hub and the worker cache rules for 5 s.
  await sleep(6_000);
}

const guard = new RunGuard(progress);
/** Time for the pushes of a phase to arrive after its last post: enough for a pipeline that keeps up, bounded for one that does not. */
const DRAIN_MS = { kept: 5_000, final: 60_000 } as const;

/** How long a backlog left by an unsustainable phase may take to clear before the next phase. */
const SETTLE_MS = 240_000;
const MIN_RATE = 10;

/**
 * The search for the highest sustainable rate after the measured phase: up from it by `factor`
 * per step while each step is sustainable (to --max-rate), or, when the measured rate was not,
 * down by `factor` per step until one is.
 */
function rampRates({ rate, rampFactor, maxRate, rampSeconds }: Settings, upward: boolean): number[] {
  const rates: number[] = [];
  if (rampSeconds === 0) return rates;
  for (let next = rate; rates.length < 12; ) {
    next = Math.round(upward ? next * rampFactor : next / rampFactor);
    if (upward ? next > maxRate : next < MIN_RATE) break;
    rates.push(next);
  }
  return rates;
}

function processGroups(hub: HubProcess, fleet: ClientFleet, servers: { postgres?: number; redis?: number }): ProcessGroup[] {
  return [
    { name: 'hub (role hub)', pids: () => Promise.resolve([hub.pid]) },
    ...(hub.workerPid ? [{ name: 'worker (role worker)', pids: () => Promise.resolve([hub.workerPid as number]) }] : []),
    ...(servers.postgres ? [{ name: 'postgres (postmaster + backends)', pids: () => withChildren(servers.postgres) }] : []),
    ...(servers.redis ? [{ name: 'redis-server', pids: () => Promise.resolve([servers.redis as number]) }] : []),
    { name: 'clients (1 node process)', pids: () => Promise.resolve(fleet.pids) },
    { name: 'sender (this process)', pids: () => Promise.resolve([process.pid]) },
  ];
}

interface Measured {
  baseline: ConsumeFigures;
  drain: { figures: DrainFigures; cpu: CpuUsage } | null;
  /** The measured phase on the profiles' clock. */
  window: ProfileWindow;
  phases: PhaseFigures[];
  cpu: CpuUsage;
  health: Awaited<ReturnType<ClientFleet['report']>>['health'];
  connected: number;
  hubProblems: number;
}

async function measure(settings: Settings, hub: HubProcess, signal: AbortSignal): Promise<Measured> {
  progress(`raw BullMQ baseline: ${formatNumber(settings.baselineJobs)} trivial jobs, concurrency ${settings.baselineConcurrency}`);
  const baseline = await measureRawConsume({
    redisUrl: hub.redisUrl,
    prefix: `${hub.redisPrefix}-baseline`,
    jobs: settings.baselineJobs,
    concurrency: settings.baselineConcurrency,
    timeoutMs: 300_000,
  });
  progress(`raw BullMQ: ${formatNumber(baseline.jobsPerSecond)} jobs/s`);

  await useRules(hub, settings.rules);
  const minted = await mintTokens(hub, settings.users);
  if (minted.tokens.length < settings.users) throw new Error(`only ${minted.tokens.length} of ${settings.users} tokens minted: ${JSON.stringify(minted.refusals)}`);
  const fleet = await ClientFleet.start({ processes: 1 });
  const forget = guard.lastResort(() => fleet.kill());
  try {
    const connect = await fleet.connect(
      { baseUrl: hub.url.replace(/^http:/, 'ws:'), protocol: 'socket.io', receipts: 'updates', connections: settings.users, tokens: minted.tokens, concurrency: 100, timeoutMs: 30_000 },
      (connected, failed) => progress(`connecting: ${connected} connected, ${failed} failed`),
    );
    if (connect.ready < settings.users) throw new Error(`only ${connect.ready} of ${settings.users} clients connected: ${JSON.stringify(connect.failures)}`);
    const target = { url: hub.url, apiKey: hub.apiKey, users: settings.users, eventsPerRequest: settings.eventsPerRequest };
    const run = async (plan: PhasePlan) => {
      progress(`${plan.label}: ${formatNumber(plan.rate)} events/s for ${plan.seconds} s`);
      const figures = await runPhase(plan, target, fleet, signal);
      progress(`${plan.label}: pushed ${formatNumber(figures.pushed)} of ${formatNumber(figures.accepted)}, p99 ${figures.push.p99} ms${figures.sustainable ? '' : ' (not sustainable)'}`);
      return figures;
    };

    // Warm-up: every user's first event of the day assigns missions and creates streak rows; JIT and pools warm up.
    const phases = [await run({ index: 0, label: 'warm-up', rate: Math.max(1, Math.round(settings.rate / 2)), seconds: Math.max(5, Math.ceil((2 * settings.users) / settings.rate)), drainMs: DRAIN_MS.final })];
    const stopCpu = await measureCpu(processGroups(hub, fleet, await hub.localServerPids()));
    const startUs = monotonicMicros();
    phases.push(await run({ index: 1, label: 'measured', rate: settings.rate, seconds: settings.seconds, drainMs: DRAIN_MS.final }));
    const window = { startUs, endUs: monotonicMicros() };
    const cpu = await stopCpu();
    const measuredPhase = phases[1] as PhaseFigures;
    const upward = measuredPhase.sustainable;
    const settle = async (phase: PhaseFigures, index: number) => {
      if (phase.pushed >= phase.accepted) return;
      progress(`${phase.label}: waiting for its backlog to clear (at most ${SETTLE_MS / 1000} s)`);
      if (!(await fleet.waitForReceipts([index], phase.accepted, SETTLE_MS, signal))) throw new Error(`the backlog of ${phase.label} did not clear within ${SETTLE_MS / 1000} s`);
    };
    if (!upward) await settle(measuredPhase, 1);
    for (const [i, rate] of rampRates(settings, upward).entries()) {
      const index = i + 2;
      const step = await run({ index, label: `ramp ${upward ? 'up' : 'down'} ${i + 1}`, rate, seconds: settings.rampSeconds, drainMs: DRAIN_MS.kept });
      phases.push(step);
      // Every event is pushed before the run ends (or the next step starts), so none is lost from view.
      await settle(step, index);
      if (step.sustainable !== upward) break;
    }
    const drain = settings.drainEvents > 0 ? await runDrainPhase(settings, hub, fleet, phases.length, signal) : null;
    const { health } = await fleet.report('measured');
    return { baseline, drain, window, phases, cpu, health, connected: connect.ready, hubProblems: hub.problems.length };
  } finally {
    await fleet.close();
    forget();
  }
}

/** Queues `--drain-events` in the paused engagement queue at the measured rate, then times their consumption. */
async function runDrainPhase(settings: Settings, hub: HubProcess, fleet: ClientFleet, index: number, signal: AbortSignal): Promise<Measured['drain']> {
  progress(`drain: queueing ${formatNumber(settings.drainEvents)} events in the paused engagement queue at ${formatNumber(settings.rate)} events/s`);
  let stopCpu: (() => Promise<CpuUsage>) | undefined;
  const figures = await runDrain(
    { index, events: settings.drainEvents, rate: settings.rate, timeoutMs: SETTLE_MS },
    { url: hub.url, apiKey: hub.apiKey, users: settings.users, eventsPerRequest: settings.eventsPerRequest, redisUrl: hub.redisUrl, redisPrefix: hub.redisPrefix },
    fleet,
    signal,
    async () => {
      progress('drain: resuming the queue');
      stopCpu = await measureCpu(processGroups(hub, fleet, await hub.localServerPids()));
    },
  );
  const cpu = await (stopCpu as () => Promise<CpuUsage>)();
  progress(`drain: ${formatNumber(figures.pushed)} of ${formatNumber(figures.events)} applied and pushed at ${formatNumber(figures.perSecond, 0)} events/s`);
  return { figures, cpu };
}

function serversOf(settings: Settings): string {
  const where = (name: string, url: string | undefined) => (url ? `${name} at ${new URL(url).host}` : `local ${name}`);
  const mode = settings.databaseUrl || settings.redisUrl ? 'Hub' : 'Zero-config hub';
  return `${mode} (role hub) + one worker process, ${where('Postgres', settings.databaseUrl)} and ${where('Redis', settings.redisUrl)}`;
}

/** The hub's and the worker's profiles over the measured phase, once they have exited and written them. */
async function readProfiles(hub: HubProcess, window: ProfileWindow): Promise<Record<string, ProfileSummary>> {
  const summaries: Record<string, ProfileSummary> = {};
  for (const [name, pid] of [['Hub', hub.pid], ['Worker', hub.workerPid]] as const) {
    const file = pid === undefined ? undefined : (await findProfiles(profileDir, pid)).at(-1);
    if (file) summaries[name] = await summarizeCpuProfile(file, { window, root: repoRoot });
    else console.log(`No CPU profile of the ${name.toLowerCase()} (pid ${pid}) in ${profileDir}: did it exit cleanly?`);
  }
  return summaries;
}

async function main(): Promise<number> {
  const settings = parseSettings();
  const ramp = { up: rampRates(settings, true), down: rampRates(settings, false) };
  const steps = Math.max(ramp.up.length, ramp.down.length);
  const budgetSeconds = Math.ceil(300 + settings.users / 50 + 3 * settings.seconds + steps * (settings.rampSeconds + DRAIN_MS.kept / 1000) + 3 * (SETTLE_MS / 1000));
  guard.arm(budgetSeconds);
  const defaults = parseConfig({});
  const raised = { RATE_LIMIT_TENANT_PER_SECOND: 10_000_000, ACCESS_TOKEN_TTL_SECONDS: Math.max(defaults.ACCESS_TOKEN_TTL_SECONDS, budgetSeconds + 300) } as const;

  printHeading(
    'engine',
    `${formatNumber(settings.users)} users with a client each; ${formatNumber(settings.rate)} events/s (${settings.eventsPerRequest === 1 ? 'one per request' : `${settings.eventsPerRequest} per request`}) for ${settings.seconds} s, ` +
      `then ${steps > 0 ? `${settings.rampSeconds} s steps ×${settings.rampFactor} up while sustainable, or ÷${settings.rampFactor} down until sustainable` : 'no ramp'}; budget ${budgetSeconds} s`,
  );
  console.log(
    `${serversOf(settings)}, ${settings.rules === 'default' ? 'default engine rules (the demo tenant as created)' : 'activity-only rules (no streaks, records or missions)'}. Raised for this run: ` +
      `RATE_LIMIT_TENANT_PER_SECOND=${formatNumber(raised.RATE_LIMIT_TENANT_PER_SECOND)} (default ${formatNumber(defaults.RATE_LIMIT_TENANT_PER_SECOND)}), ` +
      `ACCESS_TOKEN_TTL_SECONDS=${raised.ACCESS_TOKEN_TTL_SECONDS}. Sustainable: the sender kept ≥ 95 % of its schedule, every post got 202, every push arrived and p99 ≤ ${formatNumber(SUSTAINABLE_P99_MS)} ms.`,
  );

  progress(`starting: ${serversOf(settings)}`);
  const hubEnv = Object.fromEntries(Object.entries(raised).map(([name, value]) => [name, String(value)]));
  if (settings.cpuProfile) await mkdir(profileDir, { recursive: true });
  const nodeArgs = settings.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const hub = await startHub({ role: 'hub', separateWorker: true, env: hubEnv, nodeArgs, databaseUrl: settings.databaseUrl, redisUrl: settings.redisUrl, signal: guard.signal });
  const forget = guard.lastResort(() => signalProcess(hub.pid, 'SIGTERM'));
  let measured: Measured;
  try {
    progress(`hub at ${hub.url} (pid ${hub.pid}), worker pid ${hub.workerPid}`);
    measured = await measure(settings, hub, guard.signal);
  } finally {
    progress('stopping the worker and the hub (SIGTERM)');
    await hub.stop();
    forget();
  }

  const profiles = settings.cpuProfile ? await readProfiles(hub, measured.window) : {};
  const drain = measured.drain?.figures ?? null;
  const verdicts = judgeEngine(settings.rate, measured.phases, measured.baseline, drain);
  console.log(`\n${formatEngineReport(measured.phases, measured.baseline, drain, verdicts)}`);
  console.log(
    `\nClients: ${measured.connected} connected; ${formatNumber(measured.health.userUpdates)} user updates received, ${measured.health.outOfOrder} out of seq order, ` +
      `${measured.health.closedUnexpectedly} sockets closed by the server, ${measured.health.sessionExpired} sessions expired.`,
  );
  if (measured.hubProblems > 0) console.log(`The hub logged ${measured.hubProblems} warnings/errors.`);
  console.log(`\n${formatCpuUsage('CPU during the measured phase', measured.cpu)}`);
  if (measured.drain) console.log(`\n${formatCpuUsage('CPU during the drain', measured.drain.cpu)}`);
  for (const [name, profile] of Object.entries(profiles)) console.log(`\n${formatProfileSummary(profile, { root: repoRoot, process: name, topFunctions: 25 })}`);

  await writeReport('engine', {
    settings: { ...settings, out: undefined, ramp, hub: { mode: hub.mode, roles: ['hub', 'worker'], rules: settings.rules, raised }, sustainableP99Ms: SUSTAINABLE_P99_MS },
    baseline: measured.baseline,
    phases: measured.phases,
    drain: measured.drain,
    verdicts,
    clients: { connected: measured.connected, ...measured.health },
    cpu: measured.cpu,
    hubProblems: measured.hubProblems,
    ...(settings.cpuProfile ? { profiles: Object.fromEntries(Object.entries(profiles).map(([name, profile]) => [name, profileJson(profile, repoRoot)])) } : {}),
  }, settings.out);
  return 0;
}

await runBenchmark('bench:engine', usage, guard, main);
