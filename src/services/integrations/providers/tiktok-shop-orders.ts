import { createHmac } from 'node:crypto';
import type { ProviderSettings } from '../../../contracts/api/connections.js';
import { apiRequest, field, listField } from './api-request.js';
import { cursorText, fromUnixSeconds, idText, majorUnits, newestSeen, nextSyncCursor, pageSizeFor, remoteRecord, runSince, unreadableRecord, userKeys } from './sync-records.js';
import { ProviderAuthError, ProviderRateLimitError, ProviderResponseError, ProviderUnavailableError, type ListPageRequest, type RemoteRecord, type RemoteRecordKind, type SyncAdapter } from './sync-types.js';

type Request = ListPageRequest<ProviderSettings['tiktok_shop']>;

const SEARCH_PATH = '/order/202309/orders/search';
const SHOPS_PATH = '/authorization/202309/shops';
/** TikTok's documented maximum `page_size`. */
const MAX_PAGE = 100;

/**
 * TikTok Shop's request signature: hex HMAC-SHA256 keyed by the app secret over
 * `secret + path + sorted key+value query pairs (without sign and access_token) + body + secret`.
 * `path` is the API path (`/order/202309/orders/search`), whatever base the API is reached under.
 */
export function tiktokSignature(path: string, query: URLSearchParams, body: string, appSecret: string): string {
  const pairs = [...query.entries()]
    .filter(([key]) => key !== 'sign' && key !== 'access_token')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}${value}`)
    .join('');
  return createHmac('sha256', appSecret).update(`${appSecret}${path}${pairs}${body}${appSecret}`).digest('hex');
}

/** Codes of a refusal answered with HTTP 200: credentials (105000-105999 access token, 106000-106999 sign, app key, timestamp, shop cipher), throttling, TikTok's own failure. */
function codeError(code: number, endpoint: string): Error {
  const message = `tiktok_shop ${endpoint} answered code ${code}`;
  if (code >= 105_000 && code < 107_000) return new ProviderAuthError('tiktok_shop', 200, message);
  if (code === 36_009_004) return new ProviderRateLimitError('tiktok_shop', undefined, message);
  if (code === 36_009_009) return new ProviderUnavailableError('tiktok_shop', 200, message);
  return new ProviderResponseError('tiktok_shop', 200, message);
}

/** One signed call; answers `data` of `{code: 0, data}`. */
async function signedCall(request: Request, endpoint: string, path: string, params: Record<string, string>, body?: string): Promise<unknown> {
  const { auth } = request;
  const query = new URLSearchParams({ app_key: auth.clientId ?? '', timestamp: String(Math.floor(Date.now() / 1000)), ...params });
  query.set('sign', tiktokSignature(path, query, body ?? '', auth.clientSecret ?? ''));
  const url = new URL(`${request.endpoints.api.replace(/\/+$/, '')}${path}`);
  url.search = query.toString();
  const response = await apiRequest({
    provider: 'tiktok_shop',
    endpoint,
    url,
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'x-tts-access-token': auth.accessToken ?? '', accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }) },
    body,
    signal: request.signal,
    observe: request.observe,
  });
  const code = field(response.body, 'code');
  if (code !== 0) throw codeError(typeof code === 'number' ? code : -1, endpoint);
  return field(response.body, 'data');
}

/** The shop's cipher: the settings', the cursor's (fetched by an earlier page), else the first authorized shop's. */
async function shopCipher(request: Request): Promise<string> {
  const known = request.settings.shopCipher ?? cursorText(request.cursor, 'shopCipher');
  if (known) return known;
  const shops = listField('tiktok_shop', 'shops.list', await signedCall(request, 'shops.list', SHOPS_PATH, {}), 'shops');
  const cipher = idText(field(shops[0], 'cipher'));
  if (!cipher) throw new ProviderResponseError('tiktok_shop', 200, 'tiktok_shop shops.list named no authorized shop');
  return cipher;
}

/** `status`: UNPAID → pending; CANCELLED after payment → refunded (before it, nothing was paid: pending); the rest (ON_HOLD … COMPLETED) is paid. */
function kindOf(order: unknown): RemoteRecordKind {
  const status = field(order, 'status');
  const paid = fromUnixSeconds(field(order, 'paid_time')) !== undefined;
  if (status === 'UNPAID') return 'order.pending';
  if (status === 'CANCELLED') return paid ? 'order.refunded' : 'order.pending';
  return 'order.paid';
}

function toRecord(order: unknown): RemoteRecord {
  const id = idText(field(order, 'id'));
  const createdAt = fromUnixSeconds(field(order, 'create_time'));
  const updatedAt = fromUnixSeconds(field(order, 'update_time'));
  if (id === undefined || !createdAt || !updatedAt) throw unreadableRecord('tiktok_shop', 'orders.search', 'id, create_time or update_time');
  const kind = kindOf(order);
  const payment = field(order, 'payment');
  return remoteRecord({
    id,
    kind,
    createdAt,
    updatedAt,
    paidAt: fromUnixSeconds(field(order, 'paid_time')),
    value: majorUnits(field(payment, 'total_amount')),
    currency: idText(field(payment, 'currency')) ?? null,
    userKeys: userKeys(field(order, 'buyer_email'), field(order, 'user_id')),
  });
}

/**
 * Orders changed since the run's lower bound (`update_time_ge`), oldest change first, page by
 * `next_page_token`. The page token is bound to the filters, so the run's lower bound stays in the
 * cursor and the same body is sent again. Cursor while running: `{since, pageToken, shopCipher,
 * newest}`; once done: `{since, shopCipher}` (the cipher fetched once is kept).
 */
export const tiktokShopOrders: SyncAdapter<ProviderSettings['tiktok_shop']> = {
  endpoint: 'orders.search',
  async listPage(request) {
    const { cursor } = request;
    const since = runSince(cursor, request.since);
    const cipher = await shopCipher(request);
    const pageToken = cursorText(cursor, 'pageToken');
    const params = { shop_cipher: cipher, page_size: String(pageSizeFor(request.pageSize, MAX_PAGE)), sort_field: 'update_time', sort_order: 'ASC', ...(pageToken && { page_token: pageToken }) };
    const data = await signedCall(request, 'orders.search', SEARCH_PATH, params, JSON.stringify({ update_time_ge: Math.floor(since.getTime() / 1000) }));
    const records = listField('tiktok_shop', 'orders.search', data, 'orders').map(toRecord);
    const newest = newestSeen(cursor, records);
    const next = idText(field(data, 'next_page_token'));
    const kept = request.settings.shopCipher ? {} : { shopCipher: cipher };
    return {
      records,
      cursor: next ? { since: since.toISOString(), pageToken: next, ...kept, ...(newest && { newest: newest.toISOString() }) } : nextSyncCursor(since, newest, kept),
      done: next === undefined,
    };
  },
};
