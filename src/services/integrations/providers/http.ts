import type { ConnectionProvider } from '../../../contracts/api/connections.js';
import { ProviderTokenError } from './types.js';

const TOKEN_TIMEOUT_MS = 10_000;

/** Fetches a token endpoint and reads its JSON; any failure is a ProviderTokenError naming the provider's own error code, never a token. */
export async function tokenRequest(provider: ConnectionProvider, url: URL | string, init: RequestInit): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS) });
  } catch (error) {
    throw new ProviderTokenError(provider, undefined, `the token endpoint could not be reached (${(error as Error).name})`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ProviderTokenError(provider, response.status, `the token endpoint answered ${response.status} without JSON`);
  }
  if (typeof body !== 'object' || body === null) throw new ProviderTokenError(provider, response.status, `the token endpoint answered ${response.status} with no object`);
  const fields = body as Record<string, unknown>;
  if (!response.ok) {
    const code = typeof fields.error === 'string' ? fields.error.slice(0, 64) : 'unknown';
    throw new ProviderTokenError(provider, response.status, `the token endpoint refused the request (${response.status} ${code})`);
  }
  return fields;
}

export const text = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);
export const seconds = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined);
