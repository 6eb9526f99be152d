import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import { parseConfig } from '../src/platform/config.js';
import { outOption, parseOptions, printHeading, profileDir, progress, resultsPath, RunGuard, runBenchmark, signalProcess, UsageError, usageText, writeReport, type OptionSpec } from './lib/bench-run.js';
import { repoRoot } from './lib/child-process.js';
import { findProfiles, formatProfileSummary, profileJson, summarizeCpuProfile, type ProfileSummary } from './lib/cpu-profile.js';
import { ClientFleet } from './lib/fanout-clients.js';
import { formatBroadcasts, formatComparison, formatCpu, formatVerdicts, judge, ratios } from './lib/fanout-report.js';
import { FanoutRun, type FanoutSettings, type TargetFigures } from './lib/fanout-run.js';
import { BASELINE_NAMES, baselineTarget, hubTarget, mintTokens, type FanoutTarget, type MintedTokens } from './lib/fanout-targets.js';
import { ensureFds, planFds, type FdPlan } from './lib/fd-limit.js';
import { describeStop, freePort, startHub } from './lib/hub-process.js';
import { inspectFlag } from './lib/remote-gc.js';
import { formatNumber } from './lib/table.js';
import { startBaselineServer, type BaselineKind } from './lib/baseline-server.js';

/**
 * `npm run bench:fanout`: N raw WebSocket clients speaking Socket.IO subscribe to one stream on a
 * real hub; the benchmark measures the hub's memory per connection, how fast one broadcast reaches
 * all of them, and deliveries per second under a steady publishing rate, against two baselines
 * driven the same way in the same run: a bare `ws` broadcast server (the least any server can
 * do) and vanilla Socket.IO (the floor of the library the hub is built on).
 */

const options = {
  connections: { type: 'number', default: 10_000, min: 1, max: 100_000, help: 'subscribers' },
  'sustain-seconds': { type: 'number', arg: '<s>', default: 30, min: 1, max: 600, help: 'sustained phase' },
  rate: {
    type: 'number',
    default: 10,
    min: 1,
    max: 1_000,
    help: 'broadcasts per second offered in the sustained phase; the publisher holds back while\nmore than max(2, rate/2) broadcasts are still being delivered',
  },
  repeats: { type: 'number', default: 5, min: 1, max: 50, help: 'measured single broadcasts, after one warm-up' },
  users: { type: 'number', min: 1, max: 10_000, help: 'access tokens minted, shared round-robin by the connections (default min(200, connections))' },
  'client-processes': { type: 'number', default: os.availableParallelism(), min: 1, max: 64, help: 'processes the clients are spread over (default: available cores)' },
  'connect-concurrency': { type: 'number', default: 200, min: 1, max: 5_000, help: 'connections opened at once' },
  'skip-baseline': { type: 'boolean', help: 'measure the hub only (no bare ws, no bare socket.io)' },
  'no-forced-gc': { type: 'boolean', help: 'sample memory without forcing a full GC first (servers start without --inspect)' },
  'cpu-prof': { type: 'boolean', help: 'profile the hub and the baseline server; print where their CPU goes in the sustained phase' },
  out: outOption('fanout.json, fanout-cpu-prof.json with --cpu-prof'),
} as const satisfies Record<string, OptionSpec>;

const usage = usageText('npm run bench:fanout', options);

interface Settings extends FanoutSettings {
  users: number;
  clientProcesses: number;
  skipBaseline: boolean;
  forcedGc: boolean;
  cpuProfile: boolean;
  out: string;
}

function parseSettings(): Settings {
  const { repeats, users, skipBaseline, noForcedGc, cpuProf: cpuProfile, out, ...flags } = parseOptions(options, usage);
  return {
    ...flags,
    latencyRepeats: repeats,
    users: users ?? Math.min(200, flags.connections),
    connectTimeoutMs: 30_000,
    memorySamples: 5,
    settleMs: 3_000,
    skipBaseline,
    forcedGc: !noForcedGc,
    cpuProfile,
    out: out ?? resultsPath(cpuProfile ? 'fanout-cpu-prof.json' : 'fanout.json'),
  };
}

const guard = new RunGuard(progress);

interface Context {
  settings: Settings;
  fds: FdPlan;
  signal: AbortSignal;
}

interface ServerRun {
  figures: TargetFigures;
  profile?: ProfileSummary;
}

/** Node flags for a server: a CPU profile and an inspector for forced GCs, as asked. */
async function serverNodeArgs({ settings }: Context): Promise<{ nodeArgs: string[]; inspectPort?: number }> {
  if (settings.cpuProfile) await mkdir(profileDir, { recursive: true });
  const inspectPort = settings.forcedGc ? await freePort() : undefined;
  const nodeArgs = [...(settings.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...(inspectPort ? [inspectFlag(inspectPort)] : [])];
  return { nodeArgs, ...(inspectPort ? { inspectPort } : {}) };
}

/** The server's profile over the sustained phase, once it has exited and written it. */
async function sustainedProfile({ settings }: Context, pid: number, figures: TargetFigures): Promise<ServerRun> {
  if (!settings.cpuProfile) return { figures };
  const file = (await findProfiles(profileDir, pid)).at(-1);
  if (file) return { figures, profile: await summarizeCpuProfile(file, { window: figures.sustained.window, root: repoRoot }) };
  console.log(`No CPU profile from pid ${pid} in ${profileDir}: did it exit cleanly?`);
  return { figures };
}

/** One target, with a fleet of its own that is closed afterwards whatever happens. */
async function measureTarget(target: FanoutTarget, { settings, fds, signal }: Context): Promise<TargetFigures> {
  const fleet = await ClientFleet.start({ processes: settings.clientProcesses });
  const forget = guard.lastResort(() => fleet.kill());
  try {
    for (const pid of fleet.pids) await ensureFds(pid, fds.perClientProcess, 'a client process');
    const others = [
      { name: `client fleet (${settings.clientProcesses} node processes)`, pids: () => Promise.resolve(fleet.pids) },
      { name: 'benchmark (publisher, this process)', pids: () => Promise.resolve([process.pid]) },
    ];
    return await new FanoutRun(target, fleet, settings, signal, progress, others).measure();
  } finally {
    progress(`${target.name}: closing ${settings.connections} client connections`);
    await fleet.close();
    forget();
  }
}

async function runBaseline(kind: BaselineKind, context: Context): Promise<ServerRun> {
  const { nodeArgs, inspectPort } = await serverNodeArgs(context);
  const server = await startBaselineServer(kind, { signal: context.signal, nodeArgs });
  const forget = guard.lastResort(() => signalProcess(server.pid, 'SIGKILL'));
  const name = `${BASELINE_NAMES[kind]} server`;
  let figures: TargetFigures;
  try {
    progress(`${name} at ${server.url} (pid ${server.pid})`);
    await ensureFds(server.pid, context.fds.perServer, `the ${name}`);
    figures = await measureTarget(baselineTarget(server, inspectPort), context);
  } finally {
    await server.stop();
    forget();
  }
  return sustainedProfile(context, server.pid, figures);
}

interface HubRun extends ServerRun {
  tokens: Omit<MintedTokens, 'tokens'> & { users: number; minted: number };
  problems: number;
}

async function runHub(context: Context, hubEnv: Record<string, string>): Promise<HubRun> {
  progress('starting a zero-config hub (role hub; local Postgres and Redis)');
  const { nodeArgs, inspectPort } = await serverNodeArgs(context);
  const hub = await startHub({ role: 'hub', env: hubEnv, nodeArgs, signal: context.signal });
  // SIGTERM is enough: the hub drains and stops its own Postgres and Redis even after we are gone.
  const forget = guard.lastResort(() => signalProcess(hub.pid, 'SIGTERM'));
  let figures: TargetFigures;
  let minted: MintedTokens;
  try {
    progress(`hub at ${hub.url} (pid ${hub.pid}, tenant ${hub.tenantId})`);
    await ensureFds(hub.pid, context.fds.perServer, 'the hub');
    minted = await mintTokens(hub, context.settings.users);
    progress(`minted ${minted.tokens.length} of ${context.settings.users} access tokens in ${(minted.elapsedMs / 1000).toFixed(1)} s (expire in ${minted.expiresInSeconds} s)`);
    if (minted.tokens.length === 0) throw new Error(`no access token could be minted: ${JSON.stringify(minted.refusals)}`);
    figures = await measureTarget(hubTarget(hub, minted.tokens, inspectPort), context);
  } finally {
    progress('stopping the hub (SIGTERM)');
    const stop = await hub.stop();
    forget();
    progress(describeStop(stop));
  }
  const { tokens, ...mintFigures } = minted;
  return {
    ...(await sustainedProfile(context, hub.pid, figures)),
    tokens: { ...mintFigures, users: context.settings.users, minted: tokens.length },
    problems: hub.problems.length,
  };
}

async function main(): Promise<number> {
  const settings = parseSettings();
  const fds = await planFds(settings.connections, settings.clientProcesses);
  if ('error' in fds) throw new UsageError(fds.error);
  // Per target: start-up, connecting (generously, ~50 connections/s), memory samples, single
  // broadcasts, the sustained phase and its drain, closing. Past the budget everything is stopped.
  const perTargetSeconds = 180 + settings.connections / 50 + 2 * settings.memorySamples + 25 * (settings.latencyRepeats + 1) + settings.sustainSeconds + 60;
  const budgetSeconds = Math.ceil((settings.skipBaseline ? 1 : 3) * perTargetSeconds);
  guard.arm(budgetSeconds);
  const context: Context = { settings, fds, signal: guard.signal };

  const defaults = parseConfig({});
  // Minting is one request per user against the tenant's budget; tokens must outlive the run.
  const raised = { RATE_LIMIT_TENANT_PER_SECOND: 1_000_000, ACCESS_TOKEN_TTL_SECONDS: Math.max(defaults.ACCESS_TOKEN_TTL_SECONDS, budgetSeconds + 300) } as const;
  const hubEnv = Object.fromEntries(Object.entries(raised).map(([name, value]) => [name, String(value)]));

  printHeading(
    'fan-out',
    `${formatNumber(settings.connections)} connections over ${settings.clientProcesses} client processes, ${settings.users} users, ` +
      `${settings.latencyRepeats} measured broadcasts, ${settings.sustainSeconds} s at ${settings.rate} broadcasts/s; budget ${budgetSeconds} s`,
  );
  console.log(
    `Hub settings raised for this run: RATE_LIMIT_TENANT_PER_SECOND=${formatNumber(raised.RATE_LIMIT_TENANT_PER_SECOND)} (default ${formatNumber(defaults.RATE_LIMIT_TENANT_PER_SECOND)}) for minting, ` +
      `ACCESS_TOKEN_TTL_SECONDS=${raised.ACCESS_TOKEN_TTL_SECONDS} (default ${defaults.ACCESS_TOKEN_TTL_SECONDS}) so no token expires within the budget; role hub, log level warn.`,
  );
  console.log(fds.note);
  console.log(
    settings.forcedGc
      ? 'Memory: servers run with --inspect on loopback; each sample follows a full GC forced through it (HeapProfiler.collectGarbage).'
      : 'Memory: samples without a forced GC (--no-forced-gc).',
  );
  if (settings.cpuProfile) console.log('CPU profiling is on in both servers: expect lower figures than an unprofiled run.');

  const wsRun = settings.skipBaseline ? undefined : await runBaseline('ws', context);
  const socketIoRun = settings.skipBaseline ? undefined : await runBaseline('socket.io', context);
  const hubRun = await runHub(context, hubEnv);
  const hub = hubRun.figures;
  const baselines = [wsRun, socketIoRun].flatMap((run) => (run ? [run.figures] : []));
  const all = [hub, ...baselines];
  const verdicts = judge(hub);

  console.log(`\n${formatComparison(hub, baselines)}`);
  console.log(`\n${formatBroadcasts(all)}`);
  console.log(`\nTargets (hub):\n${formatVerdicts(verdicts)}`);
  if (hubRun.tokens.minted < settings.users) console.log(`Only ${hubRun.tokens.minted} of ${settings.users} tokens were minted: ${JSON.stringify(hubRun.tokens.refusals)}`);
  if (hubRun.problems > 0) console.log(`The hub logged ${hubRun.problems} warnings/errors.`);
  for (const figures of all) {
    const cpu = formatCpu(figures);
    if (cpu) console.log(`\n${cpu}`);
  }
  if (hubRun.profile) console.log(`\n${formatProfileSummary(hubRun.profile, { root: repoRoot })}`);
  for (const [kind, run] of [['ws', wsRun], ['socket.io', socketIoRun]] as const) {
    if (run?.profile) console.log(`\n${formatProfileSummary(run.profile, { root: repoRoot, process: `${BASELINE_NAMES[kind]} server`, topFunctions: 8, topPackages: 6 })}`);
  }

  await writeReport('fanout', {
    settings: {
      ...settings,
      out: undefined,
      fdLimit: { soft: fds.soft, hard: fds.hard },
      hub: { mode: 'zero-config', role: 'hub', logLevel: 'warn', raised },
      clients: 'raw ws (perMessageDeflate off, skipUTF8Validation), Engine.IO v4 / Socket.IO v5 framing by hand',
      baselines: {
        ws: 'ws WebSocketServer (perMessageDeflate off), JSON serialized once per broadcast, send() per client',
        socketIo: 'vanilla Socket.IO (perMessageDeflate off, in-memory adapter, no recovery, no auth), subscribe joins a room, io.to(room).emit',
      },
    },
    targets: { hub, ws: wsRun?.figures ?? null, socketIo: socketIoRun?.figures ?? null },
    ratios: {
      hubToWs: wsRun ? ratios(hub, wsRun.figures) : null,
      hubToSocketIo: socketIoRun ? ratios(hub, socketIoRun.figures) : null,
    },
    verdicts,
    tokens: hubRun.tokens,
    hubProblems: hubRun.problems,
    ...(settings.cpuProfile ? { profiles: { hub: profileJson(hubRun.profile, repoRoot), ws: profileJson(wsRun?.profile, repoRoot), socketIo: profileJson(socketIoRun?.profile, repoRoot) } } : {}),
  }, settings.out);
  return 0;
}

await runBenchmark('bench:fanout', usage, guard, main);
