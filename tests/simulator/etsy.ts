/**
 * Etsy Open API v3 (shop receipts), as documented on developers.etsy.com:
 * - OAuth 2.0 authorization code grant with PKCE (https://developers.etsy.com/documentation/essentials/authentication):
 *   `GET https://www.etsy.com/oauth/connect?response_type=code&client_id&redirect_uri&scope&state&code_challenge&code_challenge_method=S256`
 *   redirects back with `code` and `state`; `POST https://api.etsy.com/v3/public/oauth/token` (form) exchanges
 *   `grant_type=authorization_code, client_id, redirect_uri, code, code_verifier` and refreshes with
 *   `grant_type=refresh_token, client_id, refresh_token`; answers `{access_token, token_type:"Bearer",
 *   expires_in:3600, refresh_token}`; tokens are prefixed with the user id (`12345678.…`). A refresh
 *   rotates the refresh token: the old one is revoked (`invalid_grant` when used again);
 * - every request carries `x-api-key: {keystring}:{shared_secret}` (the shared secret is required since
 *   Feb 2026, etsy/open-api discussion #1529) and `Authorization: Bearer {access_token}`;
 * - `GET /v3/application/shops/{shop_id}/receipts?limit&offset` (limit 1–100, default 25; `min_created`,
 *   `max_created`, `min_last_modified`, `max_last_modified`, `sort_on` created|updated|receipt_id, `sort_order`)
 *   answers `{count, results}`; `GET /v3/application/users/me` answers `{user_id, shop_id}`;
 * - rate-limit headers `x-limit-per-second`, `x-remaining-this-second`, `x-limit-per-day`, `x-remaining-today`
 *   per API key, 429 with `retry-after` when exceeded (https://developers.etsy.com/documentation/essentials/rate-limits).
 * The hosts become `/etsy` (API) and `/etsy/oauth/connect` (the consent page, which the simulator
 * approves at once for the shop named by `sim_account`, or the first seeded one).
 */
import type { ProviderModule, RetryAfter, SimRecord, SimRequest, SimResponse, SimState } from './core.js';
import { accountRecords, bearer, hashOf, header, parseForm, pkceChallenge, unixSeconds } from './core.js';

export interface EtsyOptions {
  keystring?: string;
  sharedSecret?: string;
  /** Registered redirect URIs; empty (default) accepts any. */
  redirectUris?: string[];
  /** Per API key (defaults 10/s and 10,000/day, Etsy's documented defaults for a new app). */
  perSecond?: number;
  perDay?: number;
}

export const etsyUserIdFor = (shop: string): number => 100_000_000 + (hashOf(`etsy-user:${shop}`) % 800_000_000);

export function renderEtsyReceipt(record: SimRecord, shop: string): Record<string, unknown> {
  const paid = record.status !== 'pending';
  return {
    receipt_id: Number(record.id),
    receipt_type: 0,
    seller_user_id: etsyUserIdFor(shop),
    seller_email: `shop${shop}@example.com`,
    buyer_user_id: 200_000_000 + (hashOf(record.email) % 100_000_000),
    buyer_email: record.email,
    name: record.email.split('@')[0],
    status: record.status === 'refunded' ? 'Fully Refunded' : paid ? 'Paid' : 'Open',
    is_paid: paid,
    is_shipped: false,
    create_timestamp: unixSeconds(record.createdAt),
    created_timestamp: unixSeconds(record.createdAt),
    update_timestamp: unixSeconds(record.updatedAt),
    updated_timestamp: unixSeconds(record.updatedAt),
    grandtotal: { amount: record.amountMinor, divisor: 100, currency_code: record.currency },
    subtotal: { amount: record.amountMinor, divisor: 100, currency_code: record.currency },
    total_price: { amount: record.amountMinor, divisor: 100, currency_code: record.currency },
    refunds: [],
    transactions: [],
  };
}

export function createEtsy(state: SimState, options: EtsyOptions = {}) {
  const keystring = options.keystring ?? 'simetsykeystring0000000';
  const sharedSecret = options.sharedSecret ?? 'simetsysecret';
  const perSecond = options.perSecond ?? 10;
  const perDay = options.perDay ?? 10_000;
  const shops = new Map<string, string>(); // user id → shop id
  const usage = { second: 0, secondCount: 0, dayStart: 0, dayCount: 0 };

  const register = (shop: string) => {
    shops.set(String(etsyUserIdFor(shop)), shop);
  };
  const defaultShop = () => [...(state.records.get('etsy')?.keys() ?? [])][0];
  const oauthError = (status: number, error: string, description: string): SimResponse => ({
    status,
    headers: { 'Cache-Control': 'no-store' },
    body: { error, error_description: description },
  });

  function tokenAnswer(tokens: { accessToken: string; refreshToken: string; accessExpiresAt: number }, now: number): SimResponse {
    return {
      status: 200,
      headers: { 'Cache-Control': 'no-store' },
      body: { access_token: tokens.accessToken, token_type: 'Bearer', expires_in: Math.round((tokens.accessExpiresAt - now) / 1000), refresh_token: tokens.refreshToken },
    };
  }

  function authorize(req: SimRequest): SimResponse {
    const q = req.query;
    const redirectUri = q.get('redirect_uri');
    if (q.get('client_id') !== keystring) return { status: 400, body: { error: 'invalid_client', error_description: 'Unknown client_id' } };
    if (!redirectUri || (options.redirectUris?.length && !options.redirectUris.includes(redirectUri))) {
      return { status: 400, body: { error: 'invalid_request', error_description: 'redirect_uri is missing or not registered' } };
    }
    const back = new URL(redirectUri);
    const state_ = q.get('state');
    const fail = (error: string, description: string): SimResponse => {
      back.searchParams.set('error', error);
      back.searchParams.set('error_description', description);
      if (state_ !== null) back.searchParams.set('state', state_);
      return { status: 302, headers: { Location: back.toString() } };
    };
    if (q.get('response_type') !== 'code') return fail('unsupported_response_type', 'response_type must be code');
    if (!state_) return fail('invalid_request', 'state is required');
    const challenge = q.get('code_challenge');
    if (!challenge || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) return fail('invalid_request', 'code_challenge is required (43 base64url characters)');
    if (q.get('code_challenge_method') !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256');
    const shop = q.get('sim_account') ?? defaultShop();
    if (!shop || !accountRecords(state, 'etsy', shop)) return fail('access_denied', 'no such shop in the simulator');
    const code = state.tokens.createCode('etsy', shop, { redirectUri, codeChallenge: challenge, codeChallengeMethod: 'S256', clientId: keystring });
    back.searchParams.set('code', code);
    back.searchParams.set('state', state_);
    return { status: 302, headers: { Location: back.toString() } };
  }

  function token(req: SimRequest): SimResponse {
    const form = parseForm(req);
    if (form.get('client_id') !== keystring) return oauthError(401, 'invalid_client', 'client_id is missing or unknown');
    const grant = form.get('grant_type');
    if (grant === 'authorization_code') {
      const code = form.get('code');
      const verifier = form.get('code_verifier');
      if (!code || !verifier || !form.get('redirect_uri')) return oauthError(400, 'invalid_request', 'code, code_verifier and redirect_uri are required');
      const entry = state.tokens.takeCode('etsy', code, req.now);
      if (typeof entry === 'string') return oauthError(400, 'invalid_grant', `authorization code is ${entry === 'unknown' ? 'invalid' : entry}`);
      if (entry.redirectUri !== form.get('redirect_uri')) return oauthError(400, 'invalid_grant', 'redirect_uri does not match the authorization request');
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || pkceChallenge(verifier) !== entry.codeChallenge) {
        return oauthError(400, 'invalid_grant', 'code_verifier does not match the code_challenge');
      }
      return tokenAnswer(state.tokens.issue('etsy', entry.account, req.now), req.now);
    }
    if (grant === 'refresh_token') {
      const refresh = form.get('refresh_token');
      if (!refresh) return oauthError(400, 'invalid_request', 'refresh_token is required');
      const outcome = state.tokens.rotate('etsy', refresh, req.now);
      if (!outcome.ok) return oauthError(400, 'invalid_grant', `refresh token is ${outcome.reason === 'unknown' ? 'invalid' : outcome.reason}`);
      return tokenAnswer(outcome.tokens, req.now);
    }
    return oauthError(400, 'unsupported_grant_type', 'grant_type must be authorization_code or refresh_token');
  }

  function limitHeaders(now: number): { headers: Record<string, string>; exceeded: boolean } {
    const second = Math.floor(now / 1000);
    if (usage.second !== second) {
      usage.second = second;
      usage.secondCount = 0;
    }
    if (now - usage.dayStart >= 86_400_000) {
      usage.dayStart = now;
      usage.dayCount = 0;
    }
    const exceeded = usage.secondCount >= perSecond || usage.dayCount >= perDay;
    if (!exceeded) {
      usage.secondCount += 1;
      usage.dayCount += 1;
    }
    return {
      exceeded,
      headers: {
        'x-limit-per-second': String(perSecond),
        'x-remaining-this-second': String(Math.max(0, perSecond - usage.secondCount)),
        'x-limit-per-day': String(perDay),
        'x-remaining-today': String(Math.max(0, perDay - usage.dayCount)),
      },
    };
  }

  /** API key, then the bearer token; returns the token's shop or the refusal. */
  function authenticate(req: SimRequest): { shop: string; headers: Record<string, string> } | SimResponse {
    const apiKey = header(req, 'x-api-key');
    if (!apiKey) return { status: 403, body: { error: 'Missing x-api-key header' } };
    if (apiKey !== `${keystring}:${sharedSecret}`) {
      return { status: 403, body: { error: apiKey.includes(':') ? 'Invalid API key' : "Invalid API key: the x-api-key header must be 'keystring:shared_secret'" } };
    }
    const limits = limitHeaders(req.now);
    if (limits.exceeded) {
      return { status: 429, headers: { ...limits.headers, 'retry-after': '1' }, body: { error: 'You have exceeded your quota of requests' } };
    }
    const checked = state.tokens.checkAccess('etsy', bearer(req), req.now);
    if ('error' in checked) {
      return {
        status: 401,
        headers: { ...limits.headers, 'WWW-Authenticate': 'Bearer error="invalid_token"' },
        body: checked.error === 'missing' ? { error: 'Missing access token' } : { error: 'invalid_token', error_description: checked.error === 'expired' ? 'access token is expired' : 'access token is invalid' },
      };
    }
    return { shop: checked.account, headers: limits.headers };
  }

  function receipts(req: SimRequest, shopId: string): SimResponse {
    const auth = authenticate(req);
    if ('status' in auth) return auth;
    const records = accountRecords(state, 'etsy', shopId);
    if (!records) return { status: 404, headers: auth.headers, body: { error: `Shop with shop_id ${shopId} not found` } };
    if (auth.shop !== shopId) return { status: 403, headers: auth.headers, body: { error: 'The access token does not grant access to this shop' } };
    const q = req.query;
    const num = (name: string, fallback: number | undefined) => {
      const v = q.get(name);
      return v === null ? fallback : /^\d+$/.test(v) ? Number(v) : NaN;
    };
    const limit = num('limit', 25) ?? 25;
    const offset = num('offset', 0) ?? 0;
    const bad = (message: string): SimResponse => ({ status: 400, headers: auth.headers, body: { error: message } });
    if (!(limit >= 1 && limit <= 100)) return bad('Expected int <= 100 and >= 1 for limit');
    if (!(offset >= 0)) return bad('Expected int >= 0 for offset');
    const bounds = ['min_created', 'max_created', 'min_last_modified', 'max_last_modified'].map((n) => [n, num(n, undefined)] as const);
    for (const [name, value] of bounds) if (Number.isNaN(value)) return bad(`Expected int for ${name}`);
    const [minC, maxC, minM, maxM] = bounds.map(([, v]) => v);
    const sortOn = q.get('sort_on') ?? 'created';
    if (!['created', 'updated', 'receipt_id'].includes(sortOn)) return bad('sort_on must be one of created, updated, receipt_id');
    const order = (q.get('sort_order') ?? 'desc').toLowerCase();
    if (!['asc', 'ascending', 'up', 'desc', 'descending', 'down'].includes(order)) return bad('sort_order is invalid');
    const desc = ['desc', 'descending', 'down'].includes(order);
    const s = (ms: number) => unixSeconds(ms);
    const matching = records.filter(
      (r) =>
        (minC === undefined || s(r.createdAt) >= minC) &&
        (maxC === undefined || s(r.createdAt) <= maxC) &&
        (minM === undefined || s(r.updatedAt) >= minM) &&
        (maxM === undefined || s(r.updatedAt) <= maxM),
    );
    const key = (r: SimRecord) => (sortOn === 'created' ? r.createdAt : sortOn === 'updated' ? r.updatedAt : Number(r.id));
    matching.sort((a, b) => (desc ? -1 : 1) * (key(a) - key(b) || Number(a.id) - Number(b.id)));
    const page = matching.slice(offset, offset + limit);
    return {
      status: 200,
      headers: auth.headers,
      body: { count: matching.length, results: page.map((r) => renderEtsyReceipt(r, shopId)) },
      servedIds: page.map((r) => r.id),
      listPage: true,
    };
  }

  const module: ProviderModule = {
    name: 'etsy',
    route(req) {
      if (req.method === 'GET' && req.path === '/oauth/connect') {
        return { endpoint: 'oauth.authorize', kind: 'authorize', account: req.query.get('sim_account') ?? defaultShop(), handle: () => authorize(req) };
      }
      if (req.method === 'POST' && req.path === '/v3/public/oauth/token') {
        const form = parseForm(req);
        const refresh = form.get('grant_type') === 'refresh_token';
        const refreshToken = form.get('refresh_token');
        const account = refresh && refreshToken ? state.tokens.accountOfRefresh('etsy', refreshToken) : undefined;
        return { endpoint: refresh ? 'token.refresh' : 'token.exchange', kind: 'token', account, handle: () => token(req) };
      }
      const receiptsPath = /^\/v3\/application\/shops\/(\d+)\/receipts$/.exec(req.path);
      if (req.method === 'GET' && receiptsPath) {
        return { endpoint: 'receipts.list', kind: 'data', account: receiptsPath[1], handle: () => receipts(req, receiptsPath[1] ?? '') };
      }
      if (req.method === 'GET' && req.path === '/v3/application/users/me') {
        const token = bearer(req);
        return {
          endpoint: 'users.me',
          kind: 'data',
          account: token ? state.tokens.accountOfAccess('etsy', token) : undefined,
          handle: () => {
            const auth = authenticate(req);
            if ('status' in auth) return auth;
            return { status: 200, headers: auth.headers, body: { user_id: etsyUserIdFor(auth.shop), shop_id: Number(auth.shop) } };
          },
        };
      }
      return undefined;
    },
    rateLimited(retryAfter: RetryAfter) {
      return { status: 429, headers: { 'retry-after': retryAfter.header }, body: { error: 'You have exceeded your quota of requests' } };
    },
    serverError(status: number) {
      return { status, body: { error: 'Server error' } };
    },
  };
  return {
    module,
    register,
    credentials: { keystring, sharedSecret, apiKey: `${keystring}:${sharedSecret}` },
    tokenPrefix: (shop: string) => `${etsyUserIdFor(shop)}.`,
    userOf: (userId: string) => shops.get(userId),
  };
}
