import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../src/platform/config.js';
import { describeMachine, machine, parseFlags, RunGuard, runBenchmark, signalProcess, UsageError, writeResults } from './lib/bench-run.js';
import { repoRoot } from './lib/child-process.js';
import { findProfiles, formatProfileSummary, summarizeCpuProfile, type ProfileSummary } from './lib/cpu-profile.js';
import { ClientFleet } from './lib/fanout-clients.js';
import { formatBroadcasts, formatComparison, formatCpu, formatVerdicts, judge, ratios } from './lib/fanout-report.js';
import { FanoutRun, type FanoutSettings, type TargetFigures } from './lib/fanout-run.js';
import { BASELINE_NAMES, baselineTarget, hubTarget, mintTokens, type FanoutTarget, type MintedTokens } from './lib/fanout-targets.js';
import { ensureFds, planFds, type FdPlan } from './lib/fd-limit.js';
import { freePort, startHub } from './lib/hub-process.js';
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

const usage = `Usage: npm run bench:fanout -- [options]

  --connections <n>          subscribers (default 10000)
  --sustain-seconds <s>      sustained phase (default 30)
  --rate <n>                 broadcasts per second offered in the sustained phase (default 10); the publisher
                             holds back while more than max(2, rate/2) broadcasts are still being delivered
  --repeats <n>              measured single broadcasts, after one warm-up (default 5)
  --users <n>                access tokens minted, shared round-robin by the connections (default 200)
  --client-processes <n>     processes the clients are spread over (default: available cores, ${os.availableParallelism()})
  --connect-concurrency <n>  connections opened at once (default 200)
  --skip-baseline            measure the hub only (no bare ws, no bare socket.io)
  --no-forced-gc             sample memory without forcing a full GC first (servers start without --inspect)
  --cpu-prof                 profile the hub and the baseline server; print where their CPU goes in the sustained phase
  --out <file>               results JSON (default load/results/fanout.json, fanout-cpu-prof.json with --cpu-prof)
  -h, --help`;

interface Settings extends FanoutSettings {
  users: number;
  clientProcesses: number;
  skipBaseline: boolean;
  forcedGc: boolean;
  cpuProfile: boolean;
  out: string;
}

function parseSettings(): Settings {
  const flags = parseFlags(
    {
      connections: { type: 'string' },
      'sustain-seconds': { type: 'string' },
      rate: { type: 'string' },
      repeats: { type: 'string' },
      users: { type: 'string' },
      'client-processes': { type: 'string' },
      'connect-concurrency': { type: 'string' },
      'skip-baseline': { type: 'boolean' },
      'no-forced-gc': { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      out: { type: 'string' },
    },
    usage,
  );
  const whole = (flag: string, raw: string | undefined, fallback: number, min: number, max: number) => {
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${flag} must be a whole number from ${min} to ${max} (got "${raw}")`);
    return value;
  };
  const connections = whole('connections', flags.connections, 10_000, 1, 100_000);
  const cpuProfile = flags['cpu-prof'] ?? false;
  return {
    connections,
    sustainSeconds: whole('sustain-seconds', flags['sustain-seconds'], 30, 1, 600),
    rate: whole('rate', flags.rate, 10, 1, 1_000),
    latencyRepeats: whole('repeats', flags.repeats, 5, 1, 50),
    users: whole('users', flags.users, Math.min(200, connections), 1, 10_000),
    clientProcesses: whole('client-processes', flags['client-processes'], os.availableParallelism(), 1, 64),
    connectConcurrency: whole('connect-concurrency', flags['connect-concurrency'], 200, 1, 5_000),
    connectTimeoutMs: 30_000,
    memorySamples: 5,
    settleMs: 3_000,
    skipBaseline: flags['skip-baseline'] ?? false,
    forcedGc: !(flags['no-forced-gc'] ?? false),
    cpuProfile,
    out: path.resolve(flags.out ?? path.join(repoRoot, 'load', 'results', cpuProfile ? 'fanout-cpu-prof.json' : 'fanout.json')),
  };
}

const progress = (message: string) => console.error(`[bench] ${message}`);
const guard = new RunGuard(progress);
const profileDir = path.join(repoRoot, 'load', 'results', 'profiles');

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
    progress(`hub exited with ${stop.signal ?? `code ${stop.code}`}${stop.killed ? ' after SIGKILL' : ''}${stop.orphansStopped ? `; stopped ${stop.orphansStopped} orphaned servers` : ''}`);
  }
  const { tokens, ...mintFigures } = minted;
  return {
    ...(await sustainedProfile(context, hub.pid, figures)),
    tokens: { ...mintFigures, users: context.settings.users, minted: tokens.length },
    problems: hub.problems.length,
  };
}

function profileJson(profile: ProfileSummary | undefined) {
  if (!profile) return null;
  const { file, windowApplied, busyMs, idleMs, functions, packages, chargedTo } = profile;
  return { file: path.relative(repoRoot, file), windowApplied, busyMs, idleMs, functions: functions.slice(0, 30), packages, chargedTo };
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

  console.log(`Pulse Hub fan-out benchmark — ${new Date().toISOString()}`);
  console.log(
    `${describeMachine()}; ${formatNumber(settings.connections)} connections over ${settings.clientProcesses} client processes, ${settings.users} users, ` +
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

  const shown = await writeResults(settings.out, {
    benchmark: 'fanout',
    date: new Date().toISOString(),
    node: process.version,
    os: machine(),
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
    ...(settings.cpuProfile ? { profiles: { hub: profileJson(hubRun.profile), ws: profileJson(wsRun?.profile), socketIo: profileJson(socketIoRun?.profile) } } : {}),
  });
  console.log(`\nResults written to ${shown}`);
  return 0;
}

await runBenchmark('bench:fanout', usage, guard, main);
