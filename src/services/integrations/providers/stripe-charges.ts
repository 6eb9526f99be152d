import type { ProviderSettings } from '../../../contracts/api/connections.js';
import { apiRequest, field, listField } from './api-request.js';
import { cursorText, fromUnixSeconds, idText, newestSeen, nextSyncCursor, pageSizeFor, remoteRecord, runSince, unreadableRecord, userKeys } from './sync-records.js';
import type { ListPageRequest, RemoteRecord, RemoteRecordKind, SyncAdapter, SyncCursor } from './sync-types.js';

/** Stripe's documented maximum `limit`. */
const MAX_PAGE = 100;
/**
 * Stripe keeps events 30 days; a lower bound older than this (a first backfill, or a connection
 * idle for a month) lists charges instead. A day of slack keeps a run that starts near the edge from
 * losing the oldest events to the retention window while it pages.
 */
const EVENTS_REACH_MS = 29 * 86_400_000;
/** Slack for the clock difference between Stripe and this host when a charges run sets where events start. */
const CLOCK_SLACK_MS = 60_000;
/** Currencies Stripe counts in whole units (docs.stripe.com/currencies#zero-decimal). */
const zeroDecimal = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);

const kindOf = (charge: unknown): RemoteRecordKind =>
  field(charge, 'refunded') === true || (typeof field(charge, 'amount_refunded') === 'number' && (field(charge, 'amount_refunded') as number) > 0)
    ? 'order.refunded'
    : field(charge, 'paid') === true && field(charge, 'status') === 'succeeded'
      ? 'order.paid'
      : 'order.pending';

/**
 * A charge as a record. A charge has no updated timestamp: `changedAt` is the event's creation (the
 * change) when listed from events, else the charge's creation — the same instant a charge's first
 * event carries, so both sources give an unchanged charge the same version.
 */
function toRecord(charge: unknown, changedAt: Date | undefined): RemoteRecord {
  const id = idText(field(charge, 'id'));
  const createdAt = fromUnixSeconds(field(charge, 'created'));
  if (id === undefined || !createdAt) throw unreadableRecord('stripe', 'charges.list', 'id or created');
  const updatedAt = changedAt ?? createdAt;
  const kind = kindOf(charge);
  const currency = idText(field(charge, 'currency'));
  const amount = field(charge, 'amount');
  const customer = field(charge, 'customer');
  return remoteRecord({
    id,
    kind,
    createdAt,
    updatedAt,
    value: typeof amount === 'number' ? (currency && zeroDecimal.has(currency) ? amount : amount / 100) : null,
    currency: currency?.toUpperCase() ?? null,
    userKeys: userKeys(field(field(charge, 'billing_details'), 'email') ?? field(charge, 'receipt_email'), typeof customer === 'object' ? field(customer, 'id') : customer),
  });
}

/** Newest first, a charge may have several events on one page: its newest one stands for it. */
function eventRecords(events: unknown[]): RemoteRecord[] {
  const seen = new Set<string>();
  const records: RemoteRecord[] = [];
  for (const event of events) {
    const record = toRecord(field(field(event, 'data'), 'object'), fromUnixSeconds(field(event, 'created')));
    if (seen.has(record.id)) continue;
    seen.add(record.id);
    records.push(record);
  }
  return records;
}

type Source = 'charges' | 'events';

/**
 * Charges changed since the run's lower bound. Stripe lists newest first (`has_more`, `starting_after`)
 * and filters only on `created`, which a refund does not move; so changes come from `GET /v1/events`
 * (`type=charge.*`, each event's charge), and `GET /v1/charges?created[gte]` serves the backfills that
 * reach past the events' 30 days. Cursor while running: `{since, source, startingAfter, newest}`; once
 * done: `{since}` — the newest event seen, or for a charges run the moment it started (its charges were
 * read in their state then; later changes are events).
 */
export const stripeCharges: SyncAdapter<ProviderSettings['stripe']> = {
  endpoint: 'charges.list',
  async listPage(request: ListPageRequest<ProviderSettings['stripe']>) {
    const { cursor } = request;
    const since = runSince(cursor, request.since);
    const source: Source = (cursorText(cursor, 'source') as Source | undefined) ?? (Date.now() - since.getTime() > EVENTS_REACH_MS ? 'charges' : 'events');
    const startingAfter = cursorText(cursor, 'startingAfter');
    const url = new URL(`${request.endpoints.api.replace(/\/+$/, '')}/v1/${source}`);
    url.searchParams.set('limit', String(pageSizeFor(request.pageSize, MAX_PAGE)));
    url.searchParams.set('created[gte]', String(Math.floor(since.getTime() / 1000)));
    if (source === 'events') url.searchParams.set('type', 'charge.*');
    if (startingAfter) url.searchParams.set('starting_after', startingAfter);
    const response = await apiRequest({
      provider: 'stripe',
      endpoint: `${source}.list`,
      url,
      headers: { authorization: `Bearer ${request.auth.apiKey ?? ''}`, accept: 'application/json', ...(request.settings.accountId && { 'Stripe-Account': request.settings.accountId }) },
      signal: request.signal,
      observe: request.observe,
    });
    const items = listField('stripe', `${source}.list`, response.body, 'data');
    const records = source === 'events' ? eventRecords(items) : items.map((charge) => toRecord(charge, undefined));
    // A charges run's high-water mark is when its first page was read (Stripe's clock), not a charge's time.
    const startedAt = Date.parse(response.headers.get('date') ?? '') || Date.now();
    const newest = source === 'events' ? newestSeen(cursor, records) : (newestSeen(cursor, []) ?? new Date(startedAt - CLOCK_SLACK_MS));
    const last = idText(field(items[items.length - 1], 'id'));
    const more = field(response.body, 'has_more') === true && last !== undefined;
    const running: SyncCursor = { since: since.toISOString(), source, startingAfter: last, ...(newest && { newest: newest.toISOString() }) };
    return { records, cursor: more ? running : nextSyncCursor(since, newest), done: !more };
  },
};
