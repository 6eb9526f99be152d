import { chmod, copyFile, mkdtemp, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { engineRulesSchema } from '../../src/contracts/api/rules.js';
import { pgToolsFrom } from '../../src/platform/pg-tools.js';
import { backupFileName, fileSize, manifestPathOf, readManifest, sha256Of, writeManifest, type BackupManifest } from '../../src/repositories/backup-manifests.js';
import { databaseFacts } from '../../src/repositories/backup-snapshot.js';
import { databaseNameOf, dropDatabase, withDatabaseName } from '../../src/repositories/databases.js';
import { connectDatabase } from '../../src/repositories/db/client.js';
import { loadRules } from '../../src/repositories/engine-rules.js';
import { loadUserState } from '../../src/repositories/user-state.js';
import { checkPgDumpVersion, createBackup } from '../../src/services/backups/create-backup.js';
import { applyRetention, planRetention } from '../../src/services/backups/retention.js';
import { runBackup } from '../../src/services/backups/run-backup.js';
import type { BackupSettings } from '../../src/services/backups/settings.js';
import { verifyBackup } from '../../src/services/backups/verify-backup.js';
import { mintTokens, postEvents } from '../support/api-client.js';
import { backupCliEnv, runCli, runCliInTerminal, type CliResult } from '../support/backup-cli.js';
import { useTenantHub } from '../support/tenant-hub.js';
import { createTestDatabase } from '../support/test-env.js';
import { until } from '../support/until.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const USERS = ['ada', 'grace', 'linus', 'barbara'];

const rules = engineRulesSchema.parse({
  lateEventGraceHours: 24 * 7,
  streaks: [{ key: 'daily', milestones: [{ days: 2, reward: { kind: 'points', amount: 30 } }] }],
  missions: { perDay: 1, templates: [{ key: 'twice', eventType: '*', targetMin: 2, targetMax: 2, reward: { kind: 'points', amount: 10 } }] },
});

const json = <T>(result: CliResult): T => JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as T;
const newDir = (label: string) => mkdtemp(path.join(os.tmpdir(), `pulse-${label}-`));

describe('backups', () => {
  const fixture = useTenantHub('backups', { rules });
  let databaseUrl: string;
  let settingsFor: (backupDir: string, overrides?: Partial<BackupSettings>) => BackupSettings;
  let cliEnv: (backupDir: string, env?: Record<string, string>) => Promise<Record<string, string>>;

  beforeAll(async () => {
    const { hub, tenant, sql } = fixture;
    databaseUrl = hub.config.DATABASE_URL as string;
    settingsFor = (backupDir, overrides = {}) => ({ databaseUrl, backupDir, tools: pgToolsFrom({ PG_DUMP_BIN: 'pg_dump' }), policy: { daily: 7, weekly: 4, monthly: 6 }, ...overrides });
    cliEnv = (backupDir, env = {}) => backupCliEnv({ DATABASE_URL: databaseUrl, BACKUP_DIR: backupDir, ...env });

    // Engine state for several users: two events a day on two local days (a streak, its milestone, missions and points).
    const now = Date.now() - 60_000;
    let posted = 0;
    for (const [u, userId] of USERS.entries()) {
      await mintTokens(hub.url, tenant.apiKey, { userId, timezone: 'Asia/Kolkata' });
      const events = [24, 24, 0, 0].slice(0, 2 + u).map((hoursAgo, i) => ({ type: 'lesson.done', userId, occurredAt: new Date(now - hoursAgo * HOUR + i * 1000).toISOString(), value: i + 1 }));
      expect((await postEvents(hub.url, tenant.apiKey, { events })).status).toBe(202);
      posted += events.length;
    }
    await until(async () => Number((await sql`select count(*)::int as n from processed_events`)[0]?.n), (n) => n === posted);
  });

  /** Every user's state as /me/state reads it, from the database of `url`. */
  async function statesIn(url: string, at: Date) {
    const database = connectDatabase(url, { max: 2, applicationName: 'backups-test' });
    const { sql } = database;
    try {
      const users = await sql<{ id: string; tenant_id: string }[]>`select id, tenant_id from users order by external_id`;
      return await Promise.all(users.map(async (user) => loadUserState(sql, user.tenant_id, user.id, (await loadRules(sql, user.tenant_id)).rules, at)));
    } finally {
      await database.close();
    }
  }

  const sourceFacts = () => databaseFacts(fixture.sql);

  it('backs up, verifies and restores: every user\'s engine state reads back identical from the restored copy, and the source is untouched', async () => {
    const dir = await newDir('backups');
    const backup = await runCli('backup', ['--json'], await cliEnv(dir));
    expect(backup.code, backup.stderr).toBe(0);
    const { file, manifest } = json<{ file: string; manifest: BackupManifest }>(backup);
    expect(manifest).toMatchObject({ file: path.basename(file), serverVersion: expect.stringMatching(/^15\./), pgDumpVersion: expect.stringMatching(/^15\./), verification: { status: 'verified', reason: null } });
    expect(manifest.migration?.tag).toMatch(/^\d{4}_/);
    expect(manifest.tables['public.users']).toBe(USERS.length);
    expect(manifest.tables['drizzle.__drizzle_migrations']).toBeGreaterThan(0);
    expect(manifest.smoke).toHaveLength(3);
    expect(await readManifest(file)).toEqual(manifest);

    const before = await sourceFacts();
    const into = withDatabaseName(databaseUrl, `${databaseNameOf(databaseUrl)}_copy`);
    try {
      const restore = await runCli('restore', ['--file', file, '--into', into, '--json'], await cliEnv(dir));
      expect(restore.code, restore.stderr).toBe(0);
      expect(json<{ databaseUrl: string }>(restore).databaseUrl).toBe(into);

      const at = new Date();
      const [source, copy] = await Promise.all([statesIn(databaseUrl, at), statesIn(into, at)]);
      expect(source).toHaveLength(USERS.length);
      for (const state of source) {
        expect(state?.seq).toBeGreaterThan(0);
        expect(state?.streaks[0]?.current).toBeGreaterThan(0);
        expect(state?.points).toBeGreaterThan(0);
      }
      expect(source.filter((state) => (state?.missions.items.length ?? 0) > 0)).toHaveLength(3);
      expect(copy).toEqual(source);
      expect(await sourceFacts()).toEqual(before);
    } finally {
      await dropDatabase(databaseUrl, databaseNameOf(into));
    }
  });

  it('a truncated dump and one with a flipped byte fail verification, are reported and never counted for retention; a good one afterwards passes', async () => {
    const dir = await newDir('corrupt');
    const settings = settingsFor(dir);
    const truncated = (await createBackup(settings, fixture.hub.context.database.sql)).file;
    const flipped = (await createBackup(settings, fixture.hub.context.database.sql)).file;
    const resealed = (await createBackup(settings, fixture.hub.context.database.sql)).file;
    await truncate(truncated, Math.floor((await readManifest(truncated)).size / 2));
    const bytes = await readFile(flipped);
    const at = Math.floor(bytes.length * 0.6);
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    await writeFile(flipped, bytes);
    // Data cut off behind a manifest rewritten to match: only the restore can catch it.
    await truncate(resealed, Math.floor((await readManifest(resealed)).size * 0.8));
    await writeManifest(resealed, { ...(await readManifest(resealed)), size: await fileSize(resealed), sha256: await sha256Of(resealed) });

    const env = await cliEnv(dir);
    const verifyTruncated = await runCli('backup-verify', ['--file', truncated, '--json'], env);
    expect(verifyTruncated.code).toBe(1);
    expect(json<{ verification: { status: string; reason: string } }>(verifyTruncated).verification).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^checksum: .* bytes, the manifest says \d+ \(truncated/) });
    const verifyFlipped = await runCli('backup-verify', ['--file', flipped], env);
    expect(verifyFlipped.code).toBe(1);
    expect(verifyFlipped.stdout).toMatch(/FAILED verification in .*: checksum: SHA-256 of .* the manifest says/);
    const resealedResult = await verifyBackup(settings, resealed);
    expect(resealedResult.verification).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^pg_restore failed/) });

    // A backup that fails verification leaves retention alone (pg_restore here cannot run at all).
    const broken = await runBackup(settingsFor(dir, { tools: { pgDump: 'pg_dump', pgRestore: '/bin/false' } }), fixture.hub.context.database.sql);
    expect(broken).toMatchObject({ verification: { status: 'failed' }, removed: [], retention: 'not applied: the new backup failed verification' });

    const good = await runBackup(settings, fixture.hub.context.database.sql);
    expect(good.verification.status).toBe('verified');
    expect(good.removed).toEqual([]);

    const list = await runCli('backup-list', ['--json'], env);
    expect(list.code, list.stderr).toBe(0);
    const listed = json<{ backups: { file: string; verification: { status: string } | null; keep: boolean; keptBy: string[]; why: string }[] }>(list).backups;
    expect(listed.map((entry) => [path.basename(entry.file), entry.verification?.status, entry.keep, entry.keptBy])).toEqual([
      [path.basename(good.file), 'verified', true, ['last', 'daily', 'weekly', 'monthly']],
      [path.basename(broken.file), 'failed', true, []],
      [path.basename(resealed), 'failed', true, []],
      [path.basename(flipped), 'failed', true, []],
      [path.basename(truncated), 'failed', true, []],
    ]);
    const human = await runCli('backup-list', [], env);
    expect(human.stdout).toMatch(/WHEN \(UTC\)\s+SIZE\s+VERIFIED\s+AGE\s+KEPT BY/);
    expect(human.stdout).toContain(`${path.basename(truncated)} failed: checksum`);

    const scratch = await fixture.sql`select datname from pg_database where datname like 'pulse_verify_%'`;
    expect(scratch).toEqual([]);
  });

  it('refuses a pg_dump of another major version, naming both versions and PG_DUMP_BIN', async () => {
    const dir = await newDir('guard');
    const fake = path.join(dir, 'pg_dump');
    await writeFile(fake, '#!/bin/sh\necho "pg_dump (PostgreSQL) 17.2"\n');
    await chmod(fake, 0o755);
    const backup = await runCli('backup', [], await cliEnv(dir, { PG_DUMP_BIN: fake }));
    expect(backup.code).toBe(1);
    expect(backup.stderr).toMatch(new RegExp(`pg_dump 17\\.2 \\(${fake}\\) does not match the database server 15\\.\\d+: a newer pg_dump writes dumps that PostgreSQL 15 may refuse to restore`));
    expect(backup.stderr).toContain('PG_DUMP_BIN=/usr/lib/postgresql/15/bin/pg_dump');
    expect((await readdir(dir)).filter((name) => name.endsWith('.dump'))).toEqual([]);

    await writeFile(fake, '#!/bin/sh\necho "pg_dump (PostgreSQL) 14.11"\n');
    await expect(checkPgDumpVersion(fixture.hub.context.database.sql, fake)).rejects.toThrow(/pg_dump 14\.11 .* an older pg_dump cannot dump a newer server/);
  });

  it('retention over backdated backups: the dry run lists what goes, and applying it removes exactly that, never a failed one', async () => {
    const dir = await newDir('retention');
    const settings = settingsFor(dir, { policy: { last: 1, daily: 3, weekly: 2, monthly: 2 } });
    const { file } = await createBackup(settings, fixture.hub.context.database.sql);
    const { manifest } = await verifyBackup(settings, file);
    const now = Date.now();
    const daysAgo = [1, 2, 3, 4, 5, 9, 16, 40, 70, 100];
    for (const days of daysAgo) {
      const takenAt = new Date(now - days * DAY);
      const copy = path.join(dir, backupFileName(takenAt));
      await copyFile(file, copy);
      const status = days === 2 || days === 70 ? 'failed' : 'verified';
      await writeManifest(copy, { ...manifest, file: path.basename(copy), createdAt: takenAt.toISOString(), verification: { ...manifest.verification, status, reason: status === 'failed' ? 'test: failed' : null } });
    }

    const list = await runCli('backup-list', ['--json'], await cliEnv(dir, { BACKUP_RETAIN: '1', BACKUP_KEEP_DAILY: '3', BACKUP_KEEP_WEEKLY: '2', BACKUP_KEEP_MONTHLY: '2' }));
    expect(list.code, list.stderr).toBe(0);
    const listed = json<{ backups: { file: string; createdAt: string; verification: { status: string }; keep: boolean; keptBy: string[] }[] }>(list).backups;
    expect(listed).toHaveLength(daysAgo.length + 1);
    expect(listed[0]).toMatchObject({ file, keep: true, keptBy: expect.arrayContaining(['last', 'daily']) });
    const count = (rule: string) => listed.filter((entry) => entry.keptBy.includes(rule)).length;
    expect([count('last'), count('daily'), count('weekly'), count('monthly')]).toEqual([1, 3, 2, 2]);
    const failed = listed.filter((entry) => entry.verification.status === 'failed');
    expect(failed.map((entry) => [entry.keep, entry.keptBy])).toEqual([[true, []], [true, []]]);
    const doomed = listed.filter((entry) => !entry.keep).map((entry) => path.basename(entry.file));
    expect(doomed.length).toBeGreaterThan(0);

    const { removed } = await applyRetention(settings);
    expect(removed.sort()).toEqual(doomed.sort());
    const left = (await readdir(dir)).sort();
    for (const entry of listed) {
      const name = path.basename(entry.file);
      expect(left.includes(name), name).toBe(entry.keep);
      expect(left.includes(path.basename(manifestPathOf(name))), name).toBe(entry.keep);
    }
    expect((await planRetention(settings)).entries.every((entry) => entry.decision?.keep)).toBe(true);
  });

  it('restore into the configured database refuses while a hub is connected; with no hub it swaps the restored copy in and keeps the old one', async () => {
    const dir = await newDir('restore');
    const { file } = await createBackup(settingsFor(dir), fixture.hub.context.database.sql);
    const before = await sourceFacts();
    const refused = await runCli('restore', ['--file', file, '--yes'], await cliEnv(dir));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refusing to restore into \S+: Pulse Hub processes are connected to it: pulse-hub:all \(pid \d+/);
    expect(await sourceFacts()).toEqual(before);
    expect(await fixture.sql`select datname from pg_database where datname like ${`${databaseNameOf(databaseUrl)}_restored%`}`).toEqual([]);

    const idle = await createTestDatabase();
    let previous: string | undefined;
    try {
      const replaced = await runCli('restore', ['--file', file, '--yes', '--json'], await cliEnv(dir, { DATABASE_URL: idle.url }));
      expect(replaced.code, replaced.stderr).toBe(0);
      previous = json<{ previousDatabase: string }>(replaced).previousDatabase;
      const sql = postgres(idle.url, { max: 1, onnotice: () => undefined });
      try {
        expect((await databaseFacts(sql)).tables).toEqual(before.tables);
      } finally {
        await sql.end();
      }
      const old = postgres(withDatabaseName(idle.url, previous), { max: 1, onnotice: () => undefined });
      try {
        expect(Number((await old`select count(*)::int as n from users`)[0]?.n)).toBe(0);
      } finally {
        await old.end();
      }
    } finally {
      if (previous) await dropDatabase(databaseUrl, previous);
      await idle.drop();
    }
  });

  it('shows a progress bar in a terminal and plain lines when piped', async () => {
    const dir = await newDir('progress');
    const env = await cliEnv(dir);
    const terminal = await runCliInTerminal('backup', [], env);
    expect(terminal.code, terminal.stdout).toBe(0);
    const tables = Object.keys((await readManifest(path.join(dir, (await readdir(dir)).find((name) => name.endsWith('.dump')) as string))).tables).length;
    expect(terminal.stdout).toContain('\u001b[');
    expect(terminal.stdout).toMatch(new RegExp(`dumping +\\[[█░]+\\] ${tables}/${tables} tables`));
    expect(terminal.stdout).toMatch(new RegExp(`restoring \\[[█░]+\\] ${tables}/${tables} tables`));
    expect(terminal.stdout).toMatch(/Backup pulse-hub-\S+\.dump: .* verified in/);

    const piped = await runCli('backup', [], env);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).not.toContain('\u001b');
    const lines = piped.stdout.trim().split('\n');
    expect(lines).toContain(`dumping public.users (${lines.filter((line) => line.startsWith('dumping ')).findIndex((line) => line.startsWith('dumping public.users ')) + 1}/${tables})`);
    expect(lines.filter((line) => line.startsWith('dumping '))).toHaveLength(tables);
    expect(lines.filter((line) => line.startsWith('restoring '))).toHaveLength(tables);
    expect(lines.find((line) => line.startsWith('Backup '))).toMatch(/^Backup pulse-hub-\S+\.dump: .* verified in/);
  });
});
