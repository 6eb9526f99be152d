import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionView, SyncProgress } from '../../src/contracts/api/connections.js';
import type { Leaderboard } from '../../src/contracts/api/campaigns.js';
import { syncJobName } from '../../src/contracts/queues.js';
import { resolveCredentialVault } from '../../src/platform/secrets.js';
import type { CreatedTenant } from '../../src/repositories/tenants.js';
import { ConnectionService } from '../../src/services/integrations/connections.js';
import { startProviderSimulator, type ProviderSimulator, type SimRecord } from '../simulator/server.js';
import { apiJson, mintTokens } from '../support/api-client.js';
import { connected, openSocket } from '../support/socket-client.js';
import { useTenantHub } from '../support/tenant-hub.js';
import type { TestHub } from '../support/test-env.js';
import { storeAuthorizedTokens } from '../support/oauth-tokens.js';
import { until } from '../support/until.js';

const customers = Array.from({ length: 10 }, (_, i) => `customer${i + 1}@example.com`);
/** Half of these emails are the tenant's users; the other half match nobody. */
const emails = [...customers, ...Array.from({ length: 10 }, (_, i) => `stranger${i + 1}@example.com`)];
const hourFromNow = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();

describe('integration syncs', () => {
  const fixture = useTenantHub('connection-sync', {
    role: 'all',
    env: { INTEGRATIONS_PAGE_SIZE: '25', INTEGRATIONS_CIRCUIT_FAILURES: '3', INTEGRATIONS_CIRCUIT_HALF_OPEN_MS: '2000' },
  });
  let hub: TestHub;
  let tenant: CreatedTenant;
  let sql: postgres.Sql;
  let sim: ProviderSimulator;

  const admin = (method: string, path: string, body?: unknown) => apiJson<ConnectionView & Record<string, unknown>>(hub.url, method, `/api/v1/admin/connections${path}`, { token: tenant.apiKey, body });

  async function connect(body: Record<string, unknown>, credentials?: Record<string, string>): Promise<string> {
    const created = await admin('POST', '', { scheduleMinutes: null, ...body });
    expect(created.status).toBe(201);
    if (credentials) expect((await admin('PUT', `/${created.body.id}/credentials`, credentials)).status).toBe(200);
    return created.body.id;
  }

  /** Starts a sync and waits until the connection is idle again after it. */
  async function syncNow(id: string): Promise<ConnectionView> {
    const before = (await admin('GET', `/${id}`)).body.sync.lastFinishedAt;
    const started = await admin('POST', `/${id}/sync`);
    expect(started.status).toBe(202);
    return finished(id, before);
  }

  async function finished(id: string, before: string | null, timeoutMs = 30_000): Promise<ConnectionView> {
    return (
      await until(
        () => admin('GET', `/${id}`),
        (answer) => answer.body.sync.lastFinishedAt !== before && (answer.body.sync.state === 'idle' || answer.body.sync.state === 'failed'),
        timeoutMs,
      )
    ).body;
  }

  const countEvents = async (connectionId: string) =>
    Number((await sql`select count(*)::int as n from events where tenant_id = ${tenant.tenantId} and data->>'connectionId' = ${connectionId}`)[0]?.n);

  /** Paid records of customers who are users: what must become `order.paid` events. */
  const expectedPaid = (records: SimRecord[]) => records.filter((record) => record.status === 'paid' && customers.includes(record.email)).length;

  beforeAll(async () => {
    ({ hub, tenant, sql } = fixture);
    sim = await startProviderSimulator();
    for (const email of customers) await sql`insert into users (tenant_id, external_id) values (${tenant.tenantId}, ${email})`;
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('imports a Shopify shop once: paid orders become events for matched users, the rest are listed as unmatched, progress goes live to the dashboard', async () => {
    const records = sim.seed('shopify', 'acme', { count: 120, emails, newestAt: Date.now() - 60_000, spanDays: 0.02 });
    await apiJson(hub.url, 'POST', '/api/v1/admin/campaigns', {
      token: tenant.apiKey,
      body: { key: 'shop-week', name: 'Shop week', startsAt: hourFromNow(-2), endsAt: hourFromNow(24), pointRules: { 'order.paid': 10 }, tiers: [] },
    });
    const adminUser = await mintTokens(hub.url, tenant.apiKey, { userId: 'dash-admin', role: 'admin' });
    const dashboard = openSocket(hub.url, adminUser.accessToken);
    fixture.sockets.push(dashboard);
    await connected(dashboard);
    expect(await dashboard.emitWithAck('subscribe', { room: 'dashboard' })).toMatchObject({ ok: true });
    const progress: SyncProgress[] = [];
    dashboard.on('sync:progress', (message) => progress.push(message));

    const id = await connect({ provider: 'shopify', name: 'Acme', settings: { shopDomain: 'acme.myshopify.com', baseUrls: { api: `${sim.baseUrls.shopify('acme')}/admin/api` } } }, { apiKey: sim.tokens.shopify('acme') });
    const view = await syncNow(id);
    expect(view.status).toBe('active');
    expect(view.sync.state).toBe('idle');
    expect(view.sync.lastError).toBeNull();
    const unmatched = records.filter((record) => !customers.includes(record.email)).length;
    expect(view.sync.counts).toEqual({ records: 120, events: expectedPaid(records), unmatched });
    expect(view.sync.lastRun).toMatchObject({ pages: 5, records: 120, events: expectedPaid(records), unmatched });
    expect(await countEvents(id)).toBe(expectedPaid(records));
    const [stored] = await sql`select count(*)::int as n from synced_records where connection_id = ${id}`;
    expect(stored?.n).toBe(120);

    // Unmatched records are listed, a page at a time, with the value that matched nobody.
    const listed = await apiJson<{ records: { userKey: string }[]; nextCursor: string | null }>(hub.url, 'GET', `/api/v1/admin/connections/${id}/unmatched?limit=50`, { token: tenant.apiKey });
    expect(listed.status).toBe(200);
    expect(listed.body.records.every((record) => record.userKey.startsWith('stranger'))).toBe(true);
    const rest = await apiJson<{ records: unknown[] }>(hub.url, 'GET', `/api/v1/admin/connections/${id}/unmatched?limit=50&cursor=${listed.body.nextCursor ?? ''}`, { token: tenant.apiKey });
    expect(listed.body.records.length + (listed.body.nextCursor ? rest.body.records.length : 0)).toBe(unmatched);

    // The dashboard saw the run live, page by page, and its end.
    await until(() => progress.at(-1)?.state, (state) => state === 'completed');
    expect(progress.filter((message) => message.connectionId === id && message.state === 'running').length).toBeGreaterThanOrEqual(4);
    expect(progress.at(-1)).toMatchObject({ connectionId: id, provider: 'shopify', pages: 5, records: 120, events: expectedPaid(records), unmatched, circuit: 'closed' });

    // Synced order.paid events went through the engine like REST events: the campaign counted them.
    const perUser = new Map<string, number>();
    for (const record of records) if (record.status === 'paid' && customers.includes(record.email)) perUser.set(record.email, (perUser.get(record.email) ?? 0) + 10);
    const top = Math.max(...perUser.values());
    const board = await until(
      () => apiJson<Leaderboard>(hub.url, 'GET', '/api/v1/campaigns/shop-week/leaderboard?limit=20', { token: tenant.apiKey }),
      (answer) => answer.status === 200 && answer.body.entries.length === perUser.size && answer.body.entries[0]?.points === top,
    );
    expect(board.body.entries.reduce((sum, entry) => sum + entry.points, 0)).toBe(expectedPaid(records) * 10);

    // A second sync finds nothing new; a record that changes (pending → paid) counts once.
    const again = await syncNow(id);
    expect(again.sync.counts.events).toBe(expectedPaid(records));
    expect(await countEvents(id)).toBe(expectedPaid(records));
    const pending = records.find((record) => record.status === 'pending' && customers.includes(record.email));
    expect(pending).toBeDefined();
    const current = sim.records('shopify', 'acme');
    sim.seed('shopify', 'acme', current.map((record) => (record.id === pending?.id ? { ...record, status: 'paid' as const, version: record.version + 1, updatedAt: Date.now() } : record)));
    const changed = await syncNow(id);
    expect(changed.sync.lastRun?.records).toBeLessThan(10);
    expect(await countEvents(id)).toBe(expectedPaid(records) + 1);

    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/pulse_sync_calls_total\{provider="shopify"\} [1-9]/);
    expect(metrics).toMatch(/pulse_sync_records_total\{provider="shopify"\} 12[0-9]/);
    expect(metrics).toContain('pulse_sync_circuit_state{provider="shopify",state="closed"} 1');
  });

  it.each(['seconds', 'http-date'] as const)('waits out a 429 storm with Retry-After: 2 (%s form) without calling the account or using up attempts', async (form) => {
    const account = `acct_storm${form === 'seconds' ? 'S' : 'D'}`;
    const records = sim.seed('stripe', account, { count: 90, emails, newestAt: Date.now() - 60_000, spanDays: 2 });
    const id = await connect({ provider: 'stripe', name: `Storm ${form}`, settings: { accountId: account, baseUrls: { api: sim.baseUrls.stripe } } }, { apiKey: sim.tokens.stripe(account) });
    sim.faults.rateLimit('stripe', { account, retryAfterSeconds: 2, form, times: 3 });
    const queue = hub.context.queues.get('sync-stripe');
    const before = (await admin('GET', `/${id}`)).body.sync.lastFinishedAt;
    const started = await apiJson<{ jobId: string }>(hub.url, 'POST', `/api/v1/admin/connections/${id}/sync`, { token: tenant.apiKey });
    // While throttled, the connection shows until when.
    const throttled = await until(() => admin('GET', `/${id}`), (answer) => answer.body.sync.rateLimitedUntil !== null, 10_000);
    expect(throttled.body.sync.state).toBe('rate_limited');
    const view = await finished(id, before, 40_000);
    expect(view.sync.lastError).toBeNull();
    expect(view.sync.counts.events).toBe(expectedPaid(records));
    expect(sim.calls.backoffViolations('stripe')).toBe(0);
    expect(sim.calls.count({ provider: 'stripe', account }) ).toBeGreaterThanOrEqual(4);
    const job = await queue.getJob(started.body.jobId);
    // Three throttled tries and the one that finished: only that one counts as an attempt.
    expect(job?.attemptsMade ?? 0).toBeLessThanOrEqual(1);
    expect(await job?.isCompleted()).toBe(true);
  });

  it('opens the provider circuit after repeated 5xx, fails syncs fast without calling, and recovers', async () => {
    const account = 'acct_flaky';
    sim.seed('stripe', account, { count: 30, emails, newestAt: Date.now() - 60_000, spanDays: 1 });
    const id = await connect({ provider: 'stripe', name: 'Flaky', settings: { accountId: account, baseUrls: { api: sim.baseUrls.stripe } } }, { apiKey: sim.tokens.stripe(account) });
    sim.faults.serverError('stripe', { account, times: 100 });
    const failedRun = await syncNow(id);
    expect(failedRun.sync.state).toBe('failed');
    expect(failedRun.sync.circuit).toBe('open');
    const callsWhenOpen = sim.calls.count({ provider: 'stripe', account });
    expect(callsWhenOpen).toBe(3);

    // Another sync while open: fails fast, the provider sees no call.
    const fast = await hub.context.queues.enqueue(syncJobName('stripe'), { connectionId: id, tenantId: tenant.tenantId, reason: 'manual' }, { attempts: 1 });
    await until(() => fast.isFailed(), (failed) => failed, 10_000);
    expect(sim.calls.count({ provider: 'stripe', account })).toBe(callsWhenOpen);
    expect((await admin('GET', `/${id}`)).body.sync.lastError).toMatch(/circuit is open/);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toContain('pulse_sync_circuit_state{provider="stripe",state="open"} 1');

    // The provider recovers; after the half-open delay one trial call closes the circuit again.
    sim.faults.clear('stripe');
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const recovered = await syncNow(id);
    expect(recovered.sync.lastError).toBeNull();
    expect(recovered.sync.state).toBe('idle');
    expect(recovered.sync.circuit).toBe('closed');
  });

  it('schedules an active connection: its first sync runs at once, the next one shows; no schedule, no scheduler', async () => {
    const account = 'acct_scheduled';
    sim.seed('stripe', account, { count: 10, emails, newestAt: Date.now() - 60_000, spanDays: 1 });
    const id = await connect({ provider: 'stripe', name: 'Scheduled', scheduleMinutes: 5, settings: { accountId: account, baseUrls: { api: sim.baseUrls.stripe } } });
    // Not active yet (no key): nothing scheduled.
    expect((await admin('GET', `/${id}`)).body.sync.nextRunAt).toBeNull();
    const activated = await admin('PUT', `/${id}/credentials`, { apiKey: sim.tokens.stripe(account) });
    expect(activated.body.status).toBe('active');
    const ran = await finished(id, null);
    expect(ran.sync.lastRun?.records).toBe(10);
    const next = Date.parse(ran.sync.nextRunAt ?? '');
    expect(next).toBeGreaterThan(Date.now() + 3 * 60_000);
    expect(next).toBeLessThanOrEqual(Date.now() + 5 * 60_000);
    // Renaming it leaves the schedule alone (no extra run); dropping the schedule removes it.
    expect((await admin('PATCH', `/${id}`, { name: 'Scheduled (renamed)' })).body.sync.nextRunAt).toBe(ran.sync.nextRunAt);
    expect((await admin('PATCH', `/${id}`, { scheduleMinutes: null })).body.sync.nextRunAt).toBeNull();
    expect(sim.calls.count({ provider: 'stripe', account })).toBe(1);
  });

  it('refuses to sync a connection that is not active, and answers 404 for another tenant’s', async () => {
    const id = await connect({ provider: 'stripe', name: 'No key yet', settings: {} });
    const refused = await apiJson<{ detail: string }>(hub.url, 'POST', `/api/v1/admin/connections/${id}/sync`, { token: tenant.apiKey });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/needs_reauth/);
    expect((await apiJson(hub.url, 'POST', '/api/v1/admin/connections/00000000-0000-4000-8000-000000000000/sync', { token: tenant.apiKey })).status).toBe(404);
    expect((await apiJson(hub.url, 'POST', `/api/v1/admin/connections/${id}/sync`)).status).toBe(401);
  });

  it('refreshes an Etsy token that expires mid-sync once and finishes the import', async () => {
    const shop = '40000555';
    const records = sim.seed('etsy', shop, { count: 80, emails, newestAt: Date.now() - 60_000, spanDays: 2 });
    const id = await connect(
      { provider: 'etsy', name: 'Etsy shop', settings: { shopId: shop, baseUrls: { api: `${sim.baseUrls.etsy}/v3`, token: `${sim.baseUrls.etsy}/v3/public/oauth/token` } } },
      { clientId: sim.credentials.etsy.keystring, clientSecret: sim.credentials.etsy.sharedSecret },
    );
    const service = new ConnectionService(hub.context.database.db, await resolveCredentialVault(hub.config), { allowCustomUrls: true });
    const issued = sim.tokens.issue('etsy', shop);
    await storeAuthorizedTokens(service, id, issued, 3_600_000);
    // The provider expires the token after two pages although its stored expiry says an hour.
    sim.faults.expireTokens('etsy', { account: shop, afterCalls: 2 });
    const view = await syncNow(id);
    expect(view.sync.lastError).toBeNull();
    expect(view.sync.counts.events).toBe(expectedPaid(records));
    expect(sim.calls.refreshes('etsy', shop)).toBe(1);
    const stored = await service.openCredentials(id, ['refresh_token']);
    expect(sim.tokens.liveRefreshTokens('etsy', shop)).toEqual([stored.refresh_token?.value]);
  });
});
