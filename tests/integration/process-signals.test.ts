import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isProcessAlive, waitForExit } from '../../src/platform/local-services/process-utils.js';
import { PulseProcess } from '../support/pulse-process.js';

const SHUTDOWN_TIMEOUT_MS = 10_000;

interface Started {
  npm: PulseProcess;
  url: string;
  hubPid: number;
  serverPids: number[];
}

/**
 * What a load loop saw. A request sent well before the signal (`ACCEPTED_WITHIN_MS`) has been
 * accepted by the hub and must get its answer. One sent later may find the listener closed:
 * refused, or reset because its connection still sat in the kernel's accept queue when the
 * listening socket closed (the kernel resets those; no hub code ever saw them, so they were never
 * in flight).
 */
const ACCEPTED_WITHIN_MS = 50;

interface LoadResult {
  statuses: Map<number, number>;
  /** Errors of requests sent more than ACCEPTED_WITHIN_MS before the signal. */
  errorsBeforeSignal: string[];
  /** Errors of the others: only "refused" or "reset at connect" are acceptable. */
  errorsAfterSignal: string[];
  /** Requests whose response arrived after `mark()` although they were sent before it. */
  completedAcrossMark: number;
  mark(): void;
  stop(): Promise<void>;
}

/** `concurrency` loops of POST /api/v1/tokens (a JWT signed per request), one new connection each. */
function postLoop(url: string, apiKey: string, concurrency: number): LoadResult {
  const result: LoadResult = {
    statuses: new Map(),
    errorsBeforeSignal: [],
    errorsAfterSignal: [],
    completedAcrossMark: 0,
    mark: () => (markedAt = performance.now()),
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
  let stopped = false;
  let markedAt = Infinity;
  let refused = false;
  const post = (index: number) =>
    new Promise<void>((resolve) => {
      const sentAt = performance.now();
      const request = http.request(
        `${url}/api/v1/tokens`,
        { method: 'POST', agent: false, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' } },
        (response) => {
          response.resume();
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            result.statuses.set(status, (result.statuses.get(status) ?? 0) + 1);
            if (sentAt < markedAt && performance.now() > markedAt) result.completedAcrossMark++;
            resolve();
          });
          response.on('error', (error: NodeJS.ErrnoException) => {
            (sentAt < markedAt - ACCEPTED_WITHIN_MS ? result.errorsBeforeSignal : result.errorsAfterSignal).push(`${error.code ?? error.message} (mid-response)`);
            resolve();
          });
        },
      );
      request.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNREFUSED') refused = true;
        (sentAt < markedAt - ACCEPTED_WITHIN_MS ? result.errorsBeforeSignal : result.errorsAfterSignal).push(error.code ?? error.message);
        resolve();
      });
      request.end(JSON.stringify({ userId: `load-user-${index}` }));
    });
  const loops = Array.from({ length: concurrency }, async (_, index) => {
    while (!stopped && !refused) await post(index);
  });
  return result;
}

describe('signals to npm start', () => {
  let dataDir: string;
  const fallbackDirs = new Set<string>();

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'pulse-signals-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
    // As root with a private temp dir the cluster may live in a fallback location: remove it too.
    for (const dir of fallbackDirs) await rm(path.dirname(dir), { recursive: true, force: true });
  });

  // A failed assertion must not leave a hub (and its servers) running: stop it the polite way.
  const spawned: PulseProcess[] = [];
  afterEach(async () => {
    for (const npm of spawned.splice(0)) {
      if (npm.child.exitCode !== null || npm.child.signalCode !== null) continue;
      npm.signalGroup('SIGTERM');
      await npm.exit(SHUTDOWN_TIMEOUT_MS).catch(() => npm.signalGroup('SIGKILL'));
    }
  });

  const env = () => ({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', BACKUP_CRON: 'off', SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) });

  async function start(script: 'start' | 'start:hub' | 'start:worker' = 'start'): Promise<Started> {
    const npm = PulseProcess.npm(script, env());
    spawned.push(npm);
    const url = script === 'start:worker' ? '' : await npm.listeningUrl(60_000);
    if (script === 'start:worker') await npm.waitForLog((line) => line.message === 'workers started', 60_000);
    // The last start-up step of a zero-config hub; it writes demo-credentials.json.
    else await npm.waitForLog((line) => line.message === 'demo tenant ready');
    const pg = await npm.waitForLog((line) => line.message === 'started PostgreSQL');
    const redis = await npm.waitForLog((line) => line.message === 'started Redis');
    if (!String(pg.dataDir).startsWith(dataDir)) fallbackDirs.add(String(pg.dataDir));
    const [hubPid] = npm.childPids();
    expect(hubPid, 'npm runs the hub as its direct child (no sh or tsx in between)').toBeGreaterThan(0);
    return { npm, url, hubPid: hubPid as number, serverPids: [Number(pg.pid), Number(redis.pid)] };
  }

  /** The hub and the local servers it started are all gone; its own last words say it shut down cleanly. */
  async function expectAllGone(started: Started) {
    expect(await waitForExit(started.hubPid, SHUTDOWN_TIMEOUT_MS)).toBe(true);
    for (const pid of started.serverPids) expect(isProcessAlive(pid), `local server ${pid} stopped`).toBe(false);
    await started.npm.waitForLog((line) => line.message === 'shutdown complete', 2_000);
    expect(started.npm.logs.find((line) => line.message === 'shutdown complete')).toMatchObject({ exitCode: 0 });
    expect(started.npm.logs.some((line) => String(line.message).includes('exiting immediately'))).toBe(false);
  }

  function expectNoResets(load: LoadResult) {
    expect(load.errorsBeforeSignal, 'requests sent before the signal all got an answer').toEqual([]);
    for (const error of load.errorsAfterSignal) expect(['ECONNREFUSED', 'ECONNRESET']).toContain(error);
  }

  const apiKey = async () => (JSON.parse(await readFile(path.join(dataDir, 'demo-credentials.json'), 'utf8')) as { apiKey: string }).apiKey;

  it('SIGTERM to the npm process alone, idle: drains, stops its Postgres and Redis, exits 0', async () => {
    const started = await start();
    const sentAt = performance.now();
    started.npm.kill('SIGTERM');
    const { code, signal } = await started.npm.exit(SHUTDOWN_TIMEOUT_MS);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(performance.now() - sentAt).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    await expectAllGone(started);
  });

  it('SIGTERM to npm alone under load, repeated 300 ms later: in-flight requests complete, no forced exit, exit 0', async () => {
    const started = await start();
    const load = postLoop(started.url, await apiKey(), 16);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    load.mark();
    started.npm.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    started.npm.kill('SIGTERM'); // within the grace period: the same request to stop, not a person insisting
    const { code } = await started.npm.exit(SHUTDOWN_TIMEOUT_MS);
    await load.stop();
    expect(code).toBe(0);
    expectNoResets(load);
    expect(load.statuses.get(201)).toBeGreaterThan(20);
    expect([...load.statuses.keys()]).toEqual([201]);
    expect(load.completedAcrossMark, 'requests in flight when the signal came got their answer').toBeGreaterThan(0);
    expect(started.npm.logs.some((line) => line.message === 'already shutting down; ignoring a repeated signal')).toBe(true);
    await expectAllGone(started);
  });

  it('SIGTERM to the whole process group of `npm run start:hub` under load (the hub gets it twice): exit 0', async () => {
    const started = await start('start:hub');
    const load = postLoop(started.url, await apiKey(), 16);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    load.mark();
    started.npm.signalGroup('SIGTERM');
    const { code } = await started.npm.exit(SHUTDOWN_TIMEOUT_MS);
    await load.stop();
    expect(code).toBe(0);
    expectNoResets(load);
    expect([...load.statuses.keys()]).toEqual([201]);
    expect(load.completedAcrossMark).toBeGreaterThan(0);
    await expectAllGone(started);
  });

  it('SIGINT to `npm run start:worker` alone: exit 0, nothing left', async () => {
    const started = await start('start:worker');
    started.npm.kill('SIGINT');
    expect((await started.npm.exit(SHUTDOWN_TIMEOUT_MS)).code).toBe(0);
    await expectAllGone(started);
  });

  it('SIGHUP to the npm process alone (npm dies without passing it on): the hub notices and shuts down cleanly', async () => {
    const started = await start();
    started.npm.kill('SIGHUP');
    expect((await started.npm.exit(SHUTDOWN_TIMEOUT_MS)).signal).toBe('SIGHUP');
    await expectAllGone(started);
    expect(started.npm.logs.some((line) => String(line.message).startsWith('parent process exited'))).toBe(true);
  });

  it('SIGHUP to the whole group (terminal closed): the hub shuts down cleanly', async () => {
    const started = await start();
    started.npm.signalGroup('SIGHUP');
    await started.npm.exit(SHUTDOWN_TIMEOUT_MS);
    await expectAllGone(started);
    expect(started.npm.logs.find((line) => line.message === 'shutting down')).toMatchObject({ reason: 'SIGHUP' });
  });
});
