import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerSettingsSchemas, type ConnectionProvider } from '../../src/contracts/api/connections.js';
import { apiRequest } from '../../src/services/integrations/providers/api-request.js';
import { endpointsFor, providers } from '../../src/services/integrations/providers/index.js';
import {
  ProviderAuthError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderUnavailableError,
  type ProviderAuth,
  type ProviderCall,
  type RemotePage,
  type RemoteRecord,
  type SyncCursor,
} from '../../src/services/integrations/providers/sync-types.js';
import { startProviderSimulator, type ProviderName, type ProviderSimulator, type SimRecord } from '../simulator/server.js';

const DAY = 86_400_000;

interface Harness {
  provider: ConnectionProvider;
  sim: ProviderName;
  account: string;
  settings: Record<string, unknown>;
  auth: () => ProviderAuth;
  /** Credentials the provider refuses. */
  wrongAuth: () => ProviderAuth;
  /** The time a record's listing filters on. */
  changedAt: (record: SimRecord) => number;
}

let sim: ProviderSimulator;

const harnesses = (): Harness[] => [
  {
    provider: 'shopify',
    sim: 'shopify',
    account: 'sync-shop',
    settings: { shopDomain: 'sync-shop.myshopify.com', baseUrls: { api: `${sim.baseUrls.shopify('sync-shop')}/admin/api` } },
    auth: () => ({ apiKey: sim.tokens.shopify('sync-shop') }),
    wrongAuth: () => ({ apiKey: 'shpat_00000000000000000000000000000000' }),
    changedAt: (r) => r.updatedAt,
  },
  {
    provider: 'stripe',
    sim: 'stripe',
    account: 'acct_sync',
    settings: { accountId: 'acct_sync', baseUrls: { api: sim.baseUrls.stripe } },
    auth: () => ({ apiKey: sim.tokens.stripe('acct_sync') }),
    wrongAuth: () => ({ apiKey: 'sk_test_51notarealkey0000000000000000' }),
    // Charges are listed by creation; events (the run since 10 days) also by the time of a later version.
    changedAt: (r) => (r.version > 1 ? r.updatedAt : r.createdAt),
  },
  {
    provider: 'etsy',
    sim: 'etsy',
    account: '40000123',
    settings: { shopId: '40000123', baseUrls: { api: `${sim.baseUrls.etsy}/v3` } },
    auth: () => ({ clientId: sim.credentials.etsy.keystring, clientSecret: sim.credentials.etsy.sharedSecret, accessToken: sim.tokens.issue('etsy', '40000123').accessToken }),
    wrongAuth: () => ({ clientId: sim.credentials.etsy.keystring, clientSecret: sim.credentials.etsy.sharedSecret, accessToken: '40000123.not-a-token' }),
    changedAt: (r) => r.updatedAt,
  },
  {
    provider: 'tiktok_shop',
    sim: 'tiktok',
    account: '7000123',
    settings: { baseUrls: { api: sim.baseUrls.tiktok } },
    auth: () => ({ clientId: sim.credentials.tiktok.appKey, clientSecret: sim.credentials.tiktok.appSecret, accessToken: sim.tokens.issue('tiktok', '7000123').accessToken }),
    wrongAuth: () => ({ clientId: sim.credentials.tiktok.appKey, clientSecret: 'wrong-app-secret', accessToken: sim.tokens.issue('tiktok', '7000123').accessToken }),
    changedAt: (r) => r.updatedAt,
  },
];

beforeAll(async () => {
  sim = await startProviderSimulator();
});
afterAll(async () => {
  await sim?.close();
});

const kindOf = { paid: 'order.paid', pending: 'order.pending', refunded: 'order.refunded' } as const;
const roundTrip = (cursor: SyncCursor): SyncCursor => JSON.parse(JSON.stringify(cursor)) as SyncCursor;
const wholeSecond = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);

describe.each(['shopify', 'stripe', 'etsy', 'tiktok_shop'] as const)('%s sync adapter', (provider) => {
  let h: Harness;
  let seeded: SimRecord[];
  let auth: ProviderAuth;
  const calls: ProviderCall[] = [];

  function listPage(cursor: SyncCursor, since: Date, options: { auth?: ProviderAuth; pageSize?: number } = {}): Promise<RemotePage> {
    const adapter = providers[provider].sync as (typeof providers)['shopify']['sync'];
    const settings = providerSettingsSchemas[provider].parse(h.settings) as never;
    return adapter.listPage({
      endpoints: endpointsFor(provider, h.settings),
      settings,
      auth: options.auth ?? auth,
      cursor,
      since,
      pageSize: options.pageSize ?? 50,
      observe: (call) => calls.push(call),
    });
  }

  /** Pages until done (or `maxPages`), waiting out each page's pauseMs as the engine does; every cursor goes through JSON. */
  async function run(cursor: SyncCursor, since: Date, maxPages = Infinity) {
    const records: RemoteRecord[] = [];
    let pages = 0;
    let done = false;
    while (!done && pages < maxPages) {
      const page = await listPage(cursor, since);
      records.push(...page.records);
      cursor = roundTrip(page.cursor);
      done = page.done;
      pages += 1;
      if (page.pauseMs) await sleep(page.pauseMs);
    }
    return { records, cursor, pages, done };
  }

  const expectMapped = (record: RemoteRecord | undefined, source: SimRecord) => {
    expect(record).toMatchObject({ id: source.id, kind: kindOf[source.status], value: source.amountMinor / 100, currency: source.currency, userKeys: { email: source.email.toLowerCase() } });
    expect(record?.userKeys.customer_id ?? 'none').toMatch(provider === 'stripe' ? /^none$/ : /^\d+$/);
  };

  beforeAll(() => {
    h = harnesses().find((x) => x.provider === provider) as Harness;
    seeded = sim.seed(h.sim, h.account, { count: 250, emails: ['Ann@Example.com ', 'bob@example.com', 'CAROL@EXAMPLE.COM'] });
    auth = h.auth();
  });

  it('backfills every record exactly once, mapped, one observed call per HTTP call; the next sync returns only a change', async () => {
    const from = Date.now();
    calls.length = 0;
    const backfill = await run({}, new Date(Date.now() - 120 * DAY));
    expect(backfill.done).toBe(true);
    expect(backfill.pages).toBeGreaterThanOrEqual(5);
    expect(backfill.records.map((r) => r.id).sort()).toEqual(seeded.map((r) => r.id).sort());
    const byId = new Map(backfill.records.map((r) => [r.id, r]));
    for (const source of seeded) expectMapped(byId.get(source.id), { ...source, email: source.email.trim() });
    expect(new Set(backfill.records.map((r) => r.kind))).toEqual(new Set(['order.paid', 'order.pending', 'order.refunded']));
    expect(calls).toHaveLength(sim.calls.count({ provider: h.sim, account: h.account, since: from }));
    expect(calls.every((c) => c.provider === provider && c.status === 200 && c.durationMs >= 0)).toBe(true);

    // An old record changes (a refund of a months-old order): the next sync brings it back, not the backlog.
    const old = seeded[9] as SimRecord;
    const before = byId.get(old.id) as RemoteRecord;
    const change = sim.changeRecord(h.sim, h.account, old.id);
    const incremental = await run(backfill.cursor, new Date(0));
    expect(incremental.done).toBe(true);
    const changed = incremental.records.filter((r) => r.id === old.id);
    expect(changed).toHaveLength(1);
    expect(changed[0]?.version).not.toBe(before.version);
    expect(changed[0]?.updatedAt.getTime()).toBe(change.updatedAt);
    expect(incremental.records.length).toBeLessThan(10);

    // From that checkpoint: at most the overlap (the same versions again), nothing new.
    const again = await run(incremental.cursor, new Date(0));
    const known = new Set(incremental.records.map((r) => `${r.id}@${r.version}`));
    expect(again.records.every((r) => known.has(`${r.id}@${r.version}`))).toBe(true);
  });

  it('resumes from a mid-run cursor (plain JSON) without loss, and keeps a record changed mid-run', async () => {
    const since = new Date(Date.now() - 120 * DAY);
    const first = await run({}, since, 2);
    expect(first.done).toBe(false);
    sim.faults.changeBetweenPages(h.sim, { account: h.account, afterPage: 1 });
    const rest = await run(JSON.parse(JSON.stringify(first.cursor)) as SyncCursor, since);
    const mover = sim.changes.at(-1);
    const ids = new Set([...first.records, ...rest.records].map((r) => r.id));
    expect([...ids].sort()).toEqual(seeded.map((r) => r.id).sort());
    // The moved record comes back in its new version: later in the same run, or (Stripe charges, listed by creation) in the next sync.
    const next = await run(rest.cursor, new Date(0));
    const versions = [...rest.records, ...next.records].filter((r) => r.id === mover?.id).map((r) => r.updatedAt.getTime());
    expect(versions).toContain(mover?.updatedAt);
  });

  it('bounds the backfill by since', async () => {
    const since = wholeSecond(Date.now() - 10 * DAY);
    const bounded = await run({}, since);
    const current = sim.records(h.sim, h.account);
    const expected = current.filter((r) => h.changedAt(r) >= since.getTime()).map((r) => r.id);
    expect(expected.length).toBeGreaterThan(10);
    expect([...new Set(bounded.records.map((r) => r.id))].sort()).toEqual(expected.sort());
  });

  it.each(['seconds', 'http-date'] as const)('turns a 429 (Retry-After as %s) into ProviderRateLimitError with the wait', async (form) => {
    sim.faults.rateLimit(h.sim, { account: h.account, retryAfterSeconds: 2, form });
    try {
      const error = await listPage({}, new Date(Date.now() - DAY)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProviderRateLimitError);
      const wait = (error as ProviderRateLimitError).retryAfterMs ?? 0;
      // An HTTP-date has whole seconds: the simulator rounds its end up.
      expect(wait).toBeGreaterThanOrEqual(form === 'seconds' ? 2000 : 1000);
      expect(wait).toBeLessThanOrEqual(form === 'seconds' ? 2000 : 3000);
    } finally {
      sim.faults.clear(h.sim);
    }
  });

  it('turns a 5xx into ProviderUnavailableError and refused credentials into ProviderAuthError, naming no secret', async () => {
    calls.length = 0;
    sim.faults.serverError(h.sim, { account: h.account, times: 1, status: 503 });
    const unavailable = await listPage({}, new Date(Date.now() - DAY)).catch((e: unknown) => e);
    expect(unavailable).toBeInstanceOf(ProviderUnavailableError);
    expect((unavailable as ProviderUnavailableError).httpStatus).toBe(503);
    expect(calls.map((c) => c.status)).toEqual([503]);

    const wrong = h.wrongAuth();
    const refused = await listPage({}, new Date(Date.now() - DAY), { auth: wrong }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProviderAuthError);
    for (const error of [unavailable, refused] as Error[]) {
      for (const secret of [...Object.values(wrong), ...Object.values(auth)]) expect(error.message).not.toContain(secret);
      expect(error.message).not.toContain(sim.url);
    }
  });
});

describe('shopify call-limit bucket', () => {
  it('asks for a pause once the bucket is 80 % full, pacing the calls at its 2/s leak', async () => {
    const small = await startProviderSimulator({ shopify: { bucketSize: 5 } });
    try {
      small.seed('shopify', 'tiny', 3);
      const settings = providerSettingsSchemas.shopify.parse({ shopDomain: 'tiny.myshopify.com', baseUrls: { api: `${small.baseUrls.shopify('tiny')}/admin/api` } });
      const request = { endpoints: endpointsFor('shopify', settings), settings, auth: { apiKey: small.tokens.shopify('tiny') }, cursor: {}, since: new Date(0), pageSize: 50 };
      const pauses: (number | undefined)[] = [];
      for (let i = 0; i < 4; i += 1) pauses.push((await providers.shopify.sync.listPage(request)).pauseMs);
      // 1/5, 2/5, 3/5 leave room; 4/5 is the 80 % mark: (4 − 4 + 1) / 2 s.
      expect(pauses.slice(0, 3)).toEqual([undefined, undefined, undefined]);
      expect(pauses[3]).toBe(500);
      // Honouring the pauses paces the calls at the leak rate: at the mark, never over the top into a 429.
      for (let i = 0; i < 4; i += 1) {
        await sleep(pauses.at(-1) ?? 0);
        pauses.push((await providers.shopify.sync.listPage(request)).pauseMs);
      }
      expect(pauses.slice(4)).toEqual([500, 500, 500, 500]);
      expect(small.calls.count({ provider: 'shopify', account: 'tiny' })).toBe(8);
      expect(small.calls.list({ provider: 'shopify' }).every((c) => c.status === 200)).toBe(true);
      await sleep(1500);
      expect((await providers.shopify.sync.listPage(request)).pauseMs).toBeUndefined();
    } finally {
      await small.close();
    }
  });
});

describe('etsy per-second limit', () => {
  it('asks for a one-second pause when x-remaining-this-second reaches 0', async () => {
    const small = await startProviderSimulator({ etsy: { perSecond: 3 } });
    try {
      small.seed('etsy', '40000999', 3);
      const settings = providerSettingsSchemas.etsy.parse({ shopId: '40000999', baseUrls: { api: `${small.baseUrls.etsy}/v3` } });
      const { keystring, sharedSecret } = small.credentials.etsy;
      const auth = { clientId: keystring, clientSecret: sharedSecret, accessToken: small.tokens.issue('etsy', '40000999').accessToken };
      const request = { endpoints: endpointsFor('etsy', settings), settings, auth, cursor: {}, since: new Date(0), pageSize: 50 };
      let pauseMs: number | undefined;
      // A second may roll over between calls (the budget refills): at most two budgets' worth of calls.
      for (let i = 0; i < 6 && pauseMs === undefined; i += 1) pauseMs = (await providers.etsy.sync.listPage(request)).pauseMs;
      expect(pauseMs).toBe(1000);
      await sleep(pauseMs ?? 0);
      await expect(providers.etsy.sync.listPage(request)).resolves.toMatchObject({ done: true });
    } finally {
      await small.close();
    }
  });
});

describe('apiRequest', () => {
  const call = (url: string, extra: Partial<Parameters<typeof apiRequest>[0]> = {}) => {
    const observed: ProviderCall[] = [];
    const result = apiRequest({ provider: 'stripe', endpoint: 'charges.list', url, headers: { authorization: `Bearer ${sim.tokens.stripe('acct_sync')}` }, observe: (c) => observed.push(c), ...extra });
    return { result, observed };
  };

  it('times out a stalled call as ProviderUnavailableError, observed as timeout', async () => {
    sim.faults.slow('stripe', { delayMs: 1000, times: 1 });
    const { result, observed } = call(`${sim.baseUrls.stripe}/v1/charges?limit=1`, { timeoutMs: 100 });
    const error = await result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toBe('stripe charges.list timed out');
    expect(observed.map((c) => c.status)).toEqual(['timeout']);
  });

  it('reports an unreachable host as network, and a caller abort as the abort itself', async () => {
    const closed = await startProviderSimulator();
    const url = `${closed.baseUrls.stripe}/v1/charges?key=sk_secret_in_query`;
    await closed.close();
    const unreachable = call(url);
    const error = await unreachable.result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).not.toContain('sk_secret_in_query');
    expect(unreachable.observed.map((c) => c.status)).toEqual(['network']);

    sim.faults.slow('stripe', { delayMs: 500, times: 1 });
    const controller = new AbortController();
    const aborted = call(`${sim.baseUrls.stripe}/v1/charges?limit=1`, { signal: controller.signal });
    controller.abort(new Error('shutting down'));
    await expect(aborted.result).rejects.toThrow('shutting down');
    expect(aborted.observed).toHaveLength(1);
    // The abort may come before the request reaches the simulator: the slow switch would still be armed.
    sim.faults.clear('stripe');
  });

  it('answers another refusal (404) as ProviderResponseError', async () => {
    const { result } = call(`${sim.baseUrls.stripe}/v1/charges?limit=1&starting_after=ch_missing`);
    const error = await result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect((error as ProviderResponseError).httpStatus).toBe(404);
  });
});
