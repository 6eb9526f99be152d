import type { TokenPair } from '../../src/contracts/api/tokens.js';

/**
 * The hub's REST contracts as the benchmarks call them: one JSON request with a bearer token,
 * the status and the body's text back (never parsed here: callers check the status first).
 */

export interface HubAnswer {
  status: number;
  body: string;
}

export async function hubRequest(url: string, token: string | undefined, method: 'POST' | 'PUT', body: unknown, timeoutMs = 15_000): Promise<HubAnswer> {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, body: await response.text() };
}

/** `POST /api/v1/tokens` with the tenant's API key: the pair on 201, else the refusal. */
export async function mintToken(hubUrl: string, apiKey: string, claims: { userId: string; role?: 'member' | 'admin' }): Promise<{ pair: TokenPair } | { refusal: HubAnswer }> {
  const answer = await hubRequest(`${hubUrl}/api/v1/tokens`, apiKey, 'POST', claims);
  return answer.status === 201 ? { pair: JSON.parse(answer.body) as TokenPair } : { refusal: answer };
}
