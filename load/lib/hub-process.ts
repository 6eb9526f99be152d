import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/platform/config.js';
import { cleanEnv, NodeChild, sleep, type ExitStatus } from './child-process.js';

/**
 * A real hub started as `node --import tsx src/roles/main.ts <role>` in its own process, so the load
 * generator and the hub never share an event loop. Zero-config by default: a throwaway DATA_DIR
 * where the hub runs its own Postgres and Redis and creates the demo tenant; or existing servers
 * by URL, with a tenant created through the tenant:create CLI.
 */

/** The role argument of `src/roles/main.ts`. */
export type ProcessRole = 'all' | 'hub' | 'worker';

/** What the hub writes to DATA_DIR/demo-credentials.json in zero-config mode (the part read here). */
interface DemoCredentials {
  tenantId: string;
  apiKey: string;
}

export interface StartHubOptions {
  role?: ProcessRole;
  /** Also run a `worker` process beside the hub (same servers), the production shape. */
  separateWorker?: boolean;
  /** Existing servers; whichever is missing, the hub starts locally under its temporary DATA_DIR. */
  databaseUrl?: string;
  redisUrl?: string;
  /** Configuration on top of the benchmark defaults (rate limits, pool sizes, ...). */
  env?: Record<string, string>;
  /** Flags for node itself, e.g. `--cpu-prof`; also for the separate worker. */
  nodeArgs?: string[];
  logLevel?: 'error' | 'warn' | 'info' | 'http' | 'debug';
  /** Name of the tenant created when a database URL is given (zero-config uses the demo tenant). */
  tenantName?: string;
  startTimeoutMs?: number;
  /** How long the hub may take to drain and stop its local servers after SIGTERM before it is killed. */
  stopTimeoutMs?: number;
  signal?: AbortSignal;
  /** Every JSON log line the hub writes (warnings and errors at the default level). */
  onLog?: (line: HubLogLine) => void;
}

export type HubLogLine = Record<string, unknown> & { level?: string; message?: string };

export interface HubProcess {
  url: string;
  pid: number;
  /** The separate worker process, when one was asked for. */
  workerPid?: number;
  mode: 'zero-config' | 'urls';
  dataDir: string;
  /** Where the hub's data lives; in zero-config mode its local server, reachable only while the hub runs. */
  databaseUrl: string;
  /** Where its Redis is; in zero-config mode the local server, reachable only while the hub runs. */
  redisUrl: string;
  /** Key prefix of its queues and keys in that Redis. */
  redisPrefix: string;
  tenantId: string;
  apiKey: string;
  /** Warnings and errors the hub logged so far. */
  readonly problems: readonly HubLogLine[];
  /** Pids of the Postgres postmaster and redis-server the hub started itself (zero-config); none for servers given by URL. */
  localServerPids(): Promise<{ postgres?: number; redis?: number }>;
  /** Another tenant in the hub's database, through the tenant:create CLI (as an operator creates one). */
  createTenant(name: string): Promise<{ tenantId: string; apiKey: string }>;
  /** SIGTERM (the hub drains and stops its local servers), SIGKILL past the timeout; then removes DATA_DIR. */
  stop(): Promise<HubStopResult>;
}

/** One line on how a stopped hub went. */
export function describeStop(stop: HubStopResult): string {
  return `hub exited with ${stop.signal ?? `code ${stop.code}`}${stop.killed ? ' after SIGKILL' : ''}${stop.orphansStopped ? `; stopped ${stop.orphansStopped} orphaned servers` : ''}`;
}

export interface HubStopResult extends ExitStatus {
  killed: boolean;
  /** Local servers left by a killed hub that had to be stopped by pid. */
  orphansStopped: number;
}

const PROBLEM_LEVELS = new Set(['warn', 'error']);

export async function startHub(options: StartHubOptions = {}): Promise<HubProcess> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'pulse-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const problems: HubLogLine[] = [];
  let localPostgresPort: number | undefined;

  const env: Record<string, string> = {
    ...cleanEnv(),
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: options.logLevel ?? 'warn',
    LOG_FORMAT: 'json',
    DATA_DIR: dataDir,
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    // Someone's Redis: keys of our own, and no nightly backup schedule left behind in it.
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl, REDIS_PREFIX: `bench-${process.pid}-${Date.now().toString(36)}`, BACKUP_CRON: 'off' } : {}),
    ...options.env,
  };

  let child: NodeChild | undefined;
  let worker: NodeChild | undefined;
  let stopped: Promise<HubStopResult> | undefined;
  const stop = (): Promise<HubStopResult> => {
    stopped ??= (async () => {
      // The worker first: the hub owns the local servers the worker uses.
      await worker?.stop(options.stopTimeoutMs ?? 45_000);
      const result = child ? await child.stop(options.stopTimeoutMs ?? 45_000) : { code: null, signal: null, killed: false };
      const orphansStopped = result.killed ? await stopOrphanedServers(dataDir) : 0;
      await rm(dataDir, { recursive: true, force: true }).catch((error: unknown) => {
        process.stderr.write(`could not remove ${dataDir}: ${String(error)}\n`);
      });
      return { ...result, orphansStopped };
    })();
    return stopped;
  };

  try {
    let tenant: { tenantId: string; apiKey: string } | undefined;
    if (options.databaseUrl) tenant = await createTenant(env, options.tenantName ?? 'bench', options.signal);

    child = new NodeChild({
      script: 'src/roles/main.ts',
      args: [options.role ?? 'all'],
      env,
      nodeArgs: options.nodeArgs,
      detached: true,
      onLine: (line, stream) => {
        if (stream !== 'stdout' || !line.startsWith('{')) return;
        let entry: HubLogLine;
        try {
          entry = JSON.parse(line) as HubLogLine;
        } catch {
          return;
        }
        if (entry.message === 'started PostgreSQL' && typeof entry.port === 'number') localPostgresPort = entry.port;
        if (entry.level && PROBLEM_LEVELS.has(entry.level)) problems.push(entry);
        options.onLog?.(entry);
      },
    });

    const timeoutMs = options.startTimeoutMs ?? 180_000;
    const deadline = Date.now() + timeoutMs;
    const credentialsFile = path.join(dataDir, 'demo-credentials.json');
    for (;;) {
      if (child.status) throw new Error(`the hub exited (${JSON.stringify(child.status)}) before it was ready:\n${child.recentOutput()}`);
      if (Date.now() > deadline) throw new Error(`the hub was not ready within ${timeoutMs} ms:\n${child.recentOutput()}`);
      // The demo credentials are written just after the listener opens, so readiness alone is not enough.
      tenant ??= await readJson<DemoCredentials>(credentialsFile);
      if (tenant && (await isReady(url))) break;
      await sleep(100, options.signal);
    }
    const { tenantId, apiKey } = tenant;
    if (options.separateWorker) {
      worker = new NodeChild({ script: 'src/roles/main.ts', args: ['worker'], env, nodeArgs: options.nodeArgs, detached: true, onLine: () => undefined });
    }

    const databaseUrl = options.databaseUrl ?? (await localDatabaseUrl(dataDir, localPostgresPort));
    const redisUrl = options.redisUrl ?? (await localRedisUrl(dataDir));
    return {
      url,
      pid: child.pid,
      workerPid: worker?.pid,
      mode: options.databaseUrl || options.redisUrl ? 'urls' : 'zero-config',
      dataDir,
      databaseUrl,
      redisUrl,
      redisPrefix: env.REDIS_PREFIX ?? parseConfig({}).REDIS_PREFIX,
      tenantId,
      apiKey,
      problems,
      async localServerPids() {
        const postgres = options.databaseUrl ? undefined : (await postmasterPid(dataDir))?.pid;
        const redis = options.redisUrl ? undefined : (await readJson<{ pid?: number }>(redisStateFile(dataDir)))?.pid;
        return { postgres, redis };
      },
      createTenant: (name) => createTenant({ ...env, DATABASE_URL: databaseUrl }, name, options.signal),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function isReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Picked here rather than PORT=0 because the line announcing the real port is an info line, below the benchmark's log level. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Zero-config Postgres: superuser `postgres`, password kept in DATA_DIR, port from the log line or, below info level, postmaster.pid. */
async function localDatabaseUrl(dataDir: string, loggedPort: number | undefined): Promise<string> {
  const password = (await readFile(path.join(dataDir, 'postgres.password'), 'utf8')).trim();
  const port = loggedPort ?? (await postmasterPid(dataDir))?.port;
  if (!port) throw new Error(`cannot find the port of the hub's local Postgres (no ${path.join(dataDir, 'postgres', 'postmaster.pid')})`);
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

/** postmaster.pid's first line is the server pid, its fourth the port. */
async function postmasterPid(dataDir: string): Promise<{ pid: number; port: number } | undefined> {
  const lines = (await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return pid > 0 && port > 0 ? { pid, port } : undefined;
}

const redisStateFile = (dataDir: string) => path.join(dataDir, 'redis', 'pulse-hub-redis.json');

async function localRedisUrl(dataDir: string): Promise<string> {
  const port = (await readJson<{ port?: number }>(redisStateFile(dataDir)))?.port;
  if (!port) throw new Error(`cannot find the port of the hub's local Redis (no ${redisStateFile(dataDir)})`);
  return `redis://127.0.0.1:${port}`;
}

/** A killed hub cannot stop the Postgres and Redis it started detached: stop them by pid so the benchmark leaves nothing behind. */
async function stopOrphanedServers(dataDir: string): Promise<number> {
  const postgres = await postmasterPid(dataDir);
  const redis = await readJson<{ pid?: number }>(redisStateFile(dataDir));
  // SIGINT is Postgres' "fast" shutdown: no waiting for clients, which are gone anyway.
  const targets: [number | undefined, NodeJS.Signals][] = [[postgres?.pid, 'SIGINT'], [redis?.pid, 'SIGTERM']];
  let stopped = 0;
  for (const [pid, signal] of targets) {
    if (!pid) continue;
    try {
      process.kill(pid, signal);
      stopped += 1;
    } catch {
      continue;
    }
    for (let waited = 0; waited < 10_000 && isAlive(pid); waited += 100) await sleep(100);
  }
  return stopped;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `tenant:create --json` against the given database, with the same environment the hub gets. */
async function createTenant(env: Record<string, string>, name: string, signal?: AbortSignal): Promise<{ tenantId: string; apiKey: string }> {
  let output = '';
  const cli = new NodeChild({
    script: 'src/roles/cli/tenant-create.ts',
    args: ['--name', name, '--json'],
    env,
    onLine: (line, stream) => {
      if (stream === 'stdout') output += line;
    },
  });
  const onAbort = () => void cli.stop(5_000);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const status = await cli.waitForExit(120_000);
    if (!status) {
      await cli.stop(5_000);
      throw new Error(`tenant:create did not finish within 120 s:\n${cli.recentOutput()}`);
    }
    if (status.code !== 0) throw new Error(`tenant:create failed (${JSON.stringify(status)}):\n${cli.recentOutput()}`);
    return JSON.parse(output) as { tenantId: string; apiKey: string };
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
