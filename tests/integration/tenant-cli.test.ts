import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../src/platform/credentials.js';
import { connectDatabase } from '../../src/repositories/db/client.js';
import { ApiKeyVerifier, type CreatedTenant } from '../../src/repositories/tenants.js';
import { PulseProcess } from '../support/pulse-process.js';
import { createTestDatabase, type TestDatabase } from '../support/test-env.js';

function runCli(args: string[], env: Record<string, string>) {
  const cli = new PulseProcess('src/roles/cli/tenant-create.ts', args, env);
  let stdout = '';
  cli.child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return cli.exit().then((exit) => ({ ...exit, stdout, stderr: cli.stderr }));
}

describe('npm run tenant:create', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  beforeAll(async () => {
    database = await createTestDatabase();
    env = { DATABASE_URL: database.url, LOG_LEVEL: 'warn' };
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('creates a tenant and prints a working API key, recording both in the audit log', async () => {
    const { code, stdout } = await runCli(['--name', 'Acme', '--json'], env);
    expect(code).toBe(0);
    const created = JSON.parse(stdout) as CreatedTenant;
    expect(created).toMatchObject({ name: 'Acme', tenantId: expect.any(String), apiKey: expect.stringMatching(/^phk_/) });

    const handle = connectDatabase(database.url, { max: 1, applicationName: 'test' });
    try {
      expect(await new ApiKeyVerifier(handle.db).verify(created.apiKey)).toEqual({ apiKeyId: created.apiKeyId, tenantId: created.tenantId });
    } finally {
      await handle.close();
    }
    const sql = postgres(database.url, { max: 1, onnotice: () => undefined });
    const audit = await sql<{ action: string; actor: string }[]>`select action, actor from audit_log where tenant_id = ${created.tenantId} order by id`;
    const stored = await sql<{ secret_hash: string }[]>`select secret_hash from api_keys where tenant_id = ${created.tenantId}`;
    await sql.end();
    expect(audit).toEqual([
      { action: 'tenant.created', actor: 'cli' },
      { action: 'api_key.created', actor: 'cli' },
    ]);
    // The secret is base64url, which may itself contain "_": it is everything after the id.
    const secret = created.apiKey.split('_').slice(2).join('_');
    expect(stored[0]?.secret_hash).toBe(hashSecret(secret));
    expect(stored[0]?.secret_hash).not.toContain(secret);
  });

  it('prints a readable summary without --json', async () => {
    const { code, stdout } = await runCli(['--name', 'Globex'], env);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Tenant "Globex" created\.\n {2}tenant id: [0-9a-f-]{36}\n {2}API key: {3}phk_/);
  });

  it('explains its usage when --name is missing or unknown flags are given', async () => {
    for (const args of [[], ['--nme', 'x']]) {
      const { code, stderr } = await runCli(args, env);
      expect(code).toBe(2);
      expect(stderr).toContain('Usage: npm run tenant:create');
    }
  });
});
