/**
 * Stripe API (charges and events), as documented on docs.stripe.com:
 * - secret keys (`sk_test_…`) sent as `Authorization: Bearer sk_…` or as the HTTP Basic user name;
 *   no key → 401 "You did not provide an API key…", a wrong one → 401 "Invalid API Key provided: …",
 *   both `{"error":{"message","type":"invalid_request_error"}}` (https://docs.stripe.com/api/authentication);
 * - list endpoints `GET /v1/charges` and `GET /v1/events`: `limit` 1–100 (default 10), cursors
 *   `starting_after` / `ending_before` (object ids, mutually exclusive), newest first, answers
 *   `{"object":"list","url","has_more","data"}` (https://docs.stripe.com/api/pagination);
 *   `created[gt|gte|lt|lte]` filters; events only go back 30 days;
 * - 429 `{"error":{"code":"rate_limit","type":"invalid_request_error"}}` (Stripe's rate-limit error).
 * Each key belongs to one account; `https://api.stripe.com` becomes the prefix `/stripe`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ProviderModule, RetryAfter, SimRecord, SimRequest, SimResponse, SimState } from './core.js';
import { accountRecords, header, unixSeconds } from './core.js';

const eventWindowMs = 30 * 86_400_000;

export function renderStripeCharge(record: SimRecord): Record<string, unknown> {
  const refunded = record.status === 'refunded';
  const paid = record.status !== 'pending';
  return {
    id: record.id,
    object: 'charge',
    amount: record.amountMinor,
    amount_captured: paid ? record.amountMinor : 0,
    amount_refunded: refunded ? record.amountMinor : 0,
    billing_details: { email: record.email, name: null, phone: null, address: null },
    captured: paid,
    created: unixSeconds(record.createdAt),
    currency: record.currency.toLowerCase(),
    customer: null,
    livemode: false,
    metadata: {},
    paid,
    receipt_email: record.email,
    refunded,
    status: record.status === 'pending' ? 'pending' : 'succeeded',
  };
}

interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: Record<string, unknown> };
  livemode: false;
  pending_webhooks: 0;
  request: { id: null; idempotency_key: null };
  type: string;
}

/** Events derived from each charge's versions: `charge.succeeded`/`charge.pending`, then `charge.updated`/`charge.refunded`. */
export function stripeEvents(records: SimRecord[]): StripeEvent[] {
  const events: StripeEvent[] = [];
  for (const record of records) {
    for (let v = 1; v <= record.version; v += 1) {
      const created = v === 1 ? record.createdAt : record.updatedAt - (record.version - v) * 1000;
      const type = v === 1 ? (record.status === 'pending' ? 'charge.pending' : 'charge.succeeded') : record.status === 'refunded' && v === record.version ? 'charge.refunded' : 'charge.updated';
      events.push({
        id: `evt_${createHash('sha256').update(`${record.id}:${v}`).digest('base64url').replace(/[-_]/g, '').slice(0, 24)}`,
        object: 'event',
        api_version: '2025-01-27.acacia',
        created: unixSeconds(created),
        data: { object: renderStripeCharge(record) },
        livemode: false,
        pending_webhooks: 0,
        request: { id: null, idempotency_key: null },
        type,
      });
    }
  }
  return events;
}

export function createStripe(state: SimState) {
  const keys = new Map<string, string>(); // key → account
  const keyOf = new Map<string, string>(); // account → key

  const keyFor = (account: string): string => {
    let key = keyOf.get(account);
    if (!key) {
      key = `sk_test_51${createHash('sha256').update(`sim-stripe:${account}`).digest('hex').slice(0, 40)}`;
      keyOf.set(account, key);
      keys.set(key, account);
    }
    return key;
  };

  function presentedKey(req: SimRequest): string | undefined {
    const auth = header(req, 'authorization');
    if (!auth) return undefined;
    const bearer = /^Bearer\s+(.+)$/i.exec(auth);
    if (bearer) return bearer[1]?.trim();
    const basic = /^Basic\s+(.+)$/i.exec(auth);
    if (basic) return Buffer.from(basic[1] ?? '', 'base64').toString('utf8').split(':')[0];
    return '';
  }

  const requestId = () => `req_${randomBytes(7).toString('hex')}`;
  const error = (status: number, fields: Record<string, string>, headers: Record<string, string> = {}): SimResponse => ({
    status,
    headers: { 'Request-Id': requestId(), ...headers },
    body: { error: fields },
  });

  function authenticate(req: SimRequest): { account: string } | SimResponse {
    const key = presentedKey(req);
    if (key === undefined) {
      return error(
        401,
        {
          message:
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
          type: 'invalid_request_error',
        },
        { 'WWW-Authenticate': 'Basic realm="Stripe"' },
      );
    }
    const account = keys.get(key);
    if (!account || !accountRecords(state, 'stripe', account)) {
      const masked = key.length > 12 ? `${key.slice(0, 8)}${'*'.repeat(key.length - 12)}${key.slice(-4)}` : key;
      return error(401, { message: `Invalid API Key provided: ${masked}`, type: 'invalid_request_error' }, { 'WWW-Authenticate': 'Basic realm="Stripe"' });
    }
    return { account };
  }

  function list<T extends { id: string; created: number }>(req: SimRequest, url: string, all: T[], noun: string, recordIdOf: (item: T) => string): SimResponse {
    const limitText = req.query.get('limit');
    const limit = limitText === null ? 10 : Number(limitText);
    if (!/^\d+$/.test(limitText ?? '10')) return error(400, { message: `Invalid integer: ${limitText}`, param: 'limit', type: 'invalid_request_error' });
    if (limit < 1 || limit > 100) {
      return error(400, { message: 'This value must be greater than or equal to 1 and less than or equal to 100.', param: 'limit', type: 'invalid_request_error' });
    }
    const startingAfter = req.query.get('starting_after');
    const endingBefore = req.query.get('ending_before');
    if (startingAfter !== null && endingBefore !== null) {
      return error(400, { message: 'You may only specify one of these parameters: ending_before, starting_after.', type: 'invalid_request_error' });
    }
    const bounds: [string, (a: number, b: number) => boolean][] = [
      ['created', (a, b) => a === b],
      ['created[gt]', (a, b) => a > b],
      ['created[gte]', (a, b) => a >= b],
      ['created[lt]', (a, b) => a < b],
      ['created[lte]', (a, b) => a <= b],
    ];
    let items = [...all];
    for (const [name, test] of bounds) {
      const value = req.query.get(name);
      if (value === null) continue;
      if (!/^\d+$/.test(value)) return error(400, { message: `Invalid integer: ${value}`, param: name, type: 'invalid_request_error' });
      items = items.filter((item) => test(item.created, Number(value)));
    }
    const type = req.query.get('type');
    if (type !== null) {
      const typeOf = (item: T) => (item as { type?: string }).type ?? '';
      items = items.filter((item) => typeOf(item) === type || (type.endsWith('.*') && typeOf(item).startsWith(type.slice(0, -1))));
    }
    // Newest first; ties broken by id so the order is total.
    items.sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    let page: T[];
    let hasMore: boolean;
    const cursor = startingAfter ?? endingBefore;
    if (cursor !== null) {
      const at = items.findIndex((item) => item.id === cursor);
      if (at < 0) {
        return error(404, { code: 'resource_missing', message: `No such ${noun}: '${cursor}'`, param: startingAfter !== null ? 'starting_after' : 'ending_before', type: 'invalid_request_error' });
      }
      if (startingAfter !== null) {
        page = items.slice(at + 1, at + 1 + limit);
        hasMore = at + 1 + limit < items.length;
      } else {
        page = items.slice(Math.max(0, at - limit), at);
        hasMore = at - limit > 0;
      }
    } else {
      page = items.slice(0, limit);
      hasMore = limit < items.length;
    }
    return {
      status: 200,
      headers: { 'Request-Id': requestId(), 'Stripe-Version': '2025-01-27.acacia' },
      body: { object: 'list', data: page, has_more: hasMore, url },
      servedIds: page.map(recordIdOf),
      listPage: true,
    };
  }

  const module: ProviderModule = {
    name: 'stripe',
    route(req) {
      if (req.method !== 'GET' || (req.path !== '/v1/charges' && req.path !== '/v1/events')) return undefined;
      const key = presentedKey(req);
      const account = key === undefined ? undefined : keys.get(key);
      const charges = req.path === '/v1/charges';
      return {
        endpoint: charges ? 'charges.list' : 'events.list',
        kind: 'data',
        account,
        handle: () => {
          const auth = authenticate(req);
          if ('status' in auth) return auth;
          const records = accountRecords(state, 'stripe', auth.account) ?? [];
          if (charges) {
            const rendered = records.map((r) => ({ ...renderStripeCharge(r), id: r.id, created: unixSeconds(r.createdAt) }));
            return list(req, '/v1/charges', rendered, 'charge', (c) => c.id);
          }
          const events = stripeEvents(records).filter((e) => e.created * 1000 >= req.now - eventWindowMs);
          return list(req, '/v1/events', events, 'event', (e) => String(e.data.object.id));
        },
      };
    },
    rateLimited(retryAfter: RetryAfter) {
      return error(
        429,
        { code: 'rate_limit', message: 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.', type: 'invalid_request_error' },
        { 'Retry-After': retryAfter.header, 'Stripe-Should-Retry': 'true' },
      );
    },
    serverError(status: number) {
      return error(status, { message: 'An unknown error occurred', type: 'api_error' }, { 'Stripe-Should-Retry': 'true' });
    },
  };
  return { module, keyFor };
}
