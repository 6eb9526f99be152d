import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { isProcessAlive } from './process-utils.js';
import { startLocalPostgres } from './postgres.js';
import { startLocalRedis } from './redis.js';

export { startLocalPostgres } from './postgres.js';
export { startLocalRedis, RedisServerMissingError } from './redis.js';

export interface ServiceEndpoints {
  databaseUrl: string;
  /** Empty when the caller said it needs no Redis. */
  redisUrl: string;
  /** Stops the local servers this process owns; a no-op for servers given by URL or owned by a live sibling. */
  stop(): Promise<void>;
}

const readPid = async (file: string) => Number(await readFile(file, 'utf8').catch(() => '')) || undefined;

/** Serialises zero-config start-up of several processes sharing one DATA_DIR (`start:hub` + `start:worker`). */
async function withStartLock<T>(dataDir: string, logger: Logger, run: () => Promise<T>): Promise<T> {
  const lockFile = path.join(dataDir, 'local-services.lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await readPid(lockFile);
      if (holder !== undefined && isProcessAlive(holder)) {
        if (Date.now() > deadline) {
          throw new Error(`another process (pid ${holder}) has held ${lockFile} for 2 minutes`, { cause: error });
        }
        logger.info('waiting for another Pulse Hub process to start the local servers', { pid: holder });
        await sleep(250);
      } else {
        await rm(lockFile, { force: true });
      }
    }
  }
  try {
    return await run();
  } finally {
    await rm(lockFile, { force: true });
  }
}

/**
 * Zero-config mode: when DATABASE_URL or REDIS_URL is unset, start a real local server for it
 * under DATA_DIR, or reuse the one a sibling process started. The first process to start the
 * servers owns them and stops them at exit; servers left behind by a crashed owner are adopted.
 */
export async function resolveServices(
  config: Config,
  logger: Logger,
  needs: { redis: boolean } = { redis: true },
): Promise<ServiceEndpoints> {
  const redisUrl = config.REDIS_URL ?? (needs.redis ? undefined : '');
  if (config.DATABASE_URL && redisUrl !== undefined) {
    return { databaseUrl: config.DATABASE_URL, redisUrl, stop: () => Promise.resolve() };
  }
  await mkdir(config.DATA_DIR, { recursive: true });
  const ownerFile = path.join(config.DATA_DIR, 'local-services.owner');
  return withStartLock(config.DATA_DIR, logger, async () => {
    const common = { dataDir: config.DATA_DIR, ephemeral: false, logger };
    const postgres = config.DATABASE_URL ? undefined : await startLocalPostgres(common);
    const redis = redisUrl !== undefined
      ? undefined
      : await startLocalRedis({ ...common, redisServerBin: config.REDIS_SERVER_BIN }).catch(async (error: unknown) => {
          if (postgres?.started) await postgres.stop();
          throw error;
        });
    const owner = await readPid(ownerFile);
    const siblingOwns = owner !== undefined && owner !== process.pid && isProcessAlive(owner);
    const owns = Boolean(postgres?.started || redis?.started) || !siblingOwns;
    if (owns) await writeFile(ownerFile, String(process.pid));
    else logger.info('local servers are owned by another running process and will outlive this one', { owner });
    return {
      databaseUrl: config.DATABASE_URL ?? (postgres?.url as string),
      redisUrl: redisUrl ?? (redis?.url as string),
      async stop() {
        if (!owns) return;
        await Promise.all([postgres?.stop(), redis?.stop()]);
        await rm(ownerFile, { force: true });
        logger.info('stopped local servers');
      },
    };
  });
}
