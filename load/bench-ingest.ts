import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import postgres from 'postgres';
import type { IngestResponse } from '../src/contracts/api/events.js';
import { parseConfig } from '../src/platform/config.js';
import { outOption, parseOptions, printHeading, profileDir, progress, resultsPath, RunGuard, runBenchmark, signalProcess, usageText, writeReport, type OptionSpec } from './lib/bench-run.js';
import { startBareServer } from './lib/bare-server.js';
import { formatLoadTable, runCannon, summarizeLoad, type CannonRequest, type LoadSummary } from './lib/cannon.js';
import { repoRoot, sleep } from './lib/child-process.js';
import { findProfiles, formatProfileSummary, profileJson, monotonicMicros, summarizeCpuProfile, type ProfileSummary, type ProfileWindow } from './lib/cpu-profile.js';
import { describeStop, startHub, type HubProcess } from './lib/hub-process.js';
import { formatPoisonReport, runPoisonScenario, type PoisonResults } from './lib/ingest-poison.js';
import { fetchMetrics } from './lib/prom-metrics.js';
import { formatCpuUsage, measureCpu, procAvailable, withChildren, type CpuUsage, type ProcessGroup } from './lib/proc-cpu.js';
import { formatNumber, verdict } from './lib/table.js';

/**
 * `npm run bench:ingest`: POST /api/v1/events (one authenticated event per request, each with its
 * own idempotency key) against a bare node:http server driven the same way in the same run.
 * The ratio of the two is the figure to watch; absolute numbers move with the machine.
 */

const options = {
  duration: { type: 'number', arg: '<s>', env: 'BENCH_DURATION', default: 10, min: 1, max: 600, whole: false, help: 'measured seconds per target' },
  warmup: { type: 'number', arg: '<s>', env: 'BENCH_WARMUP', default: 3, min: 0, max: 120, whole: false, help: 'warm-up seconds per target, not measured' },
  connections: { type: 'number', env: 'BENCH_CONNECTIONS', default: 100, min: 1, max: 10_000, help: 'concurrent connections' },
  'database-url': { type: 'string', arg: '<url>', env: 'BENCH_DATABASE_URL', help: 'use this Postgres instead of a zero-config one' },
  'redis-url': {
    type: 'string',
    arg: '<url>',
    env: 'BENCH_REDIS_URL',
    help: 'use this Redis instead of a zero-config one\n(with URLs, a "bench" tenant is created and its events stay; Redis keys use a bench-* prefix)',
  },
  role: {
    type: 'string',
    arg: '<split|all|hub>',
    env: 'BENCH_HUB_ROLE',
    default: 'split',
    choices: ['split', 'all', 'hub'],
    help: '`split`: a hub process and a worker process (outbox relay, engine), the production shape;\n`all`: both roles in one process; `hub`: no worker at all',
  },
  'poison-rps': {
    type: 'number',
    env: 'BENCH_POISON_RPS',
    default: 55,
    min: 0,
    max: 10_000,
    help: 'then the poisoning-tenant scenario: tenant B alone, then B while tenant A sends n bad\nrequests/s, alternating, ending alone; --duration each (0 skips it)',
  },
  'poison-rounds': { type: 'number', env: 'BENCH_POISON_ROUNDS', default: 3, min: 1, max: 20, help: 'poisoned phases in that scenario' },
  'cpu-prof': { type: 'boolean', env: 'BENCH_CPU_PROF', help: 'profile the hub and print where its CPU time goes' },
  out: outOption('ingest.json, ingest-cpu-prof.json with --cpu-prof'),
} as const satisfies Record<string, OptionSpec>;

const usage = usageText('npm run bench:ingest', options);

const GOALS = { ratio: 0.3, hubP99Ms: 25 } as const;
const INGEST_PATH = '/api/v1/events';
const USERS = 100;

/** Raised so the benchmark measures the ingest path, not the limiter refusing it; printed with the results. */
const RAISED_LIMITS = { RATE_LIMIT_TENANT_PER_SECOND: 10_000_000 } as const;
const RATE_LIMIT_VARS = [
  'RATE_LIMIT_TENANT_PER_SECOND',
  'RATE_LIMIT_USER_PER_SECOND',
  'RATE_LIMIT_USER_BURST',
  'RATE_LIMIT_AUTH_FAILURES_PER_MINUTE',
] as const;

interface Settings {
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  databaseUrl?: string;
  redisUrl?: string;
  role: 'split' | 'all' | 'hub';
  poisonRps: number;
  poisonRounds: number;
  cpuProfile: boolean;
  out: string;
}

function parseSettings(): Settings {
  const { duration, warmup, cpuProf: cpuProfile, out, ...flags } = parseOptions(options, usage);
  return { ...flags, durationSeconds: duration, warmupSeconds: warmup, cpuProfile, out: out ?? resultsPath(cpuProfile ? 'ingest-cpu-prof.json' : 'ingest.json') };
}

/**
 * The request stream for one target: every request a new event with a key never used before,
 * so the hub does a real insert each time rather than answering from the idempotency index.
 * It also keeps what the end-of-run check needs: keys sent, keys acknowledged with 202.
 */
class EventStream {
  sent = 0;
  answered = 0;
  readonly acknowledged = new Set<string>();
  /** 202s whose event came back flagged as a duplicate: impossible with unique keys, so counted. */
  duplicates = 0;
  readonly otherAnswers: { status: number; body: string }[] = [];
  private readonly runId = `bench-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

  constructor(private readonly apiKey: string) {}

  requests(): CannonRequest[] {
    return [
      {
        method: 'POST',
        path: INGEST_PATH,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.apiKey}` },
        setupRequest: (request) => ({ ...request, body: this.nextBody() }),
        onResponse: (status, body) => this.record(status, body),
      },
    ];
  }

  private nextBody(): string {
    const seq = this.sent++;
    return JSON.stringify({
      type: 'bench.ingest',
      userId: `bench-user-${seq % USERS}`,
      value: seq,
      data: { seq },
      idempotencyKey: `${this.runId}-${seq}`,
    });
  }

  private record(status: number, body: string): void {
    this.answered += 1;
    if (status !== 202) {
      if (this.otherAnswers.length < 3) this.otherAnswers.push({ status, body: body.slice(0, 300) });
      return;
    }
    // This runs inside autocannon's socket handler, where a throw would take the whole benchmark down.
    let response: IngestResponse;
    try {
      response = JSON.parse(body) as IngestResponse;
    } catch {
      if (this.otherAnswers.length < 3) this.otherAnswers.push({ status, body: body.slice(0, 300) });
      return;
    }
    for (const event of response.accepted) {
      if (event.duplicate) this.duplicates += 1;
      if (event.idempotencyKey) this.acknowledged.add(event.idempotencyKey);
    }
  }
}

interface StoredCheck {
  stored: number;
  storedWith202: number;
  responses202: number;
  sentWithoutAnswer: number;
  duplicates: number;
  pass: boolean;
}

/**
 * Every 202 must be in Postgres. Requests still in flight when autocannon closes its connections
 * get no answer, yet the hub commits them: they may add rows, never more than were unanswered.
 */
async function checkStored(hub: HubProcess, stream: EventStream, signal: AbortSignal): Promise<StoredCheck> {
  const sql = postgres(hub.databaseUrl, { max: 1, connect_timeout: 10, onnotice: () => undefined });
  try {
    const count = async () => (await sql<{ n: number }[]>`select count(*)::int as n from events where tenant_id = ${hub.tenantId}`)[0]?.n ?? 0;
    // Aborted requests finish inside the hub after the load stops; wait until the count settles.
    let stored = await count();
    for (let settled = 0, waited = 0; settled < 2 && waited < 15_000; waited += 250) {
      await sleep(250, signal);
      const next = await count();
      settled = next === stored ? settled + 1 : 0;
      stored = next;
    }
    const keys = [...stream.acknowledged];
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from events
      where tenant_id = ${hub.tenantId} and idempotency_key = any(${sql.array(keys, 25)}::text[])`;
    const storedWith202 = row?.n ?? 0;
    const sentWithoutAnswer = stream.sent - stream.answered;
    return {
      stored,
      storedWith202,
      responses202: keys.length,
      sentWithoutAnswer,
      duplicates: stream.duplicates,
      pass: storedWith202 === keys.length && stream.duplicates === 0 && stored - storedWith202 <= sentWithoutAnswer,
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

interface PostgresActivity {
  /** Committed transactions in the database: the hub's group commits, plus the outbox relay's and probes'. */
  commits: number;
  /** WAL flushes to disk (pg_stat_wal.wal_sync): what a durable commit waits for. */
  walSyncs: number;
  walBytes: number;
}

/** Database-wide counters around the measured run, read on their own connection. */
async function watchPostgres(databaseUrl: string, onDone: (activity: PostgresActivity) => void): Promise<() => Promise<void>> {
  const sql = postgres(databaseUrl, { max: 1, connect_timeout: 10, onnotice: () => undefined });
  const read = async () => {
    // Statistics are cached per transaction; a fresh snapshot each time.
    await sql`select pg_stat_clear_snapshot()`;
    const [row] = await sql<{ commits: string; wal_sync: string; wal_bytes: string }[]>`
      select (select xact_commit from pg_stat_database where datname = current_database()) as commits,
             wal_sync, wal_bytes from pg_stat_wal`;
    return { commits: Number(row?.commits ?? 0), walSyncs: Number(row?.wal_sync ?? 0), walBytes: Number(row?.wal_bytes ?? 0) };
  };
  try {
    const before = await read();
    return async () => {
      try {
        const after = await read();
        onDone({ commits: after.commits - before.commits, walSyncs: after.walSyncs - before.walSyncs, walBytes: after.walBytes - before.walBytes });
      } finally {
        await sql.end({ timeout: 5 });
      }
    };
  } catch (error) {
    await sql.end({ timeout: 5 });
    throw error;
  }
}

interface EventLoopLag {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** prom-client's default `eventLoopMonitoringPrecision`, which the hub does not change. */
const PROM_EVENT_LOOP_RESOLUTION_MS = 10;

/**
 * The hub's event-loop delay over the measured run, from prom-client's default metrics, whose
 * histogram restarts at every scrape: one scrape just before, one just after.
 */
async function watchEventLoop(hubUrl: string, onDone: (lag: EventLoopLag) => void): Promise<() => Promise<void>> {
  await fetchMetrics(`${hubUrl}/metrics`);
  return async () => {
    const metrics = await fetchMetrics(`${hubUrl}/metrics`);
    // Node's histogram records whole timer intervals, so an idle loop reads ~10 ms: keep only the delay beyond it.
    const ms = (name: string) => Math.max((metrics.get(name) ?? Number.NaN) * 1000 - PROM_EVENT_LOOP_RESOLUTION_MS, 0);
    onDone({ p50Ms: ms('nodejs_eventloop_lag_p50_seconds'), p99Ms: ms('nodejs_eventloop_lag_p99_seconds'), maxMs: ms('nodejs_eventloop_lag_max_seconds') });
  };
}

interface Driven {
  summary: LoadSummary;
  /** The measured run on the clock CPU profiles use. */
  window: ProfileWindow;
  cpu?: CpuUsage;
}

/**
 * Warm-up, then the measured run, with the CPU each process group used during the latter when
 * /proc allows; `around` starts any other meter just before the measured run and ends it just after.
 */
async function drive(
  label: string,
  url: string,
  stream: EventStream,
  settings: Settings,
  groups: ProcessGroup[],
  signal: AbortSignal,
  around?: () => Promise<() => Promise<void>>,
): Promise<Driven> {
  const common = { url: `${url}${INGEST_PATH}`, connections: settings.connections, requests: stream.requests() };
  if (settings.warmupSeconds > 0) {
    progress(`${label}: warm-up ${settings.warmupSeconds} s`);
    await runCannon({ ...common, duration: settings.warmupSeconds }, signal);
  }
  progress(`${label}: measuring ${settings.durationSeconds} s with ${settings.connections} connections`);
  const stopMeter = (await procAvailable()) ? await measureCpu(groups) : undefined;
  const stopAround = await around?.();
  const startUs = monotonicMicros();
  const result = await runCannon({ ...common, duration: settings.durationSeconds }, signal);
  const endUs = monotonicMicros();
  await stopAround?.();
  const cpu = await stopMeter?.();
  signal.throwIfAborted();
  return { summary: summarizeLoad(result), window: { startUs, endUs }, ...(cpu ? { cpu } : {}) };
}

const LOAD_GENERATOR: ProcessGroup = { name: 'load generator (autocannon, this process)', pids: () => Promise.resolve([process.pid]) };

const guard = new RunGuard(progress);

async function main(): Promise<number> {
  const settings = parseSettings();
  const defaults = parseConfig({});
  const rateLimits = Object.fromEntries(
    RATE_LIMIT_VARS.map((name) => {
      const raised = (RAISED_LIMITS as Partial<Record<string, number>>)[name];
      return [name, { value: raised ?? defaults[name], default: defaults[name], raised: raised !== undefined }];
    }),
  );
  const hubEnv = Object.fromEntries(Object.entries(RAISED_LIMITS).map(([name, value]) => [name, String(value)]));

  // Everything below is bounded: start-up, two loads, the check and shutdown. Past the budget the
  // run is aborted (which stops the hub cleanly); if even that hangs, the process exits anyway.
  const budgetSeconds = 2 * (settings.warmupSeconds + settings.durationSeconds) + (settings.poisonRps > 0 ? (2 * settings.poisonRounds + 1) * settings.durationSeconds + 60 : 0) + 240;
  guard.arm(budgetSeconds);
  const { signal } = guard;

  printHeading(
    'ingest',
    `${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured per target, hub role ${settings.role}`,
  );
  if (settings.role === 'hub') {
    console.log('Role hub: no worker runs, so the outbox relay is not measured and accepted events stay in the outbox.');
  }
  console.log(
    `Rate limits raised for this run: ${Object.entries(RAISED_LIMITS)
      .map(([name, value]) => `${name}=${formatNumber(value)} (default ${formatNumber(defaults[name as keyof typeof RAISED_LIMITS])})`)
      .join(', ')}; the other limits keep their defaults.`,
  );
  if (settings.cpuProfile) console.log('CPU profiling is on in the hub: expect lower hub figures than an unprofiled run.');

  // The bare baseline runs first and alone, so neither target's idle process competes with the other's load.
  // A dummy key of the real shape, so both targets receive byte-for-byte the same kind of request.
  const bareStream = new EventStream(`phk_${'0'.repeat(32)}_${'x'.repeat(43)}`);
  const bare = await startBareServer({ signal });
  let bareRun: Driven;
  try {
    progress(`bare node:http server at ${bare.url} (pid ${bare.pid})`);
    const groups = [{ name: 'bare node:http server', pids: () => Promise.resolve([bare.pid]) }, LOAD_GENERATOR];
    bareRun = await drive('bare', bare.url, bareStream, settings, groups, signal);
  } finally {
    await bare.stop();
  }

  if (settings.cpuProfile) await mkdir(profileDir, { recursive: true });
  progress(settings.databaseUrl || settings.redisUrl ? 'starting the hub on the given servers' : 'starting a zero-config hub (local Postgres and Redis)');
  const hub = await startHub({
    databaseUrl: settings.databaseUrl,
    redisUrl: settings.redisUrl,
    role: settings.role === 'split' ? 'hub' : settings.role,
    separateWorker: settings.role === 'split',
    env: hubEnv,
    nodeArgs: settings.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    signal,
  });
  let hubRun: Driven;
  let stored: StoredCheck;
  const hubStream = new EventStream(hub.apiKey);
  let profile: ProfileSummary | undefined;
  let postgresActivity: PostgresActivity | undefined;
  let eventLoopLag: EventLoopLag | undefined;
  let poison: PoisonResults | undefined;
  // SIGTERM alone is enough: the hub drains and stops its own Postgres and Redis even after we are gone.
  const forget = guard.lastResort(() => signalProcess(hub.pid, 'SIGTERM'));
  try {
    progress(`hub at ${hub.url} (pid ${hub.pid}, ${hub.mode}, tenant ${hub.tenantId})`);
    const servers = await hub.localServerPids();
    const groups: ProcessGroup[] = [
      { name: `hub (node, role ${settings.role === 'split' ? 'hub' : settings.role})`, pids: () => Promise.resolve([hub.pid]) },
      ...(hub.workerPid ? [{ name: 'worker (node, role worker)', pids: () => Promise.resolve([hub.workerPid as number]) }] : []),
      ...(servers.postgres ? [{ name: 'postgres (postmaster + backends)', pids: () => withChildren(servers.postgres) }] : []),
      ...(servers.redis ? [{ name: 'redis-server', pids: () => Promise.resolve([servers.redis as number]) }] : []),
      LOAD_GENERATOR,
    ];
    hubRun = await drive('hub', hub.url, hubStream, settings, groups, signal, async () => {
      const stops = [
        await watchPostgres(hub.databaseUrl, (activity) => (postgresActivity = activity)),
        await watchEventLoop(hub.url, (lag) => (eventLoopLag = lag)),
      ];
      return async () => void (await Promise.all(stops.map((stop) => stop())));
    });
    if (settings.poisonRps > 0) {
      // Tenant B is the same stream, so the check below also holds every 202 given under poisoning.
      poison = await runPoisonScenario(
        hub,
        hubStream.requests(),
        { rps: settings.poisonRps, rounds: settings.poisonRounds, durationSeconds: settings.durationSeconds, connections: settings.connections },
        signal,
        progress,
      );
    }
    progress('checking Postgres against the 202 responses');
    stored = await checkStored(hub, hubStream, signal);
  } finally {
    progress('stopping the hub (SIGTERM)');
    const stop = await hub.stop();
    forget();
    progress(describeStop(stop));
  }
  if (settings.cpuProfile) {
    const files = await findProfiles(profileDir, hub.pid);
    const file = files.at(-1);
    if (file) profile = await summarizeCpuProfile(file, { window: hubRun.window, root: repoRoot });
    else console.log(`No CPU profile from pid ${hub.pid} in ${profileDir}: did the hub exit cleanly?`);
  }

  const bareSummary = bareRun.summary;
  const hubSummary = hubRun.summary;
  const ratio = bareSummary.requestsPerSecond.average > 0 ? hubSummary.requestsPerSecond.average / bareSummary.requestsPerSecond.average : 0;
  const ratioPass = ratio >= GOALS.ratio;
  const p99Pass = hubSummary.latencyMs.p99 <= GOALS.hubP99Ms;

  console.log('');
  console.log(
    formatLoadTable('target', [
      ['bare node:http', bareSummary],
      [`hub ${INGEST_PATH}`, hubSummary],
    ]),
  );
  console.log('');
  console.log(`ratio hub/bare req/s: ${ratio.toFixed(3)}  (target ≥ ${GOALS.ratio.toFixed(2)}: ${verdict(ratioPass)})`);
  console.log(`hub p99 latency:      ${hubSummary.latencyMs.p99} ms  (target ≤ ${GOALS.hubP99Ms} ms: ${verdict(p99Pass)})`);
  console.log(`events stored: ${formatNumber(stored.storedWith202)} = 202 responses: ${formatNumber(stored.responses202)}  ${stored.pass ? 'PASS' : 'FAIL'}`);
  console.log(
    `  (rows whose key got a 202; all rows for the tenant: ${formatNumber(stored.stored)}, the other ${formatNumber(stored.stored - stored.storedWith202)} ` +
      `committed for the ${formatNumber(stored.sentWithoutAnswer)} requests still in flight when autocannon closed its connections; ` +
      `202s flagged duplicate: ${stored.duplicates})`,
  );
  console.log(`  (both count the warm-up${poison ? ' and the poisoning scenario' : ''} too: ${formatNumber(hubStream.sent)} hub requests sent in all)`);
  if (hubStream.otherAnswers.length > 0) {
    console.log('First non-202 answers from the hub:');
    for (const answer of hubStream.otherAnswers) console.log(`  ${answer.status} ${answer.body}`);
  }
  if (hub.problems.length > 0) {
    console.log(`The hub logged ${hub.problems.length} warnings/errors; first: ${hub.problems.slice(0, 3).map((line) => JSON.stringify(line)).join('\n  ')}`);
  }
  if (postgresActivity) {
    const { commits, walSyncs, walBytes } = postgresActivity;
    const perCommit = commits > 0 ? hubSummary.requests.completed / commits : 0;
    console.log(
      `\nPostgres during the hub run: ${formatNumber(commits)} commits (${formatNumber(commits / hubSummary.durationSeconds, 0)}/s, ` +
        `~${formatNumber(perCommit, 1)} answered requests per commit, relay and probe transactions included), ` +
        `${formatNumber(walSyncs)} WAL syncs, ${formatNumber(walBytes / 1024 / 1024, 1)} MiB of WAL`,
    );
  }
  if (eventLoopLag) {
    const { p50Ms, p99Ms, maxMs } = eventLoopLag;
    console.log(`Hub event-loop delay during the hub run: p50 ${p50Ms.toFixed(1)} ms, p99 ${p99Ms.toFixed(1)} ms, max ${maxMs.toFixed(1)} ms (beyond prom-client's 10 ms sampling interval)`);
  }
  if (bareRun.cpu && hubRun.cpu) {
    console.log(`\n${formatCpuUsage('CPU during the bare run', bareRun.cpu)}`);
    console.log(`\n${formatCpuUsage('CPU during the hub run', hubRun.cpu)}`);
  }
  if (profile) console.log(`\n${formatProfileSummary(profile, { root: repoRoot })}`);
  if (poison) console.log(`\n${formatPoisonReport(poison)}`);

  const results = {
    settings: {
      connections: settings.connections,
      warmupSeconds: settings.warmupSeconds,
      durationSeconds: settings.durationSeconds,
      pipelining: 1,
      request: `POST ${INGEST_PATH}, one event per request, unique idempotency key, ${USERS} users`,
      hub: { mode: hub.mode, role: settings.role, logLevel: 'warn', cpuProfile: settings.cpuProfile },
    },
    rateLimits,
    targets: { bare: { ...bareSummary, cpu: bareRun.cpu ?? null }, hub: { ...hubSummary, cpu: hubRun.cpu ?? null } },
    ratio,
    goals: {
      ratio: { target: GOALS.ratio, value: ratio, pass: ratioPass },
      hubP99Ms: { target: GOALS.hubP99Ms, value: hubSummary.latencyMs.p99, pass: p99Pass },
    },
    stored,
    postgres: postgresActivity ?? null,
    hubEventLoopLag: eventLoopLag ?? null,
    hubProblems: hub.problems.length,
    poison: poison ?? null,
    ...(profile ? { profile: profileJson(profile, repoRoot, hubRun.window) } : {}),
  };
  await writeReport('ingest', results, settings.out);
  return stored.pass ? 0 : 1;
}

await runBenchmark('bench:ingest', usage, guard, main);
