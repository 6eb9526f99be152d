import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { findFreePort, isProcessAlive, waitForExit } from './process-utils.js';

/** A real redis-server from PATH (nothing on npm ships one), persisting with AOF unless ephemeral. */

export interface LocalRedisOptions {
  dataDir: string;
  ephemeral: boolean;
  redisServerBin: string;
  /** A fixed port (to restart a server where its clients expect it); a free one when omitted. */
  port?: number;
  logger: Logger;
}

export interface LocalRedis {
  url: string;
  pid: number;
  started: boolean;
  stop: () => Promise<void>;
}

export class RedisServerMissingError extends Error {
  constructor(bin: string) {
    super(
      `Cannot start Redis: "${bin}" was not found on PATH.\n` +
        '  Install it:   sudo apt-get install redis-server   (Debian/Ubuntu)\n' +
        '                brew install redis                  (macOS)\n' +
        '  or run one:   docker compose up -d redis\n' +
        '  or point the hub at an existing server: REDIS_URL=redis://host:6379',
    );
    this.name = 'RedisServerMissingError';
  }
}

async function answersPing(port: number): Promise<boolean> {
  const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

export async function startLocalRedis(options: LocalRedisOptions): Promise<LocalRedis> {
  const { ephemeral, logger } = options;
  const dir = path.join(options.dataDir, 'redis');
  await mkdir(dir, { recursive: true });
  const stateFile = path.join(dir, 'pulse-hub-redis.json');
  const stopPid = async (pid: number) => {
    if (isProcessAlive(pid)) process.kill(pid, 'SIGTERM');
    if (!(await waitForExit(pid, 30_000))) process.kill(pid, 'SIGKILL');
    if (ephemeral) await rm(options.dataDir, { recursive: true, force: true });
  };

  const previous = JSON.parse(await readFile(stateFile, 'utf8').catch(() => '{}')) as { pid?: number; port?: number };
  if (previous.pid && previous.port && isProcessAlive(previous.pid) && (await answersPing(previous.port))) {
    logger.info('reusing the Redis server already running on this data directory', { dir, ...previous });
    const { pid, port } = previous as { pid: number; port: number };
    return { url: `redis://127.0.0.1:${port}`, pid, started: false, stop: () => stopPid(pid) };
  }

  const port = options.port ?? (await findFreePort());
  const log = await open(path.join(dir, 'redis.log'), 'a');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no'];
  args.push(...(ephemeral ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'everysec']));
  // Detached: Ctrl-C in a terminal must not reach the server before the hub has drained its work.
  const child = spawn(options.redisServerBin, args, { detached: true, stdio: ['ignore', log.fd, log.fd] });
  const failure = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new RedisServerMissingError(options.redisServerBin) : error),
    );
    child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}; see ${path.join(dir, 'redis.log')}`)));
  });
  failure.catch(() => undefined);
  await log.close();
  const ready = (async () => {
    const deadline = Date.now() + 15_000;
    while (!(await answersPing(port))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port} within 15 s`);
      await sleep(10);
    }
  })();
  await Promise.race([ready, failure]);
  child.unref();
  const pid = child.pid as number;
  await writeFile(stateFile, JSON.stringify({ pid, port }));
  logger.info('started Redis', { dir, port, pid, appendonly: !ephemeral });
  return { url: `redis://127.0.0.1:${port}`, pid, started: true, stop: () => stopPid(pid) };
}
