import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProviderSimulator, tiktokSign, type ProviderSimulator } from '../simulator/server.js';

let sim: ProviderSimulator;

beforeAll(async () => {
  sim = await startProviderSimulator();
});
afterAll(async () => {
  await sim.close();
});

const json = async <T>(res: Response) => (await res.json()) as T;
const sorted = (ids: string[]) => [...ids].sort();

function nextLink(link: string | null): string | undefined {
  return link
    ?.split(',')
    .map((part) => /<([^>]+)>;\s*rel="next"/.exec(part.trim())?.[1])
    .find(Boolean);
}

function pkcePair() {
  const verifier = randomBytes(48).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** A signed TikTok Shop call, the way a client must build it. */
async function tiktokCall(path: string, opts: { query?: Record<string, string>; body?: unknown; token: string; method?: string; tamper?: boolean }) {
  const { appKey, appSecret } = sim.credentials.tiktok;
  const query = new URLSearchParams({ app_key: appKey, timestamp: String(Math.floor(Date.now() / 1000)), ...opts.query });
  const body = opts.body === undefined ? '' : JSON.stringify(opts.body);
  const sign = tiktokSign({ path, query, body, appSecret });
  query.set('sign', opts.tamper ? sign.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) : sign);
  return fetch(`${sim.baseUrls.tiktok}${path}?${query.toString()}`, {
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    headers: { 'x-tts-access-token': opts.token, 'content-type': 'application/json' },
    ...(opts.body !== undefined && { body }),
  });
}

describe('provider simulator: Shopify', () => {
  it('pages orders through the Link header, every seeded order once, with the call-limit header', async () => {
    const seeded = sim.seed('shopify', 'paging-shop', 230);
    const token = sim.tokens.shopify('paging-shop');
    let url: string | undefined = `${sim.baseUrls.shopify('paging-shop')}/admin/api/2025-01/orders.json?limit=100&status=any`;
    const ids: string[] = [];
    const links: (string | null)[] = [];
    while (url) {
      const res = await fetch(url, { headers: { 'X-Shopify-Access-Token': token } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-shopify-shop-api-call-limit')).toMatch(/^\d+\/40$/);
      const body = await json<{ orders: { id: number; email: string; total_price: string; currency: string; updated_at: string }[] }>(res);
      ids.push(...body.orders.map((o) => String(o.id)));
      links.push(res.headers.get('link'));
      url = nextLink(res.headers.get('link'));
    }
    expect(ids).toHaveLength(230);
    expect(sorted(ids)).toEqual(sorted(seeded.map((r) => r.id)));
    expect(links[1]).toContain('rel="previous"');
    expect(links[2]).not.toContain('rel="next"');
    expect(sim.calls.count({ provider: 'shopify', account: 'paging-shop', endpoint: 'orders.list' })).toBe(3);
  });

  it('refuses a missing or wrong access token and page_info mixed with filters', async () => {
    sim.seed('shopify', 'auth-shop', 5);
    const base = `${sim.baseUrls.shopify('auth-shop')}/admin/api/2025-01/orders.json`;
    for (const headers of [{}, { 'X-Shopify-Access-Token': 'shpat_wrong' }]) {
      const res = await fetch(base, { headers });
      expect(res.status).toBe(401);
      expect(await json<unknown>(res)).toEqual({ errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' });
    }
    const res = await fetch(`${base}?page_info=abc&status=any`, { headers: { 'X-Shopify-Access-Token': sim.tokens.shopify('auth-shop') } });
    expect(res.status).toBe(400);
  });

  it('overflows its leaky bucket with 429 and Retry-After: 2.0', async () => {
    const small = await startProviderSimulator({ shopify: { bucketSize: 3, leakPerSecond: 0.5 } });
    try {
      small.seed('shopify', 'tiny', 3);
      const url = `${small.baseUrls.shopify('tiny')}/admin/api/2025-01/orders.json`;
      const statuses: (string | null)[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 4; i += 1) {
        last = await fetch(url, { headers: { 'X-Shopify-Access-Token': small.tokens.shopify('tiny') } });
        statuses.push(`${last.status} ${last.headers.get('x-shopify-shop-api-call-limit')}`);
      }
      expect(statuses).toEqual(['200 1/3', '200 2/3', '200 3/3', '429 3/3']);
      expect(last?.headers.get('retry-after')).toBe('2.0');
      expect(small.calls.list({ provider: 'shopify' }).at(-1)?.fault).toBe('bucket_full');
    } finally {
      await small.close();
    }
  });
});

describe('provider simulator: Stripe', () => {
  it('pages charges newest first with starting_after/has_more, every charge once', async () => {
    const seeded = sim.seed('stripe', 'acct_paging', 235);
    const key = sim.tokens.stripe('acct_paging');
    const ids: string[] = [];
    let after: string | undefined;
    let created = Infinity;
    for (;;) {
      const res = await fetch(`${sim.baseUrls.stripe}/v1/charges?limit=100${after ? `&starting_after=${after}` : ''}`, { headers: { Authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      const page = await json<{ object: string; url: string; has_more: boolean; data: { id: string; created: number; amount: number; currency: string; receipt_email: string }[] }>(res);
      expect(page).toMatchObject({ object: 'list', url: '/v1/charges' });
      for (const charge of page.data) {
        expect(charge.created).toBeLessThanOrEqual(created);
        created = charge.created;
      }
      ids.push(...page.data.map((c) => c.id));
      if (!page.has_more) break;
      after = page.data.at(-1)?.id;
    }
    expect(ids).toHaveLength(235);
    expect(sorted(ids)).toEqual(sorted(seeded.map((r) => r.id)));
    // Basic auth with the key as user name works too; events only reach back 30 days.
    const basic = await fetch(`${sim.baseUrls.stripe}/v1/events?limit=100`, { headers: { Authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` } });
    const events = await json<{ data: { type: string; created: number }[] }>(basic);
    expect(events.data.length).toBeGreaterThan(0);
    expect(Math.min(...events.data.map((e) => e.created))).toBeGreaterThanOrEqual(Date.now() / 1000 - 30 * 86_400 - 5);
  });

  it('answers 401 for a missing or invalid key, as Stripe does', async () => {
    sim.seed('stripe', 'acct_auth', 3);
    const missing = await fetch(`${sim.baseUrls.stripe}/v1/charges`);
    expect(missing.status).toBe(401);
    expect((await json<{ error: { message: string; type: string } }>(missing)).error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('You did not provide an API key') });
    const wrong = await fetch(`${sim.baseUrls.stripe}/v1/charges`, { headers: { Authorization: 'Bearer sk_test_51notarealkey000000000000' } });
    expect(wrong.status).toBe(401);
    expect((await json<{ error: { message: string } }>(wrong)).error.message).toMatch(/^Invalid API Key provided: sk_test_\*+0000$/);
  });
});

describe('provider simulator: Etsy', () => {
  it('runs the PKCE code flow (S256 checked), pages receipts by offset, and rotates refresh tokens', async () => {
    const seeded = sim.seed('etsy', '41000001', 130);
    const { keystring, apiKey } = sim.credentials.etsy;
    const redirectUri = 'https://hub.example/oauth/callback';
    const connect = (challenge: string, method = 'S256') =>
      fetch(
        `${sim.baseUrls.etsyConnect}?${new URLSearchParams({ response_type: 'code', client_id: keystring, redirect_uri: redirectUri, scope: 'transactions_r', state: 'st-1', code_challenge: challenge, code_challenge_method: method, sim_account: '41000001' }).toString()}`,
        { redirect: 'manual' },
      );
    const exchange = (code: string, verifier: string) =>
      fetch(`${sim.baseUrls.etsy}/v3/public/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', client_id: keystring, redirect_uri: redirectUri, code, code_verifier: verifier }).toString(),
      });

    const plain = new URL((await connect(pkcePair().challenge, 'plain')).headers.get('location') ?? '');
    expect(plain.searchParams.get('error')).toBe('invalid_request');

    const pair = pkcePair();
    const redirected = await connect(pair.challenge);
    expect(redirected.status).toBe(302);
    const location = new URL(redirected.headers.get('location') ?? '');
    expect(location.origin + location.pathname).toBe(redirectUri);
    expect(location.searchParams.get('state')).toBe('st-1');
    const code = location.searchParams.get('code') ?? '';

    const wrongVerifier = await exchange(code, pkcePair().verifier);
    expect(wrongVerifier.status).toBe(400);
    expect(await json<{ error: string }>(wrongVerifier)).toMatchObject({ error: 'invalid_grant' });
    // The code was spent by that attempt; a fresh one with the right verifier works.
    const code2 = new URL((await connect(pair.challenge)).headers.get('location') ?? '').searchParams.get('code') ?? '';
    const granted = await exchange(code2, pair.verifier);
    expect(granted.status).toBe(200);
    const tokens = await json<{ access_token: string; refresh_token: string; token_type: string; expires_in: number }>(granted);
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(tokens.access_token.startsWith(`${sim.accounts.etsyUserId('41000001')}.`)).toBe(true);
    expect((await exchange(code2, pair.verifier)).status).toBe(400); // single use

    const ids: string[] = [];
    for (let offset = 0; ; offset += 50) {
      const res = await fetch(`${sim.baseUrls.etsy}/v3/application/shops/41000001/receipts?limit=50&offset=${offset}`, {
        headers: { 'x-api-key': apiKey, Authorization: `Bearer ${tokens.access_token}` },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-limit-per-second')).toBe('10');
      const page = await json<{ count: number; results: { receipt_id: number; buyer_email: string; grandtotal: { amount: number; divisor: number; currency_code: string } }[] }>(res);
      expect(page.count).toBe(130);
      ids.push(...page.results.map((r) => String(r.receipt_id)));
      if (offset + 50 >= page.count) break;
    }
    expect(sorted(ids)).toEqual(sorted(seeded.map((r) => r.id)));

    const refresh = (token: string) =>
      fetch(`${sim.baseUrls.etsy}/v3/public/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', client_id: keystring, refresh_token: token }).toString(),
      });
    const rotated = await refresh(tokens.refresh_token);
    expect(rotated.status).toBe(200);
    const next = await json<{ refresh_token: string }>(rotated);
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    const reused = await refresh(tokens.refresh_token);
    expect(reused.status).toBe(400);
    expect(await json<{ error: string }>(reused)).toMatchObject({ error: 'invalid_grant' });
    expect(sim.tokens.liveRefreshTokens('etsy', '41000001')).toEqual([next.refresh_token]);
    expect(sim.calls.refreshes('etsy', '41000001')).toBe(2);
  });

  it('lets only one of two concurrent refreshes with the same refresh token win (rotation race)', async () => {
    sim.seed('etsy', '41000004', 3);
    const { refreshToken } = sim.tokens.issue('etsy', '41000004');
    const refresh = () =>
      fetch(`${sim.baseUrls.etsy}/v3/public/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', client_id: sim.credentials.etsy.keystring, refresh_token: refreshToken }).toString(),
      });
    const statuses = (await Promise.all([refresh(), refresh()])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 400]);
    expect(sim.calls.refreshes('etsy', '41000004')).toBe(2);
    expect(sim.tokens.liveRefreshTokens('etsy', '41000004')).toHaveLength(1);
  });

  it('refuses a missing API key, a key without its shared secret, and a bad bearer token', async () => {
    sim.seed('etsy', '41000002', 3);
    const { accessToken } = sim.tokens.issue('etsy', '41000002');
    const url = `${sim.baseUrls.etsy}/v3/application/shops/41000002/receipts`;
    expect((await fetch(url, { headers: { Authorization: `Bearer ${accessToken}` } })).status).toBe(403);
    expect((await fetch(url, { headers: { 'x-api-key': sim.credentials.etsy.keystring, Authorization: `Bearer ${accessToken}` } })).status).toBe(403);
    const bad = await fetch(url, { headers: { 'x-api-key': sim.credentials.etsy.apiKey, Authorization: 'Bearer 1.nope' } });
    expect(bad.status).toBe(401);
    expect(await json<{ error: string }>(bad)).toMatchObject({ error: 'invalid_token' });
  });
});

describe('provider simulator: TikTok Shop', () => {
  it.each([
    ['the consent page (service_id)', () => `${sim.baseUrls.tiktokAuthorize}?service_id=${sim.credentials.tiktok.serviceId}`],
    ['the auth-host authorize page the hub links to (app_key)', () => `${sim.baseUrls.tiktokAuth}/oauth/authorize?app_key=${sim.credentials.tiktok.appKey}`],
  ])('approves at once on %s: back to the redirect URL with a code that exchanges, and the state', async (_, base) => {
    sim.seed('tiktok', '7100009', 3);
    const redirect = 'https://hub.example/oauth/callback';
    const answer = await fetch(`${base()}&state=st-1&sim_account=7100009&sim_redirect_uri=${encodeURIComponent(redirect)}`, { redirect: 'manual' });
    expect(answer.status).toBe(302);
    const back = new URL(answer.headers.get('location') ?? '');
    expect(`${back.origin}${back.pathname}`).toBe(redirect);
    expect(back.searchParams.get('state')).toBe('st-1');
    const { appKey, appSecret } = sim.credentials.tiktok;
    const query = new URLSearchParams({ app_key: appKey, app_secret: appSecret, auth_code: back.searchParams.get('code') ?? '', grant_type: 'authorized_code' });
    expect(await json<{ code: number }>(await fetch(`${sim.baseUrls.tiktokAuth}/api/v2/token/get?${query.toString()}`))).toMatchObject({ code: 0 });
    // Another app's key (or service id) is refused.
    expect((await fetch(`${base()}x&state=st-2&sim_redirect_uri=${encodeURIComponent(redirect)}`, { redirect: 'manual' })).status).toBe(400);
  });

  it('exchanges an auth code, pages signed order searches, refuses a bad sign, and rotates refresh tokens', async () => {
    const seeded = sim.seed('tiktok', '7100001', 140);
    const { appKey, appSecret } = sim.credentials.tiktok;
    const code = sim.tokens.authCode('tiktok', '7100001');
    const got = await fetch(`${sim.baseUrls.tiktokAuth}/api/v2/token/get?${new URLSearchParams({ app_key: appKey, app_secret: appSecret, auth_code: code, grant_type: 'authorized_code' }).toString()}`);
    const tokenBody = await json<{ code: number; data: { access_token: string; refresh_token: string; access_token_expire_in: number } }>(got);
    expect(tokenBody.code).toBe(0);
    expect(tokenBody.data.access_token_expire_in).toBeGreaterThan(Date.now() / 1000);
    const token = tokenBody.data.access_token;

    const shops = await json<{ data: { shops: { id: string; cipher: string }[] } }>(await tiktokCall('/authorization/202309/shops', { token }));
    const cipher = shops.data.shops[0]?.cipher ?? '';
    expect(cipher).toBe(sim.accounts.tiktokShopCipher('7100001'));

    const ids: string[] = [];
    let pageToken = '';
    do {
      const res = await tiktokCall('/order/202309/orders/search', {
        token,
        query: { shop_cipher: cipher, page_size: '50', sort_field: 'create_time', sort_order: 'ASC', ...(pageToken && { page_token: pageToken }) },
        body: {},
      });
      const body = await json<{ code: number; data: { orders: { id: string; buyer_email: string; payment: { total_amount: string } }[]; next_page_token: string; total_count: number } }>(res);
      expect(body.code).toBe(0);
      ids.push(...body.data.orders.map((o) => o.id));
      pageToken = body.data.next_page_token;
    } while (pageToken);
    expect(sorted(ids)).toEqual(sorted(seeded.map((r) => r.id)));

    const tampered = await tiktokCall('/order/202309/orders/search', { token, query: { shop_cipher: cipher, page_size: '10' }, body: {}, tamper: true });
    expect(tampered.status).toBe(401);
    expect(await json<{ code: number }>(tampered)).toMatchObject({ code: 106001 });
    const badToken = await tiktokCall('/order/202309/orders/search', { token: 'ROW_nope', query: { shop_cipher: cipher, page_size: '10' }, body: {} });
    expect(badToken.status).toBe(401);

    const refresh = (rt: string) =>
      fetch(`${sim.baseUrls.tiktokAuth}/api/v2/token/refresh?${new URLSearchParams({ app_key: appKey, app_secret: appSecret, refresh_token: rt, grant_type: 'refresh_token' }).toString()}`).then((r) =>
        json<{ code: number; message: string; data: { refresh_token: string } | null }>(r),
      );
    const first = await refresh(tokenBody.data.refresh_token);
    expect(first.code).toBe(0);
    const again = await refresh(tokenBody.data.refresh_token);
    expect(again.code).not.toBe(0);
    expect(again.message).toContain('invalid_grant');
    expect(sim.calls.refreshes('tiktok', '7100001')).toBe(2);
  });
});

describe('provider simulator: faults and call counting', () => {
  it('sends 429 with Retry-After in seconds, refuses calls inside the window, then recovers', async () => {
    sim.seed('stripe', 'acct_429', 20);
    const call = () => fetch(`${sim.baseUrls.stripe}/v1/charges`, { headers: { Authorization: `Bearer ${sim.tokens.stripe('acct_429')}` } });
    sim.faults.rateLimit('stripe', { account: 'acct_429', retryAfterSeconds: 1 });
    const limited = await call();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await json<{ error: { code: string } }>(limited)).toMatchObject({ error: { code: 'rate_limit' } });
    expect((await call()).status).toBe(429); // too early
    expect(sim.calls.backoffViolations('stripe', 'acct_429')).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, sim.faults.backoffLeft('stripe', 'acct_429') + 20));
    expect((await call()).status).toBe(200);
  });

  it('sends 429 with Retry-After as an HTTP-date', async () => {
    sim.seed('shopify', 'date-shop', 5);
    sim.faults.rateLimit('shopify', { account: 'date-shop', retryAfterSeconds: 2, form: 'http-date' });
    const before = Date.now();
    const res = await fetch(`${sim.baseUrls.shopify('date-shop')}/admin/api/2025-01/orders.json`, { headers: { 'X-Shopify-Access-Token': sim.tokens.shopify('date-shop') } });
    expect(res.status).toBe(429);
    const header = res.headers.get('retry-after') ?? '';
    expect(header).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    const wait = Date.parse(header) - before;
    expect(wait).toBeGreaterThanOrEqual(1000);
    expect(wait).toBeLessThanOrEqual(3000);
    sim.faults.clear('shopify');
    expect(sim.faults.backoffLeft('shopify', 'date-shop')).toBe(0);
  });

  it('fails a burst of 5xx, then recovers; counts calls per provider, account and endpoint', async () => {
    sim.seed('stripe', 'acct_5xx', 10);
    sim.seed('stripe', 'acct_other', 10);
    sim.faults.serverError('stripe', { account: 'acct_5xx', times: 3, status: 503 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      statuses.push((await fetch(`${sim.baseUrls.stripe}/v1/charges`, { headers: { Authorization: `Bearer ${sim.tokens.stripe('acct_5xx')}` } })).status);
    }
    statuses.push((await fetch(`${sim.baseUrls.stripe}/v1/events`, { headers: { Authorization: `Bearer ${sim.tokens.stripe('acct_other')}` } })).status);
    expect(statuses).toEqual([503, 503, 503, 200, 200]);
    expect(sim.calls.count({ provider: 'stripe', account: 'acct_5xx' })).toBe(4);
    expect(sim.calls.count({ provider: 'stripe', account: 'acct_5xx', endpoint: 'charges.list' })).toBe(4);
    expect(sim.calls.count({ provider: 'stripe', account: 'acct_other', endpoint: 'events.list' })).toBe(1);
    expect(sim.calls.list({ provider: 'stripe', account: 'acct_5xx' }).filter((c) => c.fault === 'server_error')).toHaveLength(3);
    expect(sim.calls.summary().stripe?.acct_5xx).toEqual({ 'charges.list': 4 });
  });

  it('slows answers, expires tokens mid-sync, and changes a record between pages', async () => {
    sim.seed('etsy', '41000003', 60);
    const issued = sim.tokens.issue('etsy', '41000003');
    const page = (offset: number) =>
      fetch(`${sim.baseUrls.etsy}/v3/application/shops/41000003/receipts?limit=25&offset=${offset}&sort_order=asc`, {
        headers: { 'x-api-key': sim.credentials.etsy.apiKey, Authorization: `Bearer ${issued.accessToken}` },
      });
    sim.faults.slow('etsy', { account: '41000003', delayMs: 150, times: 1 });
    sim.faults.changeBetweenPages('etsy', { account: '41000003', afterPage: 1 });
    sim.faults.expireTokens('etsy', { account: '41000003', afterCalls: 2 });
    const started = Date.now();
    const first = await page(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const firstIds = (await json<{ results: { receipt_id: number }[] }>(first)).results.map((r) => String(r.receipt_id));
    expect(sim.changes.at(-1)).toMatchObject({ provider: 'etsy', account: '41000003', id: firstIds[0], version: 2 });
    expect(sim.records('etsy', '41000003').find((r) => r.id === firstIds[0])?.version).toBe(2);
    expect((await page(25)).status).toBe(200);
    const expired = await page(50);
    expect(expired.status).toBe(401);
    expect(await json<{ error_description: string }>(expired)).toMatchObject({ error_description: 'access token is expired' });
  });
});
