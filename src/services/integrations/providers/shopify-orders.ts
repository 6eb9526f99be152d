import type { ProviderSettings } from '../../../contracts/api/connections.js';
import { apiRequest, field, listField } from './api-request.js';
import { cursorText, fromIso, idText, majorUnits, newestSeen, nextSyncCursor, pageSizeFor, remoteRecord, runSince, unreadableRecord, userKeys } from './sync-records.js';
import type { RemoteRecord, RemoteRecordKind, SyncAdapter } from './sync-types.js';

const ENDPOINT = 'orders.list';
/** Shopify's documented maximum `limit`. */
const MAX_PAGE = 250;
/** Shopify's leaky bucket drains 2 calls a second (standard plans). */
const LEAK_PER_SECOND = 2;
/** Past this share of the bucket the next call waits, so a sync never runs into 429s nor starves the shop's other apps. */
const BUCKET_HIGH_WATER = 0.8;

/** The Admin API base of a shop: `{api}/{apiVersion}`, where `api` is `https://{shopDomain}/admin/api` unless the settings override `baseUrls.api`. */
export const shopifyApiBase = (settings: { shopDomain: string; apiVersion: string; baseUrls?: { api?: string } }): string =>
  `${(settings.baseUrls?.api ?? `https://${settings.shopDomain}/admin/api`).replace(/\/+$/, '')}/${settings.apiVersion}`;

/** `page_info` of the `rel="next"` link in a Link header (shopify.dev/docs/api/admin-rest/usage/pagination). */
export function nextPageInfo(link: string | null): string | undefined {
  for (const part of (link ?? '').split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (match?.[1] && URL.canParse(match[1])) return new URL(match[1]).searchParams.get('page_info') ?? undefined;
  }
  return undefined;
}

/** How long to let the bucket drain below the high-water mark, from `X-Shopify-Shop-Api-Call-Limit: used/size`; undefined when there is room. */
export function bucketPauseMs(header: string | null): number | undefined {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(header ?? '');
  if (!match) return undefined;
  const used = Number(match[1]);
  const threshold = Number(match[2]) * BUCKET_HIGH_WATER;
  return used >= threshold ? Math.ceil(((used - threshold + 1) / LEAK_PER_SECOND) * 1000) : undefined;
}

/** financial_status: refunds (full or partial) are the news; anything not (yet) captured is pending (pending, authorized, partially_paid, unpaid, voided). */
const kindOf = (status: unknown): RemoteRecordKind =>
  status === 'paid' ? 'order.paid' : status === 'refunded' || status === 'partially_refunded' ? 'order.refunded' : 'order.pending';

function toRecord(order: unknown): RemoteRecord {
  const id = idText(field(order, 'id'));
  const updatedAt = fromIso(field(order, 'updated_at'));
  const createdAt = fromIso(field(order, 'created_at'));
  if (id === undefined || !updatedAt || !createdAt) throw unreadableRecord('shopify', ENDPOINT, 'id, created_at or updated_at');
  const kind = kindOf(field(order, 'financial_status'));
  const customer = field(order, 'customer');
  return remoteRecord({
    id,
    kind,
    createdAt,
    updatedAt,
    paidAt: fromIso(field(order, 'processed_at')),
    value: majorUnits(field(order, 'total_price')),
    currency: idText(field(order, 'currency')) ?? null,
    userKeys: userKeys(field(order, 'email') ?? field(order, 'contact_email') ?? field(customer, 'email'), field(customer, 'id')),
  });
}

/**
 * Orders changed since the run's lower bound, oldest change first (`order=updated_at asc`), following
 * the Link header's page_info. Cursor while running: `{since, pageInfo, newest}`; once done: `{since}`
 * (the newest updated_at seen).
 */
export const shopifyOrders: SyncAdapter<ProviderSettings['shopify']> = {
  endpoint: ENDPOINT,
  async listPage(request) {
    const { cursor, settings } = request;
    const since = runSince(cursor, request.since);
    const pageInfo = cursorText(cursor, 'pageInfo');
    const url = new URL(`${shopifyApiBase(settings)}/orders.json`);
    const limit = String(pageSizeFor(request.pageSize, MAX_PAGE));
    // With page_info Shopify accepts only limit (and fields): the filters live inside page_info.
    url.search = new URLSearchParams(
      pageInfo ? { limit, page_info: pageInfo } : { status: 'any', limit, updated_at_min: since.toISOString(), order: 'updated_at asc' },
    ).toString();
    const response = await apiRequest({
      provider: 'shopify',
      endpoint: ENDPOINT,
      url,
      headers: { 'X-Shopify-Access-Token': request.auth.apiKey ?? '', accept: 'application/json' },
      signal: request.signal,
      observe: request.observe,
    });
    const records = listField('shopify', ENDPOINT, response.body, 'orders').map(toRecord);
    const newest = newestSeen(cursor, records);
    const next = nextPageInfo(response.headers.get('link'));
    const pauseMs = bucketPauseMs(response.headers.get('x-shopify-shop-api-call-limit'));
    return {
      records,
      cursor: next ? { since: since.toISOString(), pageInfo: next, ...(newest && { newest: newest.toISOString() }) } : nextSyncCursor(since, newest),
      done: next === undefined,
      ...(pauseMs !== undefined && { pauseMs }),
    };
  },
};
