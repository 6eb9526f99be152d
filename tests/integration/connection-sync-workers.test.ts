import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionView } from '../../src/contracts/api/connections.js';
import { syncJobName } from '../../src/contracts/queues.js';
import { parseConfig } from '../../src/platform/config.js';
import { resolveCredentialVault } from '../../src/platform/secrets.js';
import { createTenant, type CreatedTenant } from '../../src/repositories/tenants.js';
import { ConnectionService } from '../../src/services/integrations/connections.js';
import { startProviderSimulator, type ProviderSimulator, type SimRecord } from '../simulator/server.js';
import { apiJson } from '../support/api-client.js';
import { PulseProcess } from '../support/pulse-process.js';
import { createTestDatabase, startTestHub, testEnv, type TestDatabase, type TestHub } from '../support/test-env.js';
import { storeAuthorizedTokens } from '../support/oauth-tokens.js';
import { until } from '../support/until.js';

const customers = Array.from({ length: 8 }, (_, i) => `customer${i + 1}@example.com`);
const emails = [...customers, 'stranger1@example.com', 'stranger2@example.com'];

/**
 * Syncs across real worker processes (`main.ts worker`), the hub in this process: a worker killed
 * mid-sync, and two workers given the same connection at once.
 */
describe('integration syncs across worker processes', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let hub: TestHub;
  let tenant: CreatedTenant;
  let sql: postgres.Sql;
  let sim: ProviderSimulator;
  const workers: PulseProcess[] = [];

  const admin = (method: string, path: string, body?: unknown) => apiJson<ConnectionView>(hub.url, method, `/api/v1/admin/connections${path}`, { token: tenant.apiKey, body });
  const startWorker = () => {
    const worker = PulseProcess.start('worker', env);
    workers.push(worker);
    return worker;
  };
  const countEvents = async (connectionId: string) =>
    Number((await sql`select count(*)::int as n from events where tenant_id = ${tenant.tenantId} and data->>'connectionId' = ${connectionId}`)[0]?.n);
  const expectedPaid = (records: SimRecord[]) => records.filter((record) => record.status === 'paid' && customers.includes(record.email)).length;
  const finishedAfter = (id: string, before: string | null, timeoutMs = 60_000) =>
    until(() => admin('GET', `/${id}`), (answer) => answer.body.sync.lastFinishedAt !== before && answer.body.sync.state === 'idle', timeoutMs).then((answer) => answer.body);

  beforeAll(async () => {
    database = await createTestDatabase();
    env = await testEnv(database, { LOG_LEVEL: 'info', INTEGRATIONS_PAGE_SIZE: '20' });
    hub = await startTestHub(database, { role: 'hub', env });
    tenant = await createTenant(hub.context.database.db, { name: 'sync-workers', actor: 'test' });
    sql = postgres(database.url, { max: 2, onnotice: () => undefined });
    for (const email of customers) await sql`insert into users (tenant_id, external_id) values (${tenant.tenantId}, ${email})`;
    sim = await startProviderSimulator();
  });
  afterEach(async () => {
    for (const worker of workers.splice(0)) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) {
        worker.kill('SIGTERM');
        await worker.exit();
      }
    }
  });
  afterAll(async () => {
    await sim?.close();
    await sql?.end();
    await hub?.stop();
    await database?.drop();
  });

  it('resumes a sync killed with SIGKILL from its last stored page and imports every record once', async () => {
    const records = sim.seed('shopify', 'crashy', { count: 200, emails, newestAt: Date.now() - 60_000, spanDays: 3 });
    const created = await admin('POST', '', { provider: 'shopify', name: 'Crashy', scheduleMinutes: null, settings: { shopDomain: 'crashy.myshopify.com', baseUrls: { api: `${sim.baseUrls.shopify('crashy')}/admin/api` } } });
    const id = created.body.id;
    expect((await admin('PUT', `/${id}/credentials`, { apiKey: sim.tokens.shopify('crashy') })).status).toBe(200);
    sim.faults.slow('shopify', { account: 'crashy', delayMs: 250 });

    const first = startWorker();
    await first.waitForLog((line) => line.message === 'workers started');
    expect((await admin('POST', `/${id}/sync`)).status).toBe(202);
    const progressed = await until(async () => (await sql`select last_run from connections where id = ${id}`)[0]?.last_run as { pages: number } | null, (run) => (run?.pages ?? 0) >= 3, 30_000);
    first.kill('SIGKILL');
    await first.exit();
    const killedAt = Date.now();
    const pagesAtKill = (await sql`select (last_run->>'pages')::int as pages from connections where id = ${id}`)[0]?.pages as number;
    expect(pagesAtKill).toBeGreaterThanOrEqual(progressed?.pages ?? 3);
    expect(pagesAtKill).toBeLessThan(10);

    // A new worker takes the job over once the dead one's lock lapses, from the stored checkpoint.
    startWorker();
    const view = await finishedAfter(id, null);
    expect(view.sync.lastError).toBeNull();
    expect(await countEvents(id)).toBe(expectedPaid(records));
    expect((await sql`select count(*)::int as n from synced_records where connection_id = ${id}`)[0]?.n).toBe(200);
    // The restart continued where the checkpoint said: the new worker asked only for the pages not yet stored.
    const asked = sim.calls.list({ provider: 'shopify', account: 'crashy' }).filter((call) => call.status === 200 && call.endpoint === 'orders.list' && call.at > killedAt);
    expect(asked.length).toBe(10 - pagesAtKill);

    // A second full sync adds nothing.
    sim.faults.clear('shopify');
    const before = view.sync.lastFinishedAt;
    expect((await admin('POST', `/${id}/sync`)).status).toBe(202);
    await finishedAfter(id, before);
    expect(await countEvents(id)).toBe(expectedPaid(records));
  });

  it('gives one connection to two workers at once: the token about to expire is refreshed exactly once and both syncs finish', async () => {
    const shop = '40000888';
    const records = sim.seed('etsy', shop, { count: 60, emails, newestAt: Date.now() - 60_000, spanDays: 2 });
    const created = await admin('POST', '', {
      provider: 'etsy',
      name: 'Etsy race',
      scheduleMinutes: null,
      settings: { shopId: shop, baseUrls: { api: `${sim.baseUrls.etsy}/v3`, token: `${sim.baseUrls.etsy}/v3/public/oauth/token` } },
    });
    const id = created.body.id;
    expect((await admin('PUT', `/${id}/credentials`, { clientId: sim.credentials.etsy.keystring, clientSecret: sim.credentials.etsy.sharedSecret })).status).toBe(200);
    const service = new ConnectionService(hub.context.database.db, await resolveCredentialVault(parseConfig(env)), { allowCustomUrls: true });
    // Expires within the refresh margin (5 minutes): the first page needs a refresh.
    const issued = sim.tokens.issue('etsy', shop);
    await storeAuthorizedTokens(service, id, issued, 60_000);
    sim.faults.slow('etsy', { account: shop, delayMs: 300, scope: 'token', times: 1 });

    const both = [startWorker(), startWorker()];
    await Promise.all(both.map((worker) => worker.waitForLog((line) => line.message === 'workers started')));
    const jobs = await Promise.all(
      ['a', 'b'].map((label) => hub.context.queues.enqueue(syncJobName('etsy'), { connectionId: id, tenantId: tenant.tenantId, reason: 'manual' }, { jobId: `race-${label}-${id}` })),
    );
    await until(async () => Promise.all(jobs.map((job) => job.isCompleted())), (done) => done.every(Boolean), 40_000);
    expect(sim.calls.refreshes('etsy', shop)).toBe(1);
    const stored = await service.openCredentials(id, ['refresh_token']);
    expect(sim.tokens.liveRefreshTokens('etsy', shop)).toEqual([stored.refresh_token?.value]);
    expect(await countEvents(id)).toBe(expectedPaid(records));
  });
});
