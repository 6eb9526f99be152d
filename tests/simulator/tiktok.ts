/**
 * TikTok Shop Open API (orders, API version 202309), as documented in the TikTok Shop Partner Center
 * and mirrored by its public SDKs:
 * - every API request carries `app_key`, `timestamp` (Unix seconds) and `sign` in the query and the
 *   seller's access token in the `x-tts-access-token` header. `sign` = hex HMAC-SHA256, keyed by the app
 *   secret, over `app_secret + path + (sorted query parameters except sign and access_token, each as
 *   key+value) + body + app_secret` (the body only when it is not multipart). A bad sign answers HTTP
 *   401 with `{"code":106001,"message":"Invalid credentials. The 'sign' query parameter is invalid…"}`;
 * - `GET /authorization/202309/shops` lists the authorized shops with their `cipher`;
 *   `POST /order/202309/orders/search?page_size&page_token&sort_field&sort_order&shop_cipher` with JSON
 *   filters (`create_time_ge/lt`, `update_time_ge/lt`, `order_status`) answers
 *   `{code:0, message:"Success", request_id, data:{orders, next_page_token, total_count}}`;
 * - tokens on `https://auth.tiktok-shops.com`: `GET /api/v2/token/get?app_key&app_secret&auth_code&grant_type=authorized_code`
 *   and `GET /api/v2/token/refresh?app_key&app_secret&refresh_token&grant_type=refresh_token` answer
 *   `{code:0, data:{access_token, access_token_expire_in (a Unix time), refresh_token, refresh_token_expire_in,
 *   open_id, seller_name, seller_base_region, user_type, granted_scopes}}`; the simulator rotates the refresh
 *   token on every refresh and revokes the old one.
 * Hosts become `/tiktok` (open-api), `/tiktok/auth` (auth; its `/oauth/authorize?app_key&state` is the older
 * consent page) and `/tiktok/services/open/authorize` (consent).
 * Error codes other than 106001 are this simulator's choices (see `tiktokCodes`).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { ProviderModule, RetryAfter, SimRecord, SimRequest, SimResponse, SimState } from './core.js';
import { accountRecords, decodeCursor, encodeCursor, header, unixSeconds } from './core.js';

export interface TikTokOptions {
  appKey?: string;
  appSecret?: string;
  serviceId?: string;
  /** The app's registered redirect URL (the consent page sends the seller there). */
  redirectUri?: string;
  /** Accepted clock skew of `timestamp`, seconds (default 300). */
  maxSkewSeconds?: number;
}

export const tiktokCodes = {
  ok: 0,
  /** Documented (observed in real answers): invalid `sign`. */
  invalidSign: 106001,
  invalidAccessToken: 105001,
  expiredAccessToken: 105002,
  invalidTimestamp: 106003,
  invalidAppKey: 106004,
  invalidShopCipher: 106011,
  invalidParameter: 36009001,
  invalidAuthCode: 36004003,
  invalidRefreshToken: 36004004,
  tooManyRequests: 36009004,
  internalError: 36009009,
} as const;

/** The canonical string and signature of a TikTok Shop API request. */
export function tiktokSign(input: { path: string; query: URLSearchParams | Record<string, string>; body?: string; appSecret: string }): string {
  const params = input.query instanceof URLSearchParams ? [...input.query.entries()] : Object.entries(input.query);
  const canonical = params
    .filter(([k]) => k !== 'sign' && k !== 'access_token')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}${v}`)
    .join('');
  const text = `${input.appSecret}${input.path}${canonical}${input.body ?? ''}${input.appSecret}`;
  return createHmac('sha256', input.appSecret).update(text).digest('hex');
}

const orderStatus = (record: SimRecord) => (record.status === 'paid' ? 'COMPLETED' : record.status === 'pending' ? 'UNPAID' : 'CANCELLED');

export function renderTikTokOrder(record: SimRecord): Record<string, unknown> {
  const total = (record.amountMinor / 100).toFixed(2);
  return {
    id: record.id,
    status: orderStatus(record),
    create_time: unixSeconds(record.createdAt),
    update_time: unixSeconds(record.updatedAt),
    paid_time: record.status === 'pending' ? undefined : unixSeconds(record.createdAt),
    buyer_email: record.email,
    user_id: String(7_494_000_000_000_000_000n + BigInt(parseInt(createHash('sha256').update(record.email).digest('hex').slice(0, 12), 16))),
    payment: { currency: record.currency, total_amount: total, sub_total: total, shipping_fee: '0.00', tax: '0.00' },
    line_items: [],
  };
}

interface PageToken {
  key: number;
  id: string;
  sortField: 'create_time' | 'update_time';
  desc: boolean;
  filters: string;
}

export function createTikTok(state: SimState, options: TikTokOptions = {}) {
  const appKey = options.appKey ?? 'simtiktokappkey';
  const appSecret = options.appSecret ?? 'simtiktokappsecret';
  const serviceId = options.serviceId ?? '7000000000000000001';
  const maxSkew = options.maxSkewSeconds ?? 300;
  const ciphers = new Map<string, string>(); // cipher → shop

  const cipherFor = (shop: string) => `ROW_${createHash('sha256').update(`sim-tiktok:${shop}`).digest('base64url').slice(0, 22)}`;
  const register = (shop: string) => {
    ciphers.set(cipherFor(shop), shop);
  };
  const requestId = () => `${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}${randomBytes(8).toString('hex').toUpperCase()}`;
  const answer = (status: number, code: number, message: string, data: unknown = null): SimResponse => ({
    status,
    body: { code, message, request_id: requestId(), data },
  });

  function tokenData(tokens: { accessToken: string; refreshToken: string; accessExpiresAt: number; refreshExpiresAt: number }, shop: string) {
    return {
      access_token: tokens.accessToken,
      access_token_expire_in: unixSeconds(tokens.accessExpiresAt),
      refresh_token: tokens.refreshToken,
      refresh_token_expire_in: unixSeconds(tokens.refreshExpiresAt),
      open_id: `sim_${createHash('sha256').update(shop).digest('base64url').slice(0, 20)}`,
      seller_name: `Sim Shop ${shop}`,
      seller_base_region: 'GB',
      user_type: 0,
      granted_scopes: ['seller.order.info', 'seller.authorization.info'],
    };
  }

  function tokenGet(req: SimRequest): SimResponse {
    const q = req.query;
    if (q.get('app_key') !== appKey || q.get('app_secret') !== appSecret) return answer(200, tiktokCodes.invalidAppKey, 'Invalid app_key or app_secret');
    if (q.get('grant_type') !== 'authorized_code') return answer(200, tiktokCodes.invalidParameter, 'grant_type must be authorized_code');
    const entry = state.tokens.takeCode('tiktok', q.get('auth_code') ?? '', req.now);
    if (typeof entry === 'string') return answer(200, tiktokCodes.invalidAuthCode, `invalid_grant: auth_code is ${entry === 'unknown' ? 'invalid' : entry}`);
    return answer(200, tiktokCodes.ok, 'success', tokenData(state.tokens.issue('tiktok', entry.account, req.now), entry.account));
  }

  function tokenRefresh(req: SimRequest): SimResponse {
    const q = req.query;
    if (q.get('app_key') !== appKey || q.get('app_secret') !== appSecret) return answer(200, tiktokCodes.invalidAppKey, 'Invalid app_key or app_secret');
    if (q.get('grant_type') !== 'refresh_token') return answer(200, tiktokCodes.invalidParameter, 'grant_type must be refresh_token');
    const outcome = state.tokens.rotate('tiktok', q.get('refresh_token') ?? '', req.now);
    if (!outcome.ok) return answer(200, tiktokCodes.invalidRefreshToken, `invalid_grant: refresh_token is ${outcome.reason === 'unknown' ? 'invalid' : outcome.reason}`);
    return answer(200, tiktokCodes.ok, 'success', tokenData(outcome.tokens, outcome.account));
  }

  /**
   * The consent page approves at once and sends the seller to the app's registered redirect URL
   * (`options.redirectUri`, else `sim_redirect_uri`) with a code for the shop (`sim_account`, else
   * the first seeded) and the `state`. The app is named by its service id (services.tiktokshop.com)
   * or, on the older auth.tiktok-shops.com/oauth/authorize that the hub links to, by its app key.
   */
  function authorize(req: SimRequest, app: 'service_id' | 'app_key'): SimResponse {
    const redirect = options.redirectUri ?? req.query.get('sim_redirect_uri');
    const expected = app === 'service_id' ? serviceId : appKey;
    if (req.query.get(app) !== expected || !redirect) return { status: 400, body: `unknown ${app} or no redirect URL registered` };
    const shop = req.query.get('sim_account') ?? [...(state.records.get('tiktok')?.keys() ?? [])][0];
    const back = new URL(redirect);
    if (!shop || !accountRecords(state, 'tiktok', shop)) {
      back.searchParams.set('error', 'access_denied');
    } else back.searchParams.set('code', state.tokens.createCode('tiktok', shop));
    const st = req.query.get('state');
    if (st !== null) back.searchParams.set('state', st);
    return { status: 302, headers: { Location: back.toString() } };
  }

  /** Common checks of a signed API call; returns the token's shop or the refusal. */
  function verify(req: SimRequest): { shop: string } | SimResponse {
    const q = req.query;
    if (q.get('app_key') !== appKey) return answer(401, tiktokCodes.invalidAppKey, "Invalid credentials. The 'app_key' query parameter is invalid.");
    const ts = Number(q.get('timestamp'));
    if (!Number.isInteger(ts) || Math.abs(unixSeconds(req.now) - ts) > maxSkew) {
      return answer(401, tiktokCodes.invalidTimestamp, "Invalid credentials. The 'timestamp' query parameter is missing or outside the allowed window.");
    }
    const contentType = header(req, 'content-type') ?? '';
    const body = contentType.startsWith('multipart/form-data') ? '' : req.rawBody;
    const expected = tiktokSign({ path: req.path, query: q, body, appSecret });
    const sign = q.get('sign') ?? '';
    if (sign.length !== expected.length || sign !== expected) {
      return answer(401, tiktokCodes.invalidSign, "Invalid credentials. The 'sign' query parameter is invalid.");
    }
    const checked = state.tokens.checkAccess('tiktok', header(req, 'x-tts-access-token'), req.now);
    if ('error' in checked) {
      return checked.error === 'expired'
        ? answer(401, tiktokCodes.expiredAccessToken, 'Expired credentials. The access token has expired.')
        : answer(401, tiktokCodes.invalidAccessToken, 'Invalid credentials. The x-tts-access-token header is missing or invalid.');
    }
    return { shop: checked.account };
  }

  function searchOrders(req: SimRequest): SimResponse {
    const auth = verify(req);
    if ('status' in auth) return auth;
    const q = req.query;
    const shop = ciphers.get(q.get('shop_cipher') ?? '');
    if (!shop || shop !== auth.shop) return answer(403, tiktokCodes.invalidShopCipher, 'The shop_cipher is invalid or not authorized for this access token.');
    const records = accountRecords(state, 'tiktok', shop) ?? [];
    const pageSize = Number(q.get('page_size'));
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) return answer(400, tiktokCodes.invalidParameter, 'page_size is required and must be between 1 and 100.');
    let filters: Record<string, unknown> = {};
    if (req.rawBody.trim() !== '') {
      try {
        filters = JSON.parse(req.rawBody) as Record<string, unknown>;
      } catch {
        return answer(400, tiktokCodes.invalidParameter, 'The request body is not valid JSON.');
      }
    }
    const filterKey = JSON.stringify(filters);
    let sortField = (q.get('sort_field') ?? 'create_time') as PageToken['sortField'];
    let desc = (q.get('sort_order') ?? 'DESC').toUpperCase() === 'DESC';
    if (sortField !== 'create_time' && sortField !== 'update_time') return answer(400, tiktokCodes.invalidParameter, 'sort_field must be create_time or update_time.');
    const tokenText = q.get('page_token');
    let cursor: PageToken | undefined;
    if (tokenText) {
      const decoded = decodeCursor(tokenText) as PageToken | undefined;
      if (!decoded || decoded.filters !== filterKey) return answer(400, tiktokCodes.invalidParameter, 'page_token is invalid for this query.');
      cursor = decoded;
      ({ sortField, desc } = decoded);
    }
    const num = (name: string) => (typeof filters[name] === 'number' ? filters[name] : undefined);
    const [cge, clt, uge, ult] = ['create_time_ge', 'create_time_lt', 'update_time_ge', 'update_time_lt'].map(num);
    const status = typeof filters.order_status === 'string' ? filters.order_status : undefined;
    const keyOf = (r: SimRecord) => unixSeconds(sortField === 'create_time' ? r.createdAt : r.updatedAt);
    const order = (k1: number, id1: string, k2: number, id2: string) => {
      const diff = k1 - k2 || (BigInt(id1) < BigInt(id2) ? -1 : BigInt(id1) > BigInt(id2) ? 1 : 0);
      return desc ? -diff : diff;
    };
    const matching = records
      .filter(
        (r) =>
          (cge === undefined || unixSeconds(r.createdAt) >= cge) &&
          (clt === undefined || unixSeconds(r.createdAt) < clt) &&
          (uge === undefined || unixSeconds(r.updatedAt) >= uge) &&
          (ult === undefined || unixSeconds(r.updatedAt) < ult) &&
          (status === undefined || orderStatus(r) === status),
      )
      .sort((a, b) => order(keyOf(a), a.id, keyOf(b), b.id));
    const start = cursor ? matching.findIndex((r) => order(keyOf(r), r.id, cursor.key, cursor.id) > 0) : 0;
    const page = start < 0 ? [] : matching.slice(start, start + pageSize);
    const last = page[page.length - 1];
    const more = start >= 0 && start + pageSize < matching.length;
    const next = more && last ? encodeCursor({ key: keyOf(last), id: last.id, sortField, desc, filters: filterKey } satisfies PageToken) : '';
    return {
      ...answer(200, tiktokCodes.ok, 'Success', { orders: page.map(renderTikTokOrder), next_page_token: next, total_count: matching.length }),
      servedIds: page.map((r) => r.id),
      listPage: true,
    };
  }

  function shops(req: SimRequest): SimResponse {
    const auth = verify(req);
    if ('status' in auth) return auth;
    return answer(200, tiktokCodes.ok, 'Success', {
      shops: [{ id: auth.shop, name: `Sim Shop ${auth.shop}`, region: 'GB', seller_type: 'LOCAL', cipher: cipherFor(auth.shop), code: `GBSIM${auth.shop}` }],
    });
  }

  const accountOfToken = (req: SimRequest) => {
    const token = header(req, 'x-tts-access-token');
    return token ? state.tokens.accountOfAccess('tiktok', token) : undefined;
  };

  const module: ProviderModule = {
    name: 'tiktok',
    route(req) {
      const q = req.query;
      if (req.method === 'GET' && req.path === '/auth/api/v2/token/get') return { endpoint: 'token.exchange', kind: 'token', account: undefined, handle: () => tokenGet(req) };
      if (req.method === 'GET' && req.path === '/auth/api/v2/token/refresh') {
        return { endpoint: 'token.refresh', kind: 'token', account: state.tokens.accountOfRefresh('tiktok', q.get('refresh_token') ?? ''), handle: () => tokenRefresh(req) };
      }
      if (req.method === 'GET' && req.path === '/services/open/authorize') return { endpoint: 'oauth.authorize', kind: 'authorize', account: q.get('sim_account') ?? undefined, handle: () => authorize(req, 'service_id') };
      if (req.method === 'GET' && req.path === '/auth/oauth/authorize') return { endpoint: 'oauth.authorize', kind: 'authorize', account: q.get('sim_account') ?? undefined, handle: () => authorize(req, 'app_key') };
      if (req.method === 'POST' && req.path === '/order/202309/orders/search') {
        return { endpoint: 'orders.search', kind: 'data', account: ciphers.get(q.get('shop_cipher') ?? '') ?? accountOfToken(req), handle: () => searchOrders(req) };
      }
      if (req.method === 'GET' && req.path === '/authorization/202309/shops') return { endpoint: 'shops.list', kind: 'data', account: accountOfToken(req), handle: () => shops(req) };
      return undefined;
    },
    rateLimited(retryAfter: RetryAfter) {
      const response = answer(429, tiktokCodes.tooManyRequests, 'Too many requests. Please retry later.');
      return { ...response, headers: { 'Retry-After': retryAfter.header } };
    },
    serverError(status: number) {
      return answer(status, tiktokCodes.internalError, 'Internal error. Please retry later.');
    },
  };
  return { module, register, cipherFor, credentials: { appKey, appSecret, serviceId } };
}
