import type { ProviderSettings } from '../../../contracts/api/connections.js';
import { apiRequest, field, listField } from './api-request.js';
import { cursorCount, fromUnixSeconds, idText, newestSeen, nextSyncCursor, pageSizeFor, remoteRecord, runSince, unreadableRecord, userKeys } from './sync-records.js';
import type { RemoteRecord, RemoteRecordKind, SyncAdapter } from './sync-types.js';

const ENDPOINT = 'receipts.list';
/** Etsy's documented maximum `limit`. */
const MAX_PAGE = 100;
/** When `x-remaining-this-second` is 0 the next call would get a 429: wait out the second. */
const PER_SECOND_PAUSE_MS = 1000;

/** Etsy's receipt status ("Paid", "Completed", "Open", "Payment Processing", "Canceled", "Fully Refunded", "Partially Refunded") and is_paid. */
function kindOf(receipt: unknown): RemoteRecordKind {
  const status = field(receipt, 'status');
  if (typeof status === 'string' && status.toLowerCase().includes('refunded')) return 'order.refunded';
  return field(receipt, 'is_paid') === true ? 'order.paid' : 'order.pending';
}

/** `{amount, divisor, currency_code}`, Etsy's money. */
function money(value: unknown): { value: number | null; currency: string | null } {
  const amount = field(value, 'amount');
  const divisor = field(value, 'divisor');
  const currency = idText(field(value, 'currency_code')) ?? null;
  return { value: typeof amount === 'number' && typeof divisor === 'number' && divisor > 0 ? amount / divisor : null, currency };
}

function toRecord(receipt: unknown): RemoteRecord {
  const id = idText(field(receipt, 'receipt_id'));
  const createdAt = fromUnixSeconds(field(receipt, 'created_timestamp') ?? field(receipt, 'create_timestamp'));
  const updatedAt = fromUnixSeconds(field(receipt, 'updated_timestamp') ?? field(receipt, 'update_timestamp'));
  if (id === undefined || !createdAt || !updatedAt) throw unreadableRecord('etsy', ENDPOINT, 'receipt_id or timestamps');
  const kind = kindOf(receipt);
  // A receipt carries no paid or refunded time.
  return remoteRecord({ id, kind, createdAt, updatedAt, ...money(field(receipt, 'grandtotal')), userKeys: userKeys(field(receipt, 'buyer_email'), field(receipt, 'buyer_user_id')) });
}

/**
 * Receipts changed since the run's lower bound, oldest change first (`sort_on=updated&sort_order=asc`).
 * Pages are keyed on the last update seen rather than a growing offset: a receipt that changes
 * mid-run moves to the end of the list, and with a plain offset the receipt behind it would shift
 * onto the page already read and be skipped. The next page asks `min_last_modified` = the last
 * update second and skips the receipts of that second already returned. Cursor while running:
 * `{since, modifiedFrom (Unix s), skip, newest}`; once done: `{since}`.
 */
export const etsyReceipts: SyncAdapter<ProviderSettings['etsy']> = {
  endpoint: ENDPOINT,
  async listPage(request) {
    const { cursor, settings } = request;
    const since = runSince(cursor, request.since);
    const modifiedFrom = cursorCount(cursor, 'modifiedFrom') || Math.floor(since.getTime() / 1000);
    const skip = cursorCount(cursor, 'skip');
    const limit = pageSizeFor(request.pageSize, MAX_PAGE);
    const url = new URL(`${request.endpoints.api.replace(/\/+$/, '')}/application/shops/${encodeURIComponent(settings.shopId)}/receipts`);
    url.search = new URLSearchParams({ limit: String(limit), offset: String(skip), min_last_modified: String(modifiedFrom), sort_on: 'updated', sort_order: 'asc' }).toString();
    const { auth } = request;
    const response = await apiRequest({
      provider: 'etsy',
      endpoint: ENDPOINT,
      url,
      // Etsy wants `keystring:shared_secret` in x-api-key (the shared secret is required since Feb 2026).
      headers: { authorization: `Bearer ${auth.accessToken ?? ''}`, 'x-api-key': auth.clientSecret ? `${auth.clientId ?? ''}:${auth.clientSecret}` : (auth.clientId ?? ''), accept: 'application/json' },
      signal: request.signal,
      observe: request.observe,
    });
    const receipts = listField('etsy', ENDPOINT, response.body, 'results');
    const records = receipts.map(toRecord);
    const count = field(response.body, 'count');
    const done = records.length < limit || (typeof count === 'number' && skip + records.length >= count);
    const newest = newestSeen(cursor, records);
    const lastSecond = records.length > 0 ? Math.floor((records[records.length - 1] as RemoteRecord).updatedAt.getTime() / 1000) : modifiedFrom;
    const sameSecond = records.filter((r) => Math.floor(r.updatedAt.getTime() / 1000) === lastSecond).length;
    const pause = response.headers.get('x-remaining-this-second') === '0' ? { pauseMs: PER_SECOND_PAUSE_MS } : {};
    return {
      records,
      cursor: done
        ? nextSyncCursor(since, newest)
        : { since: since.toISOString(), modifiedFrom: lastSecond, skip: (lastSecond === modifiedFrom ? skip : 0) + sameSecond, ...(newest && { newest: newest.toISOString() }) },
      done,
      ...pause,
    };
  },
};
