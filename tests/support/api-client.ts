import type { IngestResponse } from '../../src/contracts/api/events.js';
import type { TokenPair } from '../../src/contracts/api/tokens.js';

/** Thin fetch wrappers so tests read as API calls; they return the raw Response for status/header checks. */
export function apiRequest(baseUrl: string, method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  return fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
}

/** apiRequest, with the body read as JSON (undefined when there is none, as for a 204). */
export async function apiJson<T = unknown>(baseUrl: string, method: string, path: string, options: Parameters<typeof apiRequest>[3] = {}): Promise<{ status: number; body: T }> {
  const response = await apiRequest(baseUrl, method, path, options);
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export async function mintTokens(baseUrl: string, apiKey: string, body: Record<string, unknown>): Promise<TokenPair> {
  const response = await apiRequest(baseUrl, 'POST', '/api/v1/tokens', { token: apiKey, body });
  if (response.status !== 201) throw new Error(`token minting answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as TokenPair;
}

export async function postEvents(baseUrl: string, token: string, body: unknown): Promise<{ status: number; body: IngestResponse }> {
  const response = await apiRequest(baseUrl, 'POST', '/api/v1/events', { token, body });
  return { status: response.status, body: (await response.json()) as IngestResponse };
}
