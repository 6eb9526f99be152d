import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, ConsoleMessage } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { queueNames } from '../../src/contracts/queues.js';
import { OPERATOR_CHALLENGE, QUEUE_BOARD_PATH } from '../../src/server/admin/queue-board.js';
import { launchChromium } from '../support/chromium.js';
import { projectRoot } from '../support/pulse-process.js';
import { rawRequest } from '../support/raw-http.js';
import { useTenantHub } from '../support/tenant-hub.js';

/**
 * Issue F, the queue admin UI: bull-board at /admin/queues on a real hub (role `all`), for the
 * operator only. Every path under it (page, static files, API) needs OPERATOR_TOKEN, as a Bearer
 * token or as the basic-auth password; a tenant's own API key is not enough.
 */

const OPERATOR_TOKEN = randomBytes(32).toString('base64url');
const WRONG_AUTH_LIMIT = 5;
/** Screenshots go here (gitignored). */
const OUTPUT_DIR = path.join(projectRoot, 'tests/output');

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('the queue admin UI (F)', { timeout: 120_000 }, () => {
  const fixture = useTenantHub('queue-board', {
    role: 'all',
    env: { OPERATOR_TOKEN, RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: String(WRONG_AUTH_LIMIT) },
  });
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
  });

  const get = (path: string, authorization?: string) =>
    rawRequest(fixture.hub.url, { path, headers: authorization ? { authorization } : {} });

  /** A file the board really serves (checked with the token below), so its 401 without one means something. */
  const staticAsset = `${QUEUE_BOARD_PATH}/static/images/logo.svg`;
  const protectedPaths = [QUEUE_BOARD_PATH, `${QUEUE_BOARD_PATH}/`, `${QUEUE_BOARD_PATH}/api/queues`, `${QUEUE_BOARD_PATH}/queue/engagement`, staticAsset];

  function expectRefused(response: Awaited<ReturnType<typeof get>>): void {
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe(OPERATOR_CHALLENGE);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(response.text)).toMatchObject({ status: 401, code: 'unauthorized' });
    for (const name of queueNames) expect(response.text).not.toContain(name);
    expect(response.text).not.toMatch(/bull|<html/i);
  }

  it('answers 401 problem+json with a basic-auth challenge on every path without the credential', async () => {
    for (const path of protectedPaths) expectRefused(await get(path));
    // The same path in other letter cases reaches the same (protected) mount.
    expectRefused(await get('/ADMIN/Queues/api/queues'));
  });

  it('refuses a wrong token, a tenant API key and malformed headers', async () => {
    expectRefused(await get(`${QUEUE_BOARD_PATH}/api/queues`, `Bearer ${OPERATOR_TOKEN}x`));
    expectRefused(await get(`${QUEUE_BOARD_PATH}/api/queues`, basic('operator', OPERATOR_TOKEN.slice(0, -1))));
    expectRefused(await get(`${QUEUE_BOARD_PATH}/api/queues`, `Bearer ${fixture.tenant.apiKey}`));
    // The token as the user name (no password) is not the token as password.
    expectRefused(await get(`${QUEUE_BOARD_PATH}/api/queues`, basic(OPERATOR_TOKEN, '')));
    expectRefused(await get(`${QUEUE_BOARD_PATH}/api/queues`, `Basic ${OPERATOR_TOKEN}`));
    expectRefused(await get(`${QUEUE_BOARD_PATH}/api/queues`, `Token ${OPERATOR_TOKEN}`));
  });

  it('lists every queue through the API with the Bearer token', async () => {
    const response = await get(`${QUEUE_BOARD_PATH}/api/queues`, `Bearer ${OPERATOR_TOKEN}`);
    expect(response.status).toBe(200);
    const body = JSON.parse(response.text) as { queues: { name: string; counts: Record<string, number> }[] };
    expect(body.queues.map((queue) => queue.name).sort()).toEqual([...queueNames].sort());
    for (const queue of body.queues) expect(queue.counts).toEqual(expect.objectContaining({ failed: expect.any(Number) as number }));
  });

  it('serves the page and its files with basic auth (any user name, the token as password)', async () => {
    const page = await get(QUEUE_BOARD_PATH, basic('anyone', OPERATOR_TOKEN));
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    // setBasePath matches the mount: the page resolves its files and API calls from here.
    expect(page.text).toContain(`<base href="${QUEUE_BOARD_PATH}/" />`);
    expect(page.text).toContain('Pulse Hub queues');
    // No external stylesheet (Google Fonts) left in the page.
    expect(page.text).not.toMatch(/https?:\/\//);
    const scripts = [...page.text.matchAll(/<script defer src="([^"]+)"/g)].map((match) => match[1]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const file of [...scripts, 'static/images/logo.svg']) {
      expect((await get(`${QUEUE_BOARD_PATH}/${file}`, basic('', OPERATOR_TOKEN))).status, file).toBe(200);
    }
    expect((await get(`${QUEUE_BOARD_PATH}/static/missing.js`, basic('', OPERATOR_TOKEN))).status).toBe(404);
  });

  it('refuses a state-changing request that a browser marks as cross-site', async () => {
    const put = (headers: Record<string, string>) =>
      rawRequest(fixture.hub.url, { method: 'PUT', path: `${QUEUE_BOARD_PATH}/api/queues/no-such-queue/pause`, headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, ...headers } });
    expect((await put({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await put({ origin: 'https://evil.example' })).status).toBe(403);
    // From its own page (or a script without a browser's headers) the request reaches bull-board, which knows no such queue.
    const host = new URL(fixture.hub.url).host;
    expect((await put({ 'sec-fetch-site': 'same-origin', origin: `http://${host}` })).status).toBe(404);
    expect((await put({})).status).toBe(404);
  });

  it('renders the queues in Chromium under the CSP, with no console error', async () => {
    browser = await launchChromium();
    const hubOrigin = new URL(fixture.hub.url).origin;
    const context = await browser.newContext({ httpCredentials: { username: 'operator', password: OPERATOR_TOKEN } });
    const requests: string[] = [];
    const consoleErrors: ConsoleMessage[] = [];
    const pageErrors: Error[] = [];
    // Nothing but the hub is reachable: an external request would fail (and show up below).
    await context.route('**/*', (route) => (new URL(route.request().url()).origin === hubOrigin ? route.continue() : route.abort('blockedbyclient')));
    const page = await context.newPage();
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message);
    });
    page.on('pageerror', (error) => pageErrors.push(error));
    try {
      const response = await page.goto(`${fixture.hub.url}${QUEUE_BOARD_PATH}`);
      expect(response?.status()).toBe(200);
      expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
      for (const name of queueNames) await page.getByRole('link', { name, exact: true }).first().waitFor({ timeout: 20_000 });
      // Let the board's polling run a round more.
      await page.waitForTimeout(1_000);
      expect(consoleErrors.map((message) => message.text())).toEqual([]);
      expect(pageErrors.map((error) => error.message)).toEqual([]);
      for (const url of requests) expect(new URL(url).origin, url).toBe(hubOrigin);
      expect(requests.some((url) => url.includes(`${QUEUE_BOARD_PATH}/api/queues`))).toBe(true);
      await mkdir(OUTPUT_DIR, { recursive: true });
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'queue-board.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('counts wrong tokens against the address: 429 past the auth-failure limit, while the right token still works', async () => {
    let last = 0;
    for (let attempt = 0; attempt <= WRONG_AUTH_LIMIT + 1; attempt += 1) {
      last = (await get(`${QUEUE_BOARD_PATH}/api/queues`, `Bearer wrong-${attempt}`)).status;
    }
    expect(last).toBe(429);
    expect((await get(`${QUEUE_BOARD_PATH}/api/queues`, `Bearer ${OPERATOR_TOKEN}`)).status).toBe(200);
  });
});
