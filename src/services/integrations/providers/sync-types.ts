import type { ConnectionProvider } from '../../../contracts/api/connections.js';
import type { ProviderEndpoints } from './types.js';

/**
 * Where a connection's sync stands, as the provider's adapter wrote it: opaque to the sync engine,
 * stored as JSON with each page (the checkpoint) and handed back to resume. `{}` before the first sync.
 */
export type SyncCursor = Record<string, unknown>;

/** The record kinds every adapter maps to (the connection's `mapping.eventTypes` turns them into event types). */
export const remoteRecordKinds = ['order.paid', 'order.pending', 'order.refunded'] as const;
export type RemoteRecordKind = (typeof remoteRecordKinds)[number];

/** One provider record (an order, a charge, a receipt), provider-neutral. */
export interface RemoteRecord {
  /** The provider's id of the record. */
  id: string;
  /** Changes whenever the record changes (e.g. its updated_at in ms, or a version number), as text. */
  version: string;
  kind: RemoteRecordKind;
  /** When what the kind names happened (paid, refunded; created when the provider gives nothing closer). */
  occurredAt: Date;
  /** The provider's last change of the record: incremental syncs resume from the newest seen. */
  updatedAt: Date;
  /** The amount in major units (12.34), or null. */
  value: number | null;
  currency: string | null;
  /** What can find the tenant's user: the customer's email (lower-cased), the provider's customer id, an external id the shop stored. */
  userKeys: { email?: string; customer_id?: string; external_id?: string };
}

/** The opened secrets a provider's calls need (the API key, or the OAuth app and access token). */
export interface ProviderAuth {
  apiKey?: string;
  accessToken?: string;
  clientId?: string;
  clientSecret?: string;
}

/** One call the adapter made, for the per-provider metrics. */
export interface ProviderCall {
  provider: ConnectionProvider;
  endpoint: string;
  /** The HTTP status, or why there was none. */
  status: number | 'timeout' | 'network';
  durationMs: number;
}

export interface ListPageRequest<S> {
  endpoints: ProviderEndpoints;
  settings: S;
  auth: ProviderAuth;
  /** Where the last stored page left off; `{}` on the first sync. */
  cursor: SyncCursor;
  /** The first sync imports records changed from this instant on (bounded backfill). */
  since: Date;
  /** Records per page asked of the provider (each adapter caps it at the provider's maximum). */
  pageSize: number;
  /** Aborts the call (shutdown). Each call also has its own timeout. */
  signal?: AbortSignal;
  /** Told of every HTTP call, whatever its outcome. */
  observe?: (call: ProviderCall) => void;
}

export interface RemotePage {
  records: RemoteRecord[];
  /** The checkpoint stored with this page: where the next page (or, when `done`, the next sync) starts. */
  cursor: SyncCursor;
  /** No further page in this sync. */
  done: boolean;
  /** The provider's own throttle (e.g. Shopify's leaky bucket nearly full): wait this long before the next call. */
  pauseMs?: number;
}

/** How a provider's records are listed, page by page; one per provider module. */
export interface SyncAdapter<S> {
  /** Logical name of the listed endpoint, for metrics (e.g. `orders.list`). */
  endpoint: string;
  listPage(request: ListPageRequest<S>): Promise<RemotePage>;
}

/** The provider throttled the call (429, or its own "bucket full"): no call before `retryAfterMs` (as the provider said; undefined when it did not). */
export class ProviderRateLimitError extends Error {
  constructor(
    readonly provider: ConnectionProvider,
    readonly retryAfterMs: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ProviderRateLimitError';
  }
}

/** 5xx, a timeout or no connection: worth retrying later; counted by the provider's circuit breaker. */
export class ProviderUnavailableError extends Error {
  constructor(
    readonly provider: ConnectionProvider,
    readonly httpStatus: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ProviderUnavailableError';
  }
}

/** 401/403: the credentials were refused (an expired or revoked token, a wrong key). */
export class ProviderAuthError extends Error {
  constructor(
    readonly provider: ConnectionProvider,
    readonly httpStatus: number,
    message: string,
  ) {
    super(message);
    this.name = 'ProviderAuthError';
  }
}

/** Any other refusal or an answer that cannot be read: retrying the same call will not help. */
export class ProviderResponseError extends Error {
  constructor(
    readonly provider: ConnectionProvider,
    readonly httpStatus: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ProviderResponseError';
  }
}
