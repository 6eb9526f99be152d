import type { ConnectionProvider } from '../../../contracts/api/connections.js';
import { parseRetryAfter } from '../../../domain/retry-after.js';
import { ProviderAuthError, ProviderRateLimitError, ProviderResponseError, ProviderUnavailableError, type ProviderCall } from './sync-types.js';

const DEFAULT_TIMEOUT_MS = 10_000;

export interface ApiRequest {
  provider: ConnectionProvider;
  /** Logical endpoint (`orders.list`): what metrics and error messages name, never the URL (its query may carry secrets). */
  endpoint: string;
  url: URL | string;
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  observe?: (call: ProviderCall) => void;
  timeoutMs?: number;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body. */
  body: unknown;
}

/**
 * One provider API call, shared by every sync adapter: a per-call timeout on top of the caller's
 * signal, no redirects (a redirect would carry the credentials headers to another host), every call
 * reported to `observe`, and every failure turned into one of the Provider*Error classes. Messages
 * name the provider, the endpoint and the status only.
 */
export async function apiRequest(request: ApiRequest): Promise<ApiResponse> {
  const { provider, endpoint } = request;
  const timeout = AbortSignal.timeout(request.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  const started = performance.now();
  const report = (status: ProviderCall['status']) => request.observe?.({ provider, endpoint, status, durationMs: performance.now() - started });
  let response: Response;
  let text: string;
  try {
    response = await fetch(request.url, { method: request.method ?? 'GET', headers: request.headers, body: request.body, redirect: 'error', signal });
    // The body is read under the same signal: a provider stalling mid-answer times out too.
    text = await response.text();
  } catch (error) {
    const timedOut = timeout.aborted && !request.signal?.aborted;
    report(timedOut ? 'timeout' : 'network');
    // The caller's own abort (shutdown) is not the provider's fault: it propagates as it is.
    if (request.signal?.aborted) throw request.signal.reason;
    const why = timedOut ? 'timed out' : `could not be reached (${(error as Error).name})`;
    throw new ProviderUnavailableError(provider, undefined, `${provider} ${endpoint} ${why}`);
  }
  const status = response.status;
  report(status);
  if (status === 429) {
    throw new ProviderRateLimitError(provider, parseRetryAfter(response.headers.get('retry-after'), Date.now()), `${provider} ${endpoint} was throttled (429)`);
  }
  if (status >= 500) throw new ProviderUnavailableError(provider, status, `${provider} ${endpoint} answered ${status}`);
  if (status === 401 || status === 403) throw new ProviderAuthError(provider, status, `${provider} ${endpoint} refused the credentials (${status})`);
  if (status < 200 || status >= 300) throw new ProviderResponseError(provider, status, `${provider} ${endpoint} refused the request (${status})`);
  try {
    return { status, headers: response.headers, body: JSON.parse(text) as unknown };
  } catch {
    throw new ProviderResponseError(provider, status, `${provider} ${endpoint} answered ${status} without JSON`);
  }
}

/** Reads fields of a provider's JSON without trusting its shape. */
export const field = (value: unknown, name: string): unknown => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined);

/** A list field of a provider's answer; anything else is an unreadable answer. */
export function listField(provider: ConnectionProvider, endpoint: string, body: unknown, name: string): unknown[] {
  const list = field(body, name);
  if (!Array.isArray(list)) throw new ProviderResponseError(provider, 200, `${provider} ${endpoint} answered without a ${name} list`);
  return list;
}
