import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, type CreatedTenant } from '../../src/repositories/tenants.js';
import { mintTokens, postEvents } from '../support/api-client.js';
import { launchChromium } from '../support/chromium.js';
import { rawRequest } from '../support/engine-io.js';
import { useActivityOnlyRules } from '../support/engine-rules.js';
import { projectRoot } from '../support/pulse-process.js';
import { connected, openSocket, type TestSocket } from '../support/socket-client.js';
import { createTestDatabase, startTestHub, type TestDatabase, type TestHub } from '../support/test-env.js';

/**
 * E1 in a real browser: a page on another origin than the hub, using the stock Socket.IO client
 * with its default transports (long-polling first, then the websocket upgrade).
 */

/** The page: the stock client bundle, and a `start` that connects and records what happens. */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>pulse origin test</title>
<script src="/socket.io.min.js"></script>
<script>
  window.state = { firstTransport: null, upgradedTo: null, connected: false, updates: [], errors: [] };
  window.start = (url, token) => new Promise((resolve) => {
    const socket = io(url, { auth: { token }, reconnection: false });
    window.socket = socket;
    state.firstTransport = socket.io.engine.transport.name;
    socket.io.engine.on('upgrade', (transport) => { state.upgradedTo = transport.name; });
    socket.on('activity:recorded', (update) => state.updates.push(update.eventId));
    socket.on('connect', () => { state.connected = true; resolve({ connected: true }); });
    socket.on('connect_error', (error) => {
      state.errors.push(error.message);
      resolve({ connected: false, error: error.message });
    });
  });
</script></head><body><p>pulse origin test</p></body></html>`;

interface PageState {
  firstTransport: string | null;
  upgradedTo: string | null;
  connected: boolean;
  updates: string[];
  errors: string[];
}
interface PageApi {
  state: PageState;
  start(url: string, token: string): Promise<{ connected: boolean; error?: string }>;
}

/** A loopback server for the page and the client bundle, on a port (so an origin) of its own. */
async function startPageServer(): Promise<{ origin: string; served: string[]; close(): Promise<void> }> {
  const bundle = await readFile(path.join(projectRoot, 'node_modules/socket.io-client/dist/socket.io.min.js'));
  const served: string[] = [];
  const server = http.createServer((request, response) => {
    served.push(request.url ?? '');
    if (request.url === '/') response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    else if (request.url === '/socket.io.min.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    served,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// A browser and two hubs on two shared cores: generous time, the assertions stay strict.
describe('a browser page on another origin (E1)', { timeout: 90_000 }, () => {
  let browser: Browser;
  let pageServer: Awaited<ReturnType<typeof startPageServer>>;
  const databases: TestDatabase[] = [];
  const hubs: TestHub[] = [];
  const sockets: TestSocket[] = [];
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    [browser, pageServer] = await Promise.all([launchChromium(), startPageServer()]);
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
    for (const socket of sockets.splice(0)) socket.disconnect();
  });
  afterAll(async () => {
    await browser?.close();
    for (const hub of hubs) await hub.stop();
    for (const database of databases) await database.drop();
    await pageServer?.close();
  });

  async function hubWith(corsOrigins: string): Promise<{ hub: TestHub; tenant: CreatedTenant }> {
    const database = await createTestDatabase();
    databases.push(database);
    const hub = await startTestHub(database, { env: { CORS_ORIGINS: corsOrigins } });
    hubs.push(hub);
    const tenant = await createTenant(hub.context.database.db, { name: 'browser', actor: 'test' });
    await useActivityOnlyRules(hub.context.database.db, tenant.tenantId);
    return { hub, tenant };
  }

  /** The page, loaded in a fresh context that may reach only the page server and the hub. */
  async function openPage(hubUrl: string): Promise<{ page: Page; requests: string[]; websockets: string[]; blocked: string[]; consoleLines: string[] }> {
    context = await browser.newContext();
    const requests: string[] = [];
    const websockets: string[] = [];
    const blocked: string[] = [];
    const consoleLines: string[] = [];
    const allowedOrigins = new Set([pageServer.origin, new URL(hubUrl).origin]);
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (allowedOrigins.has(new URL(url).origin)) return route.continue();
      blocked.push(url);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('request', (request) => requests.push(request.url()));
    page.on('websocket', (socket) => websockets.push(socket.url()));
    page.on('console', (message) => consoleLines.push(message.text()));
    await page.goto(`${pageServer.origin}/`);
    return { page, requests, websockets, blocked, consoleLines };
  }

  const pageState = (page: Page) => page.evaluate(() => (globalThis as unknown as PageApi).state);

  it('connects from a listed origin: polling handshake, websocket upgrade, live updates', async () => {
    const { hub, tenant } = await hubWith(`http://elsewhere.test, ${pageServer.origin}`);
    const { accessToken } = await mintTokens(hub.url, tenant.apiKey, { userId: 'browser-user' });
    const { page, requests, websockets, blocked } = await openPage(hub.url);
    expect(new URL(hub.url).origin).not.toBe(pageServer.origin);

    const outcome = await page.evaluate(([url, token]) => (globalThis as unknown as PageApi).start(url, token), [hub.url, accessToken] as const);
    expect(outcome).toEqual({ connected: true });
    await page.waitForFunction(() => (globalThis as unknown as PageApi).state.upgradedTo !== null, undefined, { timeout: 20_000 });
    const state = await pageState(page);
    expect(state).toMatchObject({ firstTransport: 'polling', upgradedTo: 'websocket', errors: [] });
    expect(requests.some((url) => url.startsWith(`${hub.url}/socket.io/?EIO=4&transport=polling`))).toBe(true);
    expect(websockets.some((url) => url.startsWith(`${hub.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`))).toBe(true);

    const posted = await postEvents(hub.url, tenant.apiKey, { type: 'page.viewed', userId: 'browser-user' });
    expect(posted.status).toBe(202);
    const eventId = posted.body.accepted[0]?.id as string;
    await page.waitForFunction((id) => (globalThis as unknown as PageApi).state.updates.includes(id), eventId, { timeout: 30_000 }).catch(async (error: unknown) => {
      throw new Error(`no update ${eventId} in the page; its state: ${JSON.stringify(await pageState(page))}`, { cause: error });
    });

    // Nothing but the page server and the hub was asked for anything.
    expect(blocked).toEqual([]);
    for (const url of [...requests, ...websockets]) expect([pageServer.origin, new URL(hub.url).origin]).toContain(new URL(url.replace(/^ws/, 'http')).origin);
    expect(pageServer.served).toEqual(expect.arrayContaining(['/', '/socket.io.min.js']));
  });

  it('cannot connect from an origin the hub does not list, and the hub keeps serving', async () => {
    const { hub, tenant } = await hubWith('http://elsewhere.test');
    const { accessToken } = await mintTokens(hub.url, tenant.apiKey, { userId: 'browser-user' });
    const { page, requests, websockets, blocked, consoleLines } = await openPage(hub.url);

    const outcome = await page.evaluate(([url, token]) => (globalThis as unknown as PageApi).start(url, token), [hub.url, accessToken] as const);
    expect(outcome).toMatchObject({ connected: false, error: 'xhr poll error' });
    const state = await pageState(page);
    expect(state).toMatchObject({ firstTransport: 'polling', upgradedTo: null, connected: false, updates: [] });
    // The browser did try (a polling handshake), was refused, and never opened a websocket.
    expect(requests.some((url) => url.startsWith(`${hub.url}/socket.io/?EIO=4&transport=polling`))).toBe(true);
    expect(websockets).toEqual([]);
    expect(consoleLines.some((line) => line.includes('CORS') || line.includes('403'))).toBe(true);
    expect(blocked).toEqual([]);

    // The hub is fine, and serves a client that is not a cross-origin page.
    expect((await rawRequest(hub.url, '/healthz')).status).toBe(200);
    const socket = openSocket(hub.url, accessToken);
    sockets.push(socket);
    await connected(socket);
    const received = new Promise<{ eventId: string }>((resolve) => socket.once('activity:recorded', resolve));
    const posted = await postEvents(hub.url, tenant.apiKey, { type: 'page.viewed', userId: 'browser-user' });
    expect((await received).eventId).toBe(posted.body.accepted[0]?.id);
  });
});
