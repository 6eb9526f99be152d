import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startLocalRedis } from '../../src/platform/local-services/index.js';
import { silentLogger } from './silent-logger.js';

/**
 * A redis-server of the test's own on a fixed port, stopped and started again in place: with its
 * append-only file (the data comes back), or without persistence (it comes back empty). Clients
 * keep the same URL throughout, as they would across a real Redis restart.
 */
export class RestartableRedis {
  private stopServer: (() => Promise<void>) | undefined;
  private readonly dirs: string[] = [];
  private dataDir = '';
  private constructor(
    readonly port: number,
    readonly url: string,
  ) {}

  static async start(options: { ephemeral: boolean }): Promise<RestartableRedis> {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'pulse-fault-redis-'));
    const server = await startLocalRedis({ dataDir, ephemeral: options.ephemeral, redisServerBin: 'redis-server', logger: silentLogger() });
    const redis = new RestartableRedis(Number(new URL(server.url).port), server.url);
    redis.dataDir = dataDir;
    redis.dirs.push(dataDir);
    redis.stopServer = server.stop;
    return redis;
  }

  get running(): boolean {
    return this.stopServer !== undefined;
  }

  /** SIGTERM, as a service manager stops it: with AOF on, Redis writes its file out before it exits. */
  async stop(): Promise<void> {
    const stop = this.stopServer;
    this.stopServer = undefined;
    await stop?.();
  }

  /**
   * Starts it again on the same port. `keepData`: from its append-only file in the same data
   * directory; otherwise a fresh directory and no persistence, i.e. Redis lost everything.
   */
  async start(options: { keepData: boolean }): Promise<void> {
    if (this.stopServer) throw new Error('Redis is already running');
    if (!options.keepData) {
      this.dataDir = await mkdtemp(path.join(os.tmpdir(), 'pulse-fault-redis-'));
      this.dirs.push(this.dataDir);
    }
    const server = await startLocalRedis({ dataDir: this.dataDir, ephemeral: !options.keepData, port: this.port, redisServerBin: 'redis-server', logger: silentLogger() });
    if (server.url !== this.url) throw new Error(`Redis came back on ${server.url}, not ${this.url}`);
    this.stopServer = server.stop;
  }

  async dispose(): Promise<void> {
    await this.stop();
    await Promise.all(this.dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}
