import { execFile } from 'node:child_process';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { UnrecoverableError } from 'bullmq';
import type { JobHandler } from '../registry.js';

const execFileAsync = promisify(execFile);

export interface BackupSettings {
  databaseUrl: string;
  backupDir: string;
  retain: number;
  pgDumpBin: string;
}

const BACKUP_FILE = /^pulse-hub-\d{8}T\d{6}Z\.dump$/;

function backupFileName(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `pulse-hub-${stamp}.dump`;
}

/** The password travels in PGPASSWORD so it never shows in the process list. */
function pgDumpConnection(databaseUrl: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const url = new URL(databaseUrl);
  const password = decodeURIComponent(url.password);
  url.password = '';
  return { dbname: url.toString(), env: password ? { PGPASSWORD: password } : {} };
}

/** Dumps the database with pg_dump (custom format, restorable with pg_restore) and keeps the newest `retain` files. */
export function createBackupHandler(settings: BackupSettings): JobHandler<'db.backup'> {
  return {
    name: 'db.backup',
    async handle(payload, { logger }) {
      await mkdir(settings.backupDir, { recursive: true });
      const target = path.join(settings.backupDir, backupFileName(new Date()));
      const partial = `${target}.partial`;
      const { dbname, env } = pgDumpConnection(settings.databaseUrl);
      const started = Date.now();
      try {
        await execFileAsync(settings.pgDumpBin, ['--format=custom', '--no-owner', `--file=${partial}`, `--dbname=${dbname}`], {
          // eslint-disable-next-line no-restricted-properties -- the child inherits the environment; no config is read from it
          env: { ...process.env, ...env },
        });
      } catch (error) {
        await rm(partial, { force: true });
        throw pgDumpFailure(error, settings.pgDumpBin);
      }
      await rename(partial, target);
      const { size } = await stat(target);
      const removed = await pruneBackups(settings.backupDir, settings.retain);
      const result = { file: target, bytes: size, durationMs: Date.now() - started, removed, reason: payload.reason };
      logger.info('database backup written', result);
      return result;
    },
  };
}

/** A missing pg_dump will not appear on retry, so that failure is unrecoverable; others may be transient. */
function pgDumpFailure(error: unknown, bin: string): Error {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
    return new UnrecoverableError(`${bin} not found: install postgresql-client (pg_dump 15 or newer) or set PG_DUMP_BIN`);
  }
  const stderr = (error as { stderr?: string }).stderr?.trim();
  return new Error(`pg_dump failed: ${stderr || (error as Error).message}`, { cause: error });
}

async function pruneBackups(dir: string, retain: number): Promise<string[]> {
  // Names embed a UTC timestamp, so lexical order is chronological.
  const backups = (await readdir(dir)).filter((name) => BACKUP_FILE.test(name)).sort().reverse();
  const stale = backups.slice(retain);
  await Promise.all(stale.map((name) => rm(path.join(dir, name), { force: true })));
  return stale;
}
