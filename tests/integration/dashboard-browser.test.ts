import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionView } from '../../src/contracts/api/connections.js';
import { FeedTelemetry } from '../../src/repositories/feed-telemetry.js';
import { startProviderSimulator } from '../simulator/server.js';
import { apiJson, mintTokens, postEvents } from '../support/api-client.js';
import { launchChromium } from '../support/chromium.js';
import { projectRoot } from '../support/pulse-process.js';
import { connected, openSocket } from '../support/socket-client.js';
import { useTenantHub } from '../support/tenant-hub.js';

/**
 * Issue F, the live dashboard, in a real browser (Debian Chromium): a real hub with its workers
 * (role `all`), a real tenant, REST posts and sockets from the test, and the page's own view.
 */

/** Screenshots go here (gitignored). */
const OUTPUT_DIR = path.join(projectRoot, 'tests/output');
/** Short-lived access tokens, so the page's refresh (REST rotation + `auth:refresh`) runs within the test. */
const ACCESS_TOKEN_TTL_SECONDS = 20;

/** What the test reads of page elements and globals (this project's type-check has no DOM library). */
type Attributed = { getAttribute(name: string): string | null };
type PageGlobals = { document: { cookie: string; documentElement: { scrollWidth: number } }; localStorage: { length: number }; sessionStorage: { length: number } };
/** For `evaluateAll(readAttribute, name)`: runs in the page, so it takes the name as its argument (no closure). */
const readAttribute = (items: unknown[], name: string) => items.map((item) => (item as Attributed).getAttribute(name));

interface PageWatch {
  page: Page;
  /** Every URL the page asked for (HTTP and websocket). */
  requests: string[];
  consoleErrors: ConsoleMessage[];
  pageErrors: Error[];
}

describe('the live dashboard in a browser (F)', { timeout: 120_000 }, () => {
  // Small sync pages, so a sync runs long enough to be watched page by page.
  const fixture = useTenantHub('dashboard', { role: 'all', env: { ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_TTL_SECONDS), INTEGRATIONS_PAGE_SIZE: '10' } });
  let browser: Browser;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    browser = await launchChromium();
    await mkdir(OUTPUT_DIR, { recursive: true });
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** `/dashboard` in a fresh context that may reach the hub alone; everything it asks for is recorded. */
  async function openDashboard(viewport = { width: 1280, height: 800 }): Promise<PageWatch> {
    const hubOrigin = new URL(fixture.hub.url).origin;
    context = await browser.newContext({ viewport });
    const watch: Omit<PageWatch, 'page'> = { requests: [], consoleErrors: [], pageErrors: [] };
    await context.route('**/*', (route) => (new URL(route.request().url()).origin === hubOrigin ? route.continue() : route.abort('blockedbyclient')));
    const page = await context.newPage();
    page.on('request', (request) => watch.requests.push(request.url()));
    page.on('websocket', (socket) => watch.requests.push(socket.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') watch.consoleErrors.push(message);
    });
    page.on('pageerror', (error) => watch.pageErrors.push(error));
    const response = await page.goto(`${fixture.hub.url}/dashboard`);
    expect(response?.status()).toBe(200);
    await page.waitForSelector('html[data-ready="true"]');
    return { page, ...watch };
  }

  function expectOnlyHubRequests(requests: string[]): void {
    const hubOrigin = new URL(fixture.hub.url).origin;
    expect(requests.length).toBeGreaterThan(0);
    for (const url of requests) expect(new URL(url.replace(/^ws/, 'http')).origin, url).toBe(hubOrigin);
  }

  async function signIn(page: Page, credential: string): Promise<void> {
    await page.fill('#credential', credential);
    await page.click('#sign-in-button');
  }

  const tileText = (page: Page, selector: string) => page.locator(selector).innerText();

  it('refuses a wrong API key with a clear message, and loads nothing from elsewhere', async () => {
    const { page, requests, consoleErrors, pageErrors } = await openDashboard();
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    await signIn(page, 'phk_not-a-real-key');

    const error = page.locator('#sign-in-error');
    await error.waitFor({ state: 'visible' });
    expect(await error.innerText()).toMatch(/not accepted.*Check it and try again/);
    expect(await page.locator('#board').isVisible()).toBe(false);
    expect(await page.locator('#credential').inputValue()).toBe('');

    expect(pageErrors).toEqual([]);
    // The one error line is Chromium's own note of the 401 answer, not the page's.
    for (const message of consoleErrors) {
      expect(message.text()).toMatch(/Failed to load resource.*401/);
      expect(message.location().url).toBe(`${fixture.hub.url}/api/v1/tokens`);
    }
    expectOnlyHubRequests(requests);
    // The page's files are the hub's own, the vendor scripts included.
    expect(requests).toEqual(
      expect.arrayContaining(['app.js', 'format.js', 'dashboard.css', 'uPlot.iife.min.js', 'uPlot.min.css', 'socket.io.min.js'].map((name) => `${fixture.hub.url}/dashboard/assets/${name}`)),
    );
  });

  it('signs in with the tenant API key and shows live users, events, queues, latest events and leaders; refreshes its token; signs out', async () => {
    const { hub, tenant } = fixture;
    const now = Date.now();
    const campaign = await apiJson(hub.url, 'POST', '/api/v1/admin/campaigns', {
      token: tenant.apiKey,
      body: { key: 'sprint', name: 'Sprint', startsAt: new Date(now - 3_600_000).toISOString(), endsAt: new Date(now + 86_400_000).toISOString(), pointRules: { '*': 5 } },
    });
    expect(campaign.status).toBe(201);

    const { page, requests, consoleErrors, pageErrors } = await openDashboard();
    // Before any data, every tile says so.
    await signIn(page, tenant.apiKey);
    await page.locator('#board').waitFor({ state: 'visible' });
    const signedInAt = Date.now();
    await expect.poll(() => tileText(page, '#connection'), { timeout: 10_000 }).toMatch(/Live/);
    expect(await tileText(page, '#tenant-label')).toContain(tenant.tenantId);

    // The dashboard's own admin socket counts as one connected user; a test client makes two.
    await expect.poll(() => tileText(page, '[data-testid="connected-users"] [data-value]'), { timeout: 10_000 }).toBe('1 user');
    expect(await page.locator('[data-testid="latest-events"] .empty').isVisible()).toBe(true);
    const player = await mintTokens(hub.url, tenant.apiKey, { userId: 'player-1' });
    const socket = openSocket(hub.url, player.accessToken);
    fixture.sockets.push(socket);
    await connected(socket);
    await expect.poll(() => tileText(page, '[data-testid="connected-users"] [data-value]'), { timeout: 10_000 }).toBe('2 users');

    // Events: with the engagement worker paused, the relayed jobs wait in their queue where the
    // queue tile shows them; the event counts and the latest list come from Postgres.
    const engagement = hub.workers?.workers.find((worker) => worker.name === 'engagement');
    expect(engagement).toBeDefined();
    await engagement?.pause();
    const posted = await postEvents(hub.url, tenant.apiKey, {
      events: [
        { type: 'workout.completed', userId: 'player-1' },
        { type: 'page.viewed', userId: 'player-2' },
        { type: 'workout.completed', userId: 'player-1' },
      ],
    });
    expect(posted.status).toBe(202);
    const ids = posted.body.accepted.map((event) => event.id);
    expect(ids).toHaveLength(3);

    await expect.poll(() => tileText(page, '[data-testid="events"] [data-value="per-minute"]'), { timeout: 10_000 }).toBe('3 events');
    expect(await tileText(page, '[data-testid="events"] [data-value="today"]')).toBe('3 events');
    await expect.poll(() => page.locator('[data-testid="latest-events"] li').count(), { timeout: 10_000 }).toBe(3);
    expect(await page.locator('[data-testid="latest-events"] li').evaluateAll(readAttribute, 'data-event-id')).toEqual([...ids].reverse());
    const newest = await tileText(page, '[data-testid="latest-events"] li:first-child');
    expect(newest).toContain('workout.completed');
    expect(newest).toContain('user player-1');
    // Local wall-clock time of the event, as the browser formats it.
    const occurredAt = (await page.locator('[data-testid="latest-events"] li:first-child time').getAttribute('datetime')) as string;
    expect(newest).toContain(await page.evaluate((at) => new Date(at).toLocaleTimeString(), occurredAt));

    const queue = '[data-testid="queue-engagement"]';
    await expect.poll(() => tileText(page, `${queue} [data-value="waiting"]`), { timeout: 15_000 }).toBe('3 jobs');
    expect(await page.locator(`${queue} canvas`).count()).toBeGreaterThan(0);
    expect(Number(await page.locator(`${queue} [data-chart]`).getAttribute('data-points'))).toBeGreaterThan(1);
    expect(Number(await page.locator('[data-testid="events"] [data-chart]').getAttribute('data-points'))).toBeGreaterThan(1);
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'dashboard-1280x800.png'), fullPage: true });

    // The worker drains the queue and the engine scores the campaign: both show live.
    await engagement?.resume();
    await expect.poll(() => tileText(page, `${queue} [data-value="waiting"]`), { timeout: 15_000 }).toBe('0 jobs');
    await expect.poll(() => tileText(page, '[data-testid="campaigns"] [data-campaign="sprint"]'), { timeout: 15_000 }).toMatch(/player-1: 10 points\s+player-2: 5 points/);
    expect(await tileText(page, '[data-testid="campaigns"]')).toContain('Sprint (sprint)');
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'dashboard-1280x800-drained.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'dashboard-phone.png'), fullPage: true });
    // On a phone width the tiles stack in one column: nothing wider than the screen.
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 800 });

    // The page rotates its token before the first one expires and stays live past that expiry.
    const refreshed = page.waitForResponse((response) => response.url().endsWith('/api/v1/tokens/refresh'), { timeout: ACCESS_TOKEN_TTL_SECONDS * 1000 });
    expect((await refreshed).status()).toBe(200);
    const expiredAt = signedInAt + ACCESS_TOKEN_TTL_SECONDS * 1000;
    await page.waitForTimeout(Math.max(expiredAt + 2_500 - Date.now(), 0));
    const stamp = await tileText(page, '#last-update');
    await expect.poll(() => tileText(page, '#last-update'), { timeout: 5_000 }).not.toBe(stamp);
    expect(await tileText(page, '#connection')).toMatch(/Live/);

    // Sign-out revokes the login and shows the sign-in form again, with no data left on the page.
    const revoked = page.waitForResponse((response) => response.url().endsWith('/api/v1/tokens/revoke'));
    await page.click('#sign-out');
    expect((await revoked).status()).toBe(204);
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    expect(await tileText(page, '#sign-in-notice')).toBe('Signed out.');
    expect(await page.locator('#board').isVisible()).toBe(false);
    expect(await page.locator('[data-testid="latest-events"] li').count()).toBe(0);
    // Nothing of the session was stored in the browser.
    expect(await page.evaluate(() => {
      const { localStorage, sessionStorage, document } = globalThis as unknown as PageGlobals;
      return [localStorage.length, sessionStorage.length, document.cookie];
    })).toEqual([0, 0, '']);

    expect(pageErrors).toEqual([]);
    expect(consoleErrors.map((message) => message.text())).toEqual([]);
    expectOnlyHubRequests(requests);
    // Live from the socket: no REST call on a timer (sign-in, one load of the signals and one of the connections, refresh and sign-out only).
    const restCalls = requests.filter((url) => new URL(url).pathname.startsWith('/api/'));
    expect(restCalls.filter((url) => url.endsWith('/api/v1/tokens'))).toHaveLength(1);
    expect(restCalls.length).toBeLessThanOrEqual(5);
  });

  it('shows when the socket drops, reconnects by itself and catches up from the next tick', async () => {
    const { hub, tenant } = fixture;
    const { page, consoleErrors, pageErrors } = await openDashboard();
    await signIn(page, tenant.apiKey);
    await expect.poll(() => tileText(page, '#connection'), { timeout: 10_000 }).toMatch(/Live/);
    await expect.poll(() => tileText(page, '[data-testid="connected-users"] [data-value]'), { timeout: 10_000 }).toMatch(/users?$/);
    const dashboardSockets = () => [...(hub.hub?.io.of('/').sockets.values() ?? [])].filter((socket) => socket.data.tenantId === tenant.tenantId && socket.data.role === 'admin');

    for (const drop of ['network', 'server'] as const) {
      const reconnecting = page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 10_000 });
      // The connection breaks under the socket (a network fault), or the server ends the socket.
      for (const socket of dashboardSockets()) {
        if (drop === 'network') socket.conn.close();
        else socket.disconnect(true);
      }
      await reconnecting;
      expect(await tileText(page, '#connection')).toMatch(/reconnecting/i);
      await expect.poll(() => tileText(page, '#connection'), { timeout: 15_000 }).toMatch(/Live/);
      // Subscribed again: metrics arrive and the tiles catch up (events posted while away included).
      const posted = await postEvents(hub.url, tenant.apiKey, { type: `after.${drop}`, userId: 'player-3' });
      expect(posted.status).toBe(202);
      await expect.poll(() => tileText(page, '[data-testid="latest-events"] li:first-child'), { timeout: 10_000 }).toContain(`after.${drop}`);
    }
    expect(pageErrors).toEqual([]);
    expect(consoleErrors.map((message) => message.text())).toEqual([]);
  });

  it('shows the Feeds tile: recomputations and pushes per minute, the median recompute time, pushes held by quiet hours and by the budget', async () => {
    const { hub, tenant } = fixture;
    const { page, consoleErrors, pageErrors } = await openDashboard();
    await signIn(page, tenant.apiKey);
    const figure = (key: string) => tileText(page, `[data-testid="feeds"] [data-value="${key}"]`);
    await expect.poll(() => figure('recomputes'), { timeout: 10_000 }).toBe('0 / min');
    expect(await figure('median')).toBe('none yet');

    // What the worker's feed.recompute handler records per recompute: one pushed, one held by quiet hours, one by the budget, two with nothing new.
    const telemetry = new FeedTelemetry(hub.context.redis, hub.config.REDIS_PREFIX);
    const outcomes = [{ pushes: 1 }, { held_quiet: 1 }, { held_budget: 1 }, {}, {}];
    for (const [i, outcome] of outcomes.entries()) await telemetry.record(tenant.tenantId, { recomputes: 1, ...outcome }, [3.5, 12.25, 4.75, 8, 30][i]);

    await expect.poll(() => figure('recomputes'), { timeout: 10_000 }).toBe('5 / min');
    expect(await figure('median')).toBe('8.0 ms');
    expect(await figure('pushes')).toBe('1 / min');
    expect(await figure('held-quiet')).toBe('1 / min');
    expect(await figure('held-budget')).toBe('1 / min');
    expect(await tileText(page, '[data-testid="feeds"]')).toMatch(/Held by quiet hours\s+1 \/ min/);
    // Another tenant's figures stay its own.
    await telemetry.record(randomUUID(), { recomputes: 50 }, 1);
    await page.waitForTimeout(1_500);
    expect(await figure('recomputes')).toBe('5 / min');
    expect(pageErrors).toEqual([]);
    expect(consoleErrors.map((message) => message.text())).toEqual([]);
  });

  it('shows a fused signal tile whose number and contribution bars change as readings from three sources arrive', async () => {
    const { hub, tenant } = fixture;
    const { page, requests, consoleErrors, pageErrors } = await openDashboard();
    await signIn(page, tenant.apiKey);
    await expect.poll(() => tileText(page, '#connection'), { timeout: 10_000 }).toMatch(/Live/);

    const key = 'room.temperature';
    const tile = page.locator(`[data-testid="signal-${key}"]`);
    const readings = (values: Record<string, number>) => ({
      signals: Object.entries(values).map(([source, value]) => ({ key, source, value, sigma: 0.5, unit: '°C' })),
    });
    const post = async (body: unknown) => expect((await apiJson(hub.url, 'POST', '/api/v1/signals', { token: tenant.apiKey, body })).status).toBe(202);
    /** Each source's share, summed over its readings (the fusion may list several of one source). */
    const contributions = async () => {
      const items = tile.locator('[data-sources] li');
      const [sources, pcts] = await Promise.all([items.evaluateAll(readAttribute, 'data-source'), items.evaluateAll(readAttribute, 'data-contribution')]);
      const shares: Record<string, number> = {};
      sources.forEach((source, i) => (shares[source ?? ''] = (shares[source ?? ''] ?? 0) + Number(pcts[i])));
      return shares;
    };

    await post(readings({ 'sensor:a': 20, 'sensor:b': 21, 'sensor:c': 22 }));
    // Three equal sigmas: the mean, with sigma 0.5 / sqrt(3), shown to two significant digits
    // (and the unit, when the fused result carries one: the readings' unit or the key's rule).
    await expect.poll(() => tile.locator('[data-value]').innerText(), { timeout: 15_000 }).toMatch(/^21\.0\d ± 0\.29( °C)?$/);
    const firstText = await tile.locator('[data-value]').innerText();
    const first = await contributions();
    expect(Object.keys(first).sort()).toEqual(['sensor:a', 'sensor:b', 'sensor:c']);
    for (const pct of Object.values(first)) expect(pct).toBeCloseTo(100 / 3, 1);
    expect(await tile.locator('[data-meta]').innerText()).toMatch(/95 % interval 20\.4\d to 21\.5\d/);

    // A more precise reading from one source moves the value and takes a larger share.
    await post({ key, source: 'sensor:c', value: 23, sigma: 0.1, unit: '°C' });
    await expect.poll(() => tile.locator('[data-value]').innerText(), { timeout: 15_000 }).not.toBe(firstText);
    await expect.poll(async () => (await contributions())['sensor:c'] ?? 0, { timeout: 15_000 }).toBeGreaterThan(50);
    const second = await contributions();
    expect((second['sensor:a'] ?? 0) + (second['sensor:b'] ?? 0) + (second['sensor:c'] ?? 0)).toBeCloseTo(100, 0);
    expect(Number(await tile.locator('[data-chart]').getAttribute('data-points'))).toBeGreaterThanOrEqual(1);
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'dashboard-signal.png'), fullPage: true });

    expect(pageErrors).toEqual([]);
    expect(consoleErrors.map((message) => message.text())).toEqual([]);
    expectOnlyHubRequests(requests);
  });

  it('shows each integration connection in the Syncs tile with its sync live, and flags refused credentials at once', async () => {
    const { hub, tenant, sql } = fixture;
    const sim = await startProviderSimulator();
    try {
      const customers = Array.from({ length: 5 }, (_, i) => `buyer${i + 1}@example.com`);
      for (const email of customers) await sql`insert into users (tenant_id, external_id) values (${tenant.tenantId}, ${email})`;
      const records = sim.seed('shopify', 'dash-shop', { count: 120, emails: [...customers, 'nobody@example.com'], newestAt: Date.now() - 60_000, spanDays: 0.02 });
      const paid = records.filter((record) => record.status === 'paid' && customers.includes(record.email)).length;
      const admin = (method: string, route: string, body?: unknown) => apiJson<ConnectionView>(hub.url, method, `/api/v1/admin/connections${route}`, { token: tenant.apiKey, body });

      const { page, requests, consoleErrors, pageErrors } = await openDashboard();
      await signIn(page, tenant.apiKey);
      const tile = page.locator('[data-testid="syncs"]');
      // No connection yet: the tile says so and where to add one.
      await tile.locator('[data-none]').waitFor({ state: 'visible', timeout: 10_000 });
      expect(await tile.locator('[data-none]').innerText()).toMatch(/No integrations are connected.*POST \/api\/v1\/admin\/connections.*Integrations/);

      const created = await admin('POST', '', { provider: 'shopify', name: 'Dash <b>shop</b>', scheduleMinutes: null, settings: { shopDomain: 'dash-shop.myshopify.com', baseUrls: { api: `${sim.baseUrls.shopify('dash-shop')}/admin/api` } } });
      expect(created.status).toBe(201);
      const id = created.body.id;
      expect((await admin('PUT', `/${id}/credentials`, { apiKey: sim.tokens.shopify('dash-shop') })).status).toBe(200);
      const row = tile.locator(`[data-connection-id="${id}"]`);

      // A slow provider: twelve pages of ten, each answered after 250 ms, watched from the page as they come.
      sim.faults.slow('shopify', { delayMs: 250 });
      expect((await admin('POST', `/${id}/sync`)).status).toBe(202);
      const seen: string[] = [];
      const deadline = Date.now() + 20_000;
      for (let state: string | null = null; state !== 'completed' && Date.now() < deadline; await page.waitForTimeout(50)) {
        state = (await row.count()) > 0 ? await row.getAttribute('data-state') : null;
        const live = await row.locator('[data-value="live"]').allInnerTexts();
        const snapshot = `${state ?? '-'}|${live.join('')}`;
        if (seen.at(-1) !== snapshot) seen.push(snapshot);
      }
      // The progress named a connection the page did not know: it read the connections and shows this one by name.
      const running = seen.filter((snapshot) => snapshot.startsWith('running|Now: '));
      expect(running.length, seen.join('\n')).toBeGreaterThanOrEqual(2);
      const counted = running.map((snapshot) => Number(/(\d+) records/.exec(snapshot)?.[1]));
      expect(counted, seen.join('\n')).toEqual([...counted].sort((a, b) => a - b));
      expect(counted.at(-1), seen.join('\n')).toBeGreaterThan(counted[0] ?? 0);
      expect(seen.at(-1)).toBe('completed|');
      // The name is text, never markup.
      expect(await row.locator('.name').innerText()).toBe('Dash <b>shop</b>');
      expect(await row.locator('.provider').innerText()).toBe('Shopify');
      expect(await row.locator('[data-value="state"]').innerText()).toBe('Completed');
      expect(await row.locator('[data-value="last-run"]').innerText()).toMatch(new RegExp(`· 120 records, ${paid} events?$`));
      expect(await row.locator('[data-value="next-run"]').innerText()).toBe('Manual only');
      expect(await row.locator('[data-value="circuit"]').innerText()).toBe('closed');
      expect(await row.locator('[data-value="status"]').innerText()).toBe('Active');
      expect(await row.getAttribute('data-alert')).toBeNull();
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'dashboard-syncs.png'), fullPage: true });

      // Wrong credentials: the next sync is refused and the row says so live, without a reload.
      sim.faults.clear('shopify');
      expect((await admin('PUT', `/${id}/credentials`, { apiKey: 'shpat_not-the-right-key' })).status).toBe(200);
      const refusedAt = Date.now();
      expect((await admin('POST', `/${id}/sync`)).status).toBe(202);
      await page.waitForSelector(`[data-connection-id="${id}"][data-alert="needs_reauth"]`, { timeout: 10_000 });
      expect(Date.now() - refusedAt).toBeLessThan(10_000);
      expect(await row.locator('[data-value="status"]').innerText()).toMatch(/Needs re-authorization/);
      expect(await row.locator('[data-value="alert"]').innerText()).toMatch(/Needs re-authorization: .*PUT new credentials/);
      expect(requests.filter((url) => new URL(url).pathname === '/dashboard')).toHaveLength(1);
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'dashboard-syncs-reauth.png'), fullPage: true });

      expect(pageErrors).toEqual([]);
      expect(consoleErrors.map((message) => message.text())).toEqual([]);
      expectOnlyHubRequests(requests);
    } finally {
      await sim.close();
    }
  });
});
