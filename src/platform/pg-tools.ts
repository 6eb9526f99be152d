import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

/**
 * PostgreSQL's client programs (pg_dump, pg_restore), run as child processes. pg_restore is taken
 * from pg_dump's folder unless configured, so one setting (PG_DUMP_BIN) picks a matching pair.
 */
export interface PgTools {
  pgDump: string;
  pgRestore: string;
}

export function pgToolsFrom(config: { PG_DUMP_BIN: string; PG_RESTORE_BIN?: string | undefined }): PgTools {
  const beside = (name: string) => (config.PG_DUMP_BIN.includes('/') ? path.join(path.dirname(config.PG_DUMP_BIN), name) : name);
  return { pgDump: config.PG_DUMP_BIN, pgRestore: config.PG_RESTORE_BIN ?? beside('pg_restore') };
}

export class PgToolMissingError extends Error {}

/** The password travels in PGPASSWORD so it never shows in the process list. */
function connectionOf(databaseUrl: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const url = new URL(databaseUrl);
  const password = decodeURIComponent(url.password);
  url.password = '';
  return { dbname: url.toString(), env: password ? { PGPASSWORD: password } : {} };
}

/** Stderr lines kept for the error message of a failed run (the last ones say why). */
const STDERR_KEPT = 20;

/** Runs a tool, handing each stderr line to `onLine`; rejects with the tool's last words when it fails. */
function run(bin: string, args: string[], options: { env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    // eslint-disable-next-line no-restricted-properties -- the child inherits the environment; no config is read from it
    const child = spawn(bin, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const tail: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    createInterface({ input: child.stderr }).on('line', (line) => {
      tail.push(line);
      if (tail.length > STDERR_KEPT) tail.shift();
      options.onLine?.(line);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? new PgToolMissingError(`${bin} not found: install the PostgreSQL client tools (postgresql-client) or set PG_DUMP_BIN`) : error);
    });
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(stdout);
      // With --verbose most lines are progress; the ones that say why carry a severity.
      const said = tail.filter((line) => /\b(error|fatal|warning|detail|hint)\b/i.test(line));
      reject(new Error(`${path.basename(bin)} failed (${signal ?? `exit ${code}`}): ${(said.length > 0 ? said : tail).join('\n').trim()}`));
    });
  });
}

/** "15.20" from "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)". */
export async function toolVersion(bin: string): Promise<string> {
  const out = await run(bin, ['--version']);
  return /\)\s+(\d+(?:\.\d+)?)/.exec(out)?.[1] ?? out.trim();
}

/** A table name from pg_dump/pg_restore verbose lines ("dumping contents of table "public.users""). */
function tableOf(line: string, verb: RegExp): string | undefined {
  const match = verb.exec(line);
  return match ? match[1] : undefined;
}

const DUMPING = /dumping contents of table "([^"]+)"/;
const RESTORING = /processing data for table "([^"]+)"/;

/** A custom-format dump of exactly the given exported snapshot (the manifest's counts were taken in it). */
export async function pgDump(bin: string, options: { databaseUrl: string; snapshot: string; file: string; onTable?: (table: string) => void }): Promise<void> {
  const { dbname, env } = connectionOf(options.databaseUrl);
  await run(bin, ['--format=custom', '--no-owner', '--verbose', `--snapshot=${options.snapshot}`, `--file=${options.file}`, `--dbname=${dbname}`], {
    env,
    onLine: (line) => {
      const table = tableOf(line, DUMPING);
      if (table) options.onTable?.(table);
    },
  });
}

/** Restores a whole dump into an existing database in one transaction: it stops at the first error and leaves nothing half-done. */
export async function pgRestore(bin: string, options: { databaseUrl: string; file: string; onTable?: (table: string) => void }): Promise<void> {
  const { dbname, env } = connectionOf(options.databaseUrl);
  await run(bin, ['--exit-on-error', '--single-transaction', '--no-owner', '--verbose', `--dbname=${dbname}`, options.file], {
    env,
    onLine: (line) => {
      const table = tableOf(line, RESTORING);
      if (table) options.onTable?.(table);
    },
  });
}

/** The tables whose data a dump holds, from its table of contents (cheap: no restore). */
export async function dumpedTables(bin: string, file: string): Promise<string[]> {
  const toc = await run(bin, ['--list', file]);
  return toc.split('\n').flatMap((line) => {
    const match = /^\d+;.*\bTABLE DATA (\S+) (\S+) /.exec(line);
    return match ? [`${match[1]}.${match[2]}`] : [];
  });
}
