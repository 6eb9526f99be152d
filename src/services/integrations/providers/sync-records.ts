import type { ConnectionProvider } from '../../../contracts/api/connections.js';
import { ProviderResponseError, type RemoteRecord, type SyncCursor } from './sync-types.js';

/**
 * What every sync adapter shares: reading its cursor (plain JSON, possibly written by an older
 * process), the run's lower bound and high-water mark, and the provider-neutral parts of a record.
 *
 * Each cursor holds `since` (ISO): during a run, the run's lower bound; once `done`, where the next
 * incremental sync starts. Adapters add their own continuation fields while a run is in progress.
 */

export const cursorText = (cursor: SyncCursor, name: string): string | undefined => {
  const value = cursor[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
};

export const cursorCount = (cursor: SyncCursor, name: string): number => {
  const value = cursor[name];
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
};

const cursorDate = (cursor: SyncCursor, name: string): Date | undefined => {
  const text = cursorText(cursor, name);
  const ms = text === undefined ? NaN : Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms);
};

/** The run's lower bound: the cursor's (a resumed run, or the last sync's high-water mark), else the backfill start. */
export const runSince = (cursor: SyncCursor, since: Date): Date => cursorDate(cursor, 'since') ?? since;

/** The newest change seen so far in the run (`newest` in the cursor), with this page's records. */
export function newestSeen(cursor: SyncCursor, records: readonly RemoteRecord[]): Date | undefined {
  let newest = cursorDate(cursor, 'newest');
  for (const record of records) if (!newest || record.updatedAt > newest) newest = record.updatedAt;
  return newest;
}

/** The checkpoint of a finished run: the next sync starts at the newest change seen (inclusive; the engine de-duplicates). */
export const nextSyncCursor = (since: Date, newest: Date | undefined, extra: SyncCursor = {}): SyncCursor => ({ ...extra, since: (newest ?? since).toISOString() });

/** The page size asked of the provider: the engine's, within the provider's bounds. */
export const pageSizeFor = (requested: number, max: number): number => Math.max(1, Math.min(max, Number.isFinite(requested) ? Math.floor(requested) : max));

export const fromUnixSeconds = (value: unknown): Date | undefined => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? new Date(value * 1000) : undefined);

export const fromIso = (value: unknown): Date | undefined => {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isNaN(ms) ? undefined : new Date(ms);
};

/** A decimal amount the provider sent as text ("12.34") or a number, in major units; null when unreadable. */
export function majorUnits(value: unknown): number | null {
  const amount = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
  return Number.isFinite(amount) ? amount : null;
}

/** Ids arrive as numbers (Shopify, Etsy) or strings (Stripe, TikTok); both become text. */
export const idText = (value: unknown): string | undefined =>
  typeof value === 'string' && value.length > 0 ? value : typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : undefined;

/** The keys that find the tenant's user: the email lower-cased and trimmed, the provider's customer id as text. */
export function userKeys(email: unknown, customerId: unknown): RemoteRecord['userKeys'] {
  const keys: RemoteRecord['userKeys'] = {};
  const normalized = typeof email === 'string' ? email.trim().toLowerCase() : '';
  if (normalized.length > 0) keys.email = normalized;
  const customer = idText(customerId);
  if (customer !== undefined) keys.customer_id = customer;
  return keys;
}

/** A record the adapter cannot read (no id, no timestamps): the page fails rather than silently dropping it. */
export const unreadableRecord = (provider: ConnectionProvider, endpoint: string, what: string): ProviderResponseError =>
  new ProviderResponseError(provider, 200, `${provider} ${endpoint} answered a record without ${what}`);

/** The provider-specific facts of a record; `remoteRecord` derives the rest the same way for every provider. */
export interface RecordFacts {
  id: string;
  kind: RemoteRecord['kind'];
  createdAt: Date;
  updatedAt: Date;
  /** When it was paid, where the provider says. */
  paidAt?: Date | undefined;
  value: number | null;
  currency: string | null;
  userKeys: RemoteRecord['userKeys'];
}

/**
 * A record's version is its last change (in ms), and when its kind happened is: a refund's time is
 * its update (no provider stamps refunds on the order), a payment's its paid time (else creation),
 * anything else its creation.
 */
export function remoteRecord(facts: RecordFacts): RemoteRecord {
  const { paidAt, createdAt, updatedAt, ...rest } = facts;
  const occurredAt = facts.kind === 'order.refunded' ? updatedAt : facts.kind === 'order.paid' ? (paidAt ?? createdAt) : createdAt;
  return { ...rest, version: String(updatedAt.getTime()), occurredAt, updatedAt };
}
