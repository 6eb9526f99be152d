import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../src/platform/local-services/process-utils.js';
import { projectRoot, PulseProcess } from '../support/pulse-process.js';

describe('process start-up', () => {
  const dataDirs: string[] = [];
  const freshDataDir = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pulse-zero-config-'));
    dataDirs.push(dir);
    return dir;
  };
  // A failed assertion must not orphan a hub with its local servers: stop what is still running.
  const running: PulseProcess[] = [];
  const track = (pulse: PulseProcess) => (running.push(pulse), pulse);
  afterEach(async () => {
    for (const pulse of running.splice(0)) {
      if (pulse.child.exitCode !== null || pulse.child.signalCode !== null) continue;
      pulse.kill('SIGTERM');
      await pulse.exit().catch(() => pulse.kill('SIGKILL'));
    }
  });
  afterAll(async () => {
    await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it.each([
    ['PORT', 'not-a-port'],
    ['DATABASE_URL', 'localhost:5432/pulse'],
  ])('exits non-zero naming %s when it is malformed', async (variable, value) => {
    const pulse = PulseProcess.start('all', { [variable]: value });
    const { code } = await pulse.exit();
    expect(code).toBe(78);
    expect(pulse.stderr).toContain(`${variable}:`);
  });

  it('with no DATABASE_URL or REDIS_URL starts its own Postgres and Redis, keeps data across restarts, stops them on exit', async () => {
    const env = { DATA_DIR: await freshDataDir(), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', BACKUP_CRON: 'off' };

    const first = track(PulseProcess.start('all', env));
    const url = await first.listeningUrl();
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    const pgLine = await first.waitForLog((line) => line.message === 'started PostgreSQL');
    const redisLine = await first.waitForLog((line) => line.message === 'started Redis');
    expect(first.logs.some((line) => line.message === 'initialised a new PostgreSQL cluster')).toBe(true);

    // The demo tenant is made once the hub listens: wait for it rather than race it.
    await first.waitForLog((line) => line.message === 'demo tenant ready');
    const credentialsFile = path.join(env.DATA_DIR, 'demo-credentials.json');
    const demo = JSON.parse(await readFile(credentialsFile, 'utf8')) as { tenantId: string; apiKey: string; baseUrl: string };
    expect((await stat(credentialsFile)).mode & 0o777).toBe(0o600);
    expect(demo.baseUrl).toBe(url);
    const minted = await fetch(`${url}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${demo.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'first-minute-user' }),
    });
    expect(minted.status).toBe(201);

    const password = (await readFile(path.join(env.DATA_DIR, 'postgres.password'), 'utf8')).trim();
    const databaseUrl = (port: unknown) => `postgres://postgres:${password}@127.0.0.1:${String(port)}/postgres`;
    const sql = postgres(databaseUrl(pgLine.port), { max: 1, onnotice: () => undefined });
    await sql`insert into tenants (name) values ('kept across restarts')`;
    await sql.end();

    first.kill('SIGTERM');
    expect((await first.exit()).code).toBe(0);
    expect(isProcessAlive(Number(pgLine.pid))).toBe(false);
    expect(isProcessAlive(Number(redisLine.pid))).toBe(false);

    const second = track(PulseProcess.start('all', env));
    await second.listeningUrl();
    expect(second.logs.some((line) => line.message === 'initialised a new PostgreSQL cluster')).toBe(false);
    const restarted = await second.waitForLog((line) => line.message === 'started PostgreSQL');
    const again = postgres(databaseUrl(restarted.port), { max: 1, onnotice: () => undefined });
    const rows = await again<{ name: string }[]>`select name from tenants order by created_at`;
    await again.end();
    expect(rows.map((row) => row.name)).toEqual(['demo', 'kept across restarts']);
    const demoAgain = JSON.parse(await readFile(credentialsFile, 'utf8')) as { apiKey: string };
    expect(demoAgain.apiKey).toBe(demo.apiKey);
    second.kill('SIGTERM');
    expect((await second.exit()).code).toBe(0);
  });

  it('explains how to get Redis when redis-server is missing, and leaves no Postgres behind', async () => {
    const env = { DATA_DIR: await freshDataDir(), PORT: '0', LOG_LEVEL: 'info', REDIS_SERVER_BIN: '/nonexistent/redis-server' };
    const pulse = PulseProcess.start('all', env);
    const { code } = await pulse.exit();
    expect(code).toBe(1);
    expect(pulse.stderr).toContain('apt-get install redis-server');
    expect(pulse.stderr).toContain('REDIS_URL=');
    const pgLine = pulse.logs.find((line) => line.message === 'started PostgreSQL');
    expect(pgLine).toBeDefined();
    expect(isProcessAlive(Number(pgLine?.pid))).toBe(false);
  });

  it('zero-config `npm start` in a copy of the project inside a private (mode 700) folder whose path has a space', async () => {
    // Like a clone into /root/pulse-hub as root, or into `mktemp -d`: the postgres user cannot enter it.
    const privateRoot = await mkdtemp(path.join(os.tmpdir(), 'pulse private '));
    dataDirs.push(privateRoot);
    const project = path.join(privateRoot, 'my projects', 'pulse-hub');
    await mkdir(project, { recursive: true });
    await chmod(privateRoot, 0o700);
    for (const entry of ['src', 'drizzle', 'package.json', 'tsconfig.json']) {
      await cp(path.join(projectRoot, entry), path.join(project, entry), { recursive: true });
    }
    await symlink(path.join(projectRoot, 'node_modules'), path.join(project, 'node_modules'));

    const npm = track(PulseProcess.npm('start', { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', BACKUP_CRON: 'off' }, project));
    const url = await npm.listeningUrl(60_000);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const pgLine = await npm.waitForLog((line) => line.message === 'started PostgreSQL');
    const redisLine = await npm.waitForLog((line) => line.message === 'started Redis');
    await npm.waitForLog((line) => line.message === 'demo tenant ready');
    const dataDir = String(pgLine.dataDir);
    if (!dataDir.startsWith(project)) {
      // Kept elsewhere (as root): the log says where, and the pointer file in .data names it.
      dataDirs.push(path.dirname(dataDir));
      expect(npm.logs.some((line) => line.level === 'warn' && String(line.message).includes(dataDir))).toBe(true);
      expect((await readFile(path.join(project, '.data', 'postgres.location'), 'utf8')).trim()).toBe(dataDir);
    }
    npm.kill('SIGTERM');
    expect((await npm.exit()).code).toBe(0);
    expect(isProcessAlive(Number(pgLine.pid))).toBe(false);
    expect(isProcessAlive(Number(redisLine.pid))).toBe(false);
  });
});
