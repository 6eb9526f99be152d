/**
 * Shopify Admin REST API (orders), as documented on shopify.dev:
 * - `GET /admin/api/{version}/orders.json` and `/orders/count.json`, authenticated by the
 *   `X-Shopify-Access-Token` header (401 `{"errors":"[API] Invalid API key or access token …"}`);
 * - cursor pagination: `limit` (default 50, max 250) and an opaque `page_info` returned in the `Link`
 *   header (`<…page_info=…>; rel="next"`, `rel="previous"`); with `page_info` only `limit` and
 *   `fields` may be sent (https://shopify.dev/docs/api/admin-rest/usage/pagination);
 * - the leaky bucket per shop (40 requests, leaking 2/s on standard plans), reported in
 *   `X-Shopify-Shop-Api-Call-Limit: 32/40`; overflow → 429 with `Retry-After: 2.0`
 *   (https://shopify.dev/docs/api/admin-rest/usage/rate-limits).
 * The shop's domain `{shop}.myshopify.com` becomes the path prefix `/shopify/{shop}`.
 */
import { createHash } from 'node:crypto';
import type { ProviderModule, RetryAfter, SimRecord, SimRequest, SimResponse, SimState } from './core.js';
import { accountRecords, decodeCursor, encodeCursor, header, money } from './core.js';

export interface ShopifyOptions {
  /** Bucket size (default 40) and leak rate per second (default 2). */
  bucketSize?: number;
  leakPerSecond?: number;
}

interface Cursor {
  dir: 'next' | 'prev';
  /** Sort key and id of the boundary record. */
  key: number;
  id: number;
  order: 'id' | 'updated_at' | 'created_at';
  desc: boolean;
  filters: Record<string, string>;
}

const filterParams = ['created_at_min', 'created_at_max', 'updated_at_min', 'updated_at_max', 'since_id', 'status', 'financial_status'] as const;

export function shopifyTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

export function renderShopifyOrder(record: SimRecord, index: number): Record<string, unknown> {
  const id = Number(record.id);
  const customerId = 7_000_000_000_000 + (createHash('sha256').update(record.email).digest().readUInt32BE(0) % 1_000_000);
  return {
    id,
    admin_graphql_api_id: `gid://shopify/Order/${id}`,
    name: `#${1001 + index}`,
    order_number: 1001 + index,
    email: record.email,
    contact_email: record.email,
    created_at: shopifyTimestamp(record.createdAt),
    updated_at: shopifyTimestamp(record.updatedAt),
    processed_at: shopifyTimestamp(record.createdAt),
    currency: record.currency,
    presentment_currency: record.currency,
    total_price: money(record.amountMinor),
    subtotal_price: money(record.amountMinor),
    current_total_price: money(record.status === 'refunded' ? 0 : record.amountMinor),
    financial_status: record.status,
    fulfillment_status: null,
    closed_at: null,
    cancelled_at: null,
    test: false,
    customer: { id: customerId, email: record.email },
  };
}

export function createShopify(state: SimState, options: ShopifyOptions = {}) {
  const size = options.bucketSize ?? 40;
  const leak = options.leakPerSecond ?? 2;
  const tokens = new Map<string, string>();
  const buckets = new Map<string, { level: number; at: number }>();

  const tokenFor = (shop: string): string => {
    let token = tokens.get(shop);
    if (!token) {
      token = `shpat_${createHash('sha256').update(`sim-shopify:${shop}`).digest('hex').slice(0, 32)}`;
      tokens.set(shop, token);
    }
    return token;
  };

  /** Leaks, then adds one request; returns the header value, or undefined when the bucket is full. */
  function pour(shop: string, now: number): { header: string; full: boolean } {
    const bucket = buckets.get(shop) ?? { level: 0, at: now };
    bucket.level = Math.max(0, bucket.level - ((now - bucket.at) / 1000) * leak);
    bucket.at = now;
    buckets.set(shop, bucket);
    if (bucket.level + 1 > size) return { header: `${size}/${size}`, full: true };
    bucket.level += 1;
    return { header: `${Math.ceil(bucket.level)}/${size}`, full: false };
  }

  const errors = (status: number, errors: unknown, headers: Record<string, string> = {}): SimResponse => ({ status, headers, body: { errors } });

  function parsePath(req: SimRequest): { shop: string; version: string; resource: string } | undefined {
    const match = /^\/([a-z0-9][a-z0-9-]*)\/admin\/api\/(\d{4}-\d{2}|unstable)\/(orders\.json|orders\/count\.json)$/.exec(req.path);
    return match ? { shop: match[1] ?? '', version: match[2] ?? '', resource: match[3] ?? '' } : undefined;
  }

  function sortKey(record: SimRecord, order: Cursor['order']): number {
    return order === 'updated_at' ? record.updatedAt : order === 'created_at' ? record.createdAt : Number(record.id);
  }

  function filtered(records: SimRecord[], filters: Record<string, string>): SimRecord[] | string {
    const time = (name: string) => {
      const value = filters[name];
      if (value === undefined) return undefined;
      const ms = Date.parse(value);
      return Number.isNaN(ms) ? NaN : ms;
    };
    const bounds = { cmin: time('created_at_min'), cmax: time('created_at_max'), umin: time('updated_at_min'), umax: time('updated_at_max') };
    for (const [name, value] of Object.entries(bounds)) if (Number.isNaN(value)) return `${name} is not a valid date`;
    const sinceId = filters.since_id === undefined ? undefined : Number(filters.since_id);
    const status = filters.status ?? 'open';
    if (!['open', 'closed', 'cancelled', 'any'].includes(status)) return 'status is invalid';
    return records.filter(
      (r) =>
        (status === 'open' || status === 'any') &&
        (bounds.cmin === undefined || r.createdAt >= bounds.cmin) &&
        (bounds.cmax === undefined || r.createdAt <= bounds.cmax) &&
        (bounds.umin === undefined || r.updatedAt >= bounds.umin) &&
        (bounds.umax === undefined || r.updatedAt <= bounds.umax) &&
        (sinceId === undefined || Number(r.id) > sinceId) &&
        (filters.financial_status === undefined || filters.financial_status === 'any' || filters.financial_status === r.status),
    );
  }

  function listOrders(req: SimRequest, shop: string, version: string, records: SimRecord[]): SimResponse {
    const limitText = req.query.get('limit');
    const limit = limitText === null ? 50 : Math.min(250, Number(limitText));
    if (!Number.isInteger(limit) || limit < 1) return errors(400, { limit: ['must be an integer between 1 and 250'] });
    const fields = req.query.get('fields');
    const pageInfo = req.query.get('page_info');
    let cursor: Cursor | undefined;
    let filters: Record<string, string>;
    let order: Cursor['order'] = 'id';
    let desc = false;
    if (pageInfo !== null) {
      const extra = [...req.query.keys()].filter((k) => !['page_info', 'limit', 'fields'].includes(k));
      if (extra.length > 0) return errors(400, `page_info: only limit and fields may be combined with page_info (got ${extra.join(', ')})`);
      const decoded = decodeCursor(pageInfo) as Cursor | undefined;
      if (!decoded || typeof decoded.key !== 'number' || typeof decoded.id !== 'number') return errors(400, { page_info: ['Invalid value.'] });
      cursor = decoded;
      ({ filters, order, desc } = decoded);
    } else {
      filters = {};
      for (const name of filterParams) {
        const value = req.query.get(name);
        if (value !== null) filters[name] = value;
      }
      const orderParam = req.query.get('order');
      if (orderParam !== null) {
        const match = /^(id|updated_at|created_at)\s+(asc|desc)$/i.exec(orderParam.trim());
        if (!match) return errors(400, { order: ['is invalid'] });
        order = (match[1] ?? 'id').toLowerCase() as Cursor['order'];
        desc = (match[2] ?? '').toLowerCase() === 'desc';
      }
    }
    const matching = filtered(records, filters);
    if (typeof matching === 'string') return errors(400, matching);
    const compare = (a: SimRecord, b: SimRecord) => {
      const diff = sortKey(a, order) - sortKey(b, order) || Number(a.id) - Number(b.id);
      return desc ? -diff : diff;
    };
    const sorted = [...matching].sort(compare);
    const after = (r: SimRecord, c: Cursor) => {
      const diff = sortKey(r, order) - c.key || Number(r.id) - c.id;
      return desc ? diff < 0 : diff > 0;
    };
    let page: SimRecord[];
    if (!cursor) page = sorted.slice(0, limit);
    else if (cursor.dir === 'next') page = sorted.filter((r) => after(r, cursor)).slice(0, limit);
    else {
      const before = sorted.filter((r) => !after(r, cursor) && !(sortKey(r, order) === cursor.key && Number(r.id) === cursor.id));
      page = before.slice(Math.max(0, before.length - limit));
    }
    const first = page[0];
    const last = page[page.length - 1];
    const links: string[] = [];
    const link = (dir: Cursor['dir'], boundary: SimRecord) => {
      const next: Cursor = { dir, key: sortKey(boundary, order), id: Number(boundary.id), order, desc, filters };
      const query = new URLSearchParams({ limit: String(limit) });
      if (fields !== null) query.set('fields', fields);
      query.set('page_info', encodeCursor(next));
      return `<${req.base}/${shop}/admin/api/${version}/orders.json?${query.toString()}>`;
    };
    if (first && sorted.indexOf(first) > 0) links.push(`${link('prev', first)}; rel="previous"`);
    if (last && sorted.indexOf(last) < sorted.length - 1) links.push(`${link('next', last)}; rel="next"`);
    const byId = new Map(records.map((r, i) => [r.id, i]));
    let orders = page.map((r) => renderShopifyOrder(r, byId.get(r.id) ?? 0));
    if (fields !== null) {
      const wanted = fields.split(',').map((f) => f.trim());
      orders = orders.map((o) => Object.fromEntries(Object.entries(o).filter(([k]) => wanted.includes(k))));
    }
    return {
      status: 200,
      headers: links.length > 0 ? { Link: links.join(', ') } : {},
      body: { orders },
      servedIds: page.map((r) => r.id),
      listPage: true,
    };
  }

  const module: ProviderModule = {
    name: 'shopify',
    decimalRetryAfter: true,
    route(req) {
      const parsed = parsePath(req);
      if (!parsed || req.method !== 'GET') return undefined;
      const { shop, version, resource } = parsed;
      return {
        endpoint: resource === 'orders.json' ? 'orders.list' : 'orders.count',
        kind: 'data',
        account: shop,
        handle: () => {
          const records = accountRecords(state, 'shopify', shop);
          if (!records) return errors(404, 'Not Found');
          const common = { 'X-Shopify-API-Version': version };
          if (header(req, 'x-shopify-access-token') !== tokenFor(shop)) {
            return errors(401, '[API] Invalid API key or access token (unrecognized login or wrong password)', common);
          }
          const bucket = pour(shop, req.now);
          const limitHeaders = { ...common, 'X-Shopify-Shop-Api-Call-Limit': bucket.header };
          if (bucket.full) {
            return errors(429, 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.', {
              ...limitHeaders,
              'Retry-After': '2.0',
            });
          }
          const response =
            resource === 'orders.json'
              ? listOrders(req, shop, version, records)
              : ((): SimResponse => {
                  const matching = filtered(records, Object.fromEntries(filterParams.flatMap((n) => (req.query.has(n) ? [[n, req.query.get(n) ?? '']] : []))));
                  return typeof matching === 'string' ? errors(400, matching) : { status: 200, body: { count: matching.length } };
                })();
          return { ...response, headers: { ...limitHeaders, ...response.headers } };
        },
      };
    },
    rateLimited(retryAfter: RetryAfter) {
      return errors(429, 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.', {
        'Retry-After': retryAfter.header,
        'X-Shopify-Shop-Api-Call-Limit': `${size}/${size}`,
      });
    },
    serverError(status: number) {
      return errors(status, status === 503 ? 'Unavailable Shop' : 'Internal Server Error');
    },
  };
  return { module, tokenFor, bucketLevel: (shop: string) => buckets.get(shop)?.level ?? 0 };
}
