import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectionProvider, ConnectionView, CreateConnectionInput } from '../contracts/api/connections.js';
import type { SimulatorInfo } from './demo-simulator.js';

/**
 * `npm run demo`'s integrations: one connection per provider on the demo tenant, pointing at the
 * provider simulator, set up through the hub's admin REST API like an operator would (curl in the
 * README). Idempotent per connection name: a later demo run finds its connections and points them
 * at the new simulator (its port changes each run, and its OAuth tokens die with it).
 */

/** The simulator's customers (customer1..40@example.com): as users of the tenant, their orders match. */
export const DEMO_CUSTOMERS = Array.from({ length: 40 }, (_, i) => `customer${i + 1}@example.com`);
/** The shortest schedule the API accepts, so the demo shows scheduled syncs too. */
const DEMO_SCHEDULE_MINUTES = 5;
const POLL_MS = 500;

export interface DemoApi {
  baseUrl: string;
  apiKey: string;
  signal?: AbortSignal;
}

type ConnectionSpec = Omit<CreateConnectionInput, 'scheduleMinutes' | 'mapping'> & {
  credentials: Record<string, string>;
  /** Authorized through the hub's OAuth flow (Etsy, TikTok Shop) rather than by an API key. */
  oauth: boolean;
};

async function call<T>(api: DemoApi, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(new URL(path, api.baseUrl), {
    method,
    headers: { authorization: `Bearer ${api.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(api.signal ? { signal: api.signal } : {}),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** The four demo connections: the simulator's first Shopify shop, its Stripe account, Etsy shop and TikTok shop. */
export function demoConnectionSpecs(sim: SimulatorInfo): ConnectionSpec[] {
  const [shop] = sim.shopify;
  if (!shop) throw new Error('the simulator names no Shopify shop');
  return [
    {
      provider: 'shopify',
      name: `Demo Shopify (${shop.shop})`,
      settings: { shopDomain: `${shop.shop}.myshopify.com`, apiVersion: '2025-01', baseUrls: { api: `${shop.baseUrl}/admin/api` } },
      credentials: { apiKey: shop.accessToken },
      oauth: false,
    },
    {
      provider: 'stripe',
      name: `Demo Stripe (${sim.stripe.account})`,
      settings: { accountId: sim.stripe.account, baseUrls: { api: sim.stripe.baseUrl } },
      credentials: { apiKey: sim.stripe.secretKey },
      oauth: false,
    },
    {
      provider: 'etsy',
      name: `Demo Etsy (${sim.etsy.shopId})`,
      settings: {
        shopId: sim.etsy.shopId,
        scopes: ['transactions_r', 'shops_r'],
        baseUrls: { api: `${sim.etsy.baseUrl}/v3`, authorize: sim.etsy.connectUrl, token: `${sim.etsy.baseUrl}/v3/public/oauth/token` },
      },
      credentials: { clientId: sim.etsy.keystring, clientSecret: sim.etsy.sharedSecret },
      oauth: true,
    },
    {
      provider: 'tiktok_shop',
      name: 'Demo TikTok Shop',
      // The hub links to TikTok's auth-host authorize page (app_key + state); the simulator serves it under its auth host too.
      settings: { baseUrls: { api: sim.tiktok.baseUrl, authorize: `${sim.tiktok.authUrl}/oauth/authorize`, token: `${sim.tiktok.authUrl}/api/v2/token/get` } },
      credentials: { clientId: sim.tiktok.appKey, clientSecret: sim.tiktok.appSecret },
      oauth: true,
    },
  ];
}

/** Makes the simulator's customers users of the tenant (minting a token creates the user), so synced orders match them. */
export async function ensureDemoCustomers(api: DemoApi): Promise<void> {
  for (const userId of DEMO_CUSTOMERS) await call(api, 'POST', '/api/v1/tokens', { userId });
}

async function connectionsByName(api: DemoApi): Promise<Map<string, ConnectionView>> {
  const byName = new Map<string, ConnectionView>();
  let cursor: string | null = null;
  do {
    const page: { connections: ConnectionView[]; nextCursor: string | null } = await call(api, 'GET', `/api/v1/admin/connections?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    for (const connection of page.connections) byName.set(connection.name, connection);
    cursor = page.nextCursor;
  } while (cursor);
  return byName;
}

/**
 * Follows the hub's authorize link as the seller's browser would: the simulator approves at once and
 * redirects to the hub's /oauth/callback with the code and state, where the hub exchanges the code.
 */
async function authorize(api: DemoApi, id: string): Promise<void> {
  const { authorizeUrl } = await call<{ authorizeUrl: string }>(api, 'GET', `/api/v1/admin/connections/${id}/authorize?redirect=false`);
  const consent = await fetch(authorizeUrl, { redirect: 'manual', ...(api.signal ? { signal: api.signal } : {}) });
  const callback = consent.headers.get('location');
  if (consent.status !== 302 || !callback) throw new Error(`the simulator's authorize page answered ${consent.status}: ${(await consent.text()).slice(0, 200)}`);
  const done = await fetch(callback, api.signal ? { signal: api.signal } : {});
  if (!done.ok) throw new Error(`the hub's OAuth callback answered ${done.status}: ${(await done.text()).slice(0, 300)}`);
}

/**
 * Creates or updates one connection, stores its secrets, authorizes it when it uses OAuth, and
 * queues a sync. Answers the connection as it was just before the sync was queued.
 */
async function connectOne(api: DemoApi, spec: ConnectionSpec, existing: ConnectionView | undefined): Promise<ConnectionView> {
  const { credentials, oauth, ...input } = spec;
  const shape = { settings: input.settings, scheduleMinutes: DEMO_SCHEDULE_MINUTES, mapping: { userField: 'email', eventTypes: { 'order.paid': 'order.paid' } } };
  const connection = existing
    ? await call<ConnectionView>(api, 'PATCH', `/api/v1/admin/connections/${existing.id}`, { ...shape, ...(existing.status === 'disabled' ? { status: 'active' } : {}) })
    : await call<ConnectionView>(api, 'POST', '/api/v1/admin/connections', { provider: input.provider, name: input.name, ...shape });
  await call(api, 'PUT', `/api/v1/admin/connections/${connection.id}/credentials`, credentials);
  // Tokens from an earlier run belong to a simulator that is gone: authorize again every time.
  if (oauth) await authorize(api, connection.id);
  const ready = await call<ConnectionView>(api, 'GET', `/api/v1/admin/connections/${connection.id}`);
  await call(api, 'POST', `/api/v1/admin/connections/${connection.id}/sync`);
  return ready;
}

export interface DemoConnectionResult {
  provider: ConnectionProvider;
  name: string;
  /** Set when it could not be connected. */
  error?: string;
  /** As it was when its sync was queued (then, after awaitDemoSyncs, as that sync left it). */
  connection?: ConnectionView;
}

/** Connects every provider to the simulator; one failing does not stop the others. */
export async function connectDemoProviders(api: DemoApi, sim: SimulatorInfo): Promise<DemoConnectionResult[]> {
  await ensureDemoCustomers(api);
  const existing = await connectionsByName(api);
  const results: DemoConnectionResult[] = [];
  for (const spec of demoConnectionSpecs(sim)) {
    try {
      results.push({ provider: spec.provider, name: spec.name, connection: await connectOne(api, spec, existing.get(spec.name)) });
    } catch (error) {
      if (api.signal?.aborted) throw error;
      results.push({ provider: spec.provider, name: spec.name, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return results;
}

/** Waits until a sync queued after `queued` was seen has ended (idle or failed), the connection stopped being active, or the timeout. */
async function awaitSyncEnd(api: DemoApi, queued: ConnectionView, deadline: number): Promise<ConnectionView> {
  for (;;) {
    const view = await call<ConnectionView>(api, 'GET', `/api/v1/admin/connections/${queued.id}`);
    const ended = view.sync.lastFinishedAt !== queued.sync.lastFinishedAt && (view.sync.state === 'idle' || view.sync.state === 'failed');
    if (ended || view.status !== 'active' || Date.now() >= deadline) return view;
    await sleep(POLL_MS, undefined, api.signal ? { signal: api.signal } : {});
  }
}

/** The connected results with their connection as their queued sync left it (or as it stands at the timeout). */
export async function awaitDemoSyncs(api: DemoApi, results: DemoConnectionResult[], timeoutMs: number): Promise<DemoConnectionResult[]> {
  const deadline = Date.now() + timeoutMs;
  return Promise.all(results.map(async (result) => (result.connection ? { ...result, connection: await awaitSyncEnd(api, result.connection, deadline) } : result)));
}

/**
 * Disables the connected demo connections (best effort, a few seconds at most): once the demo's
 * simulator is gone their schedules would only fail, and open the providers' circuits for every
 * tenant of the hub. The next demo run enables them again.
 */
export async function disableDemoConnections(api: DemoApi, results: DemoConnectionResult[]): Promise<void> {
  const quick = { baseUrl: api.baseUrl, apiKey: api.apiKey, signal: AbortSignal.timeout(3_000) };
  await Promise.allSettled(results.flatMap((result) => (result.connection ? [call(quick, 'PATCH', `/api/v1/admin/connections/${result.connection.id}`, { status: 'disabled' })] : [])));
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** One line per connection for the demo's output. */
export function describeDemoConnection(result: DemoConnectionResult): string {
  if (!result.connection) return `  ${result.name}: not connected (${result.error ?? 'unknown error'})`;
  const { status, sync } = result.connection;
  const run = sync.lastRun;
  const outcome =
    sync.state === 'failed' || sync.lastError
      ? `sync failed: ${sync.lastError ?? 'unknown error'}`
      : run && sync.state === 'idle'
        ? `synced ${count(run.records, 'record')} → ${count(run.events, 'event')} (${run.unmatched} unmatched) in ${(run.durationMs / 1000).toFixed(1)} s`
        : `sync ${sync.state}`;
  return `  ${result.name}: ${status}, every ${result.connection.scheduleMinutes ?? '-'} min; ${outcome}`;
}
