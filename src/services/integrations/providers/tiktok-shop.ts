import { tiktokShopSettingsSchema } from '../../../contracts/api/connections.js';
import { seconds, text, tokenRequest } from './http.js';
import { tiktokShopOrders } from './tiktok-shop-orders.js';
import { ProviderTokenError, type ProviderAdapter, type TokenSet } from './types.js';

const fromUnixSeconds = (value: unknown): Date | null => {
  const at = seconds(value);
  return at ? new Date(at * 1000) : null;
};

/**
 * TikTok Shop: its own authorize URL (`app_key` and `state`, no PKCE); the callback's `code` is
 * exchanged by a GET to /api/v2/token/get with the app key and secret. The answer wraps the tokens
 * in `{code, message, data}`, with expiries as Unix timestamps. API calls are signed with the app
 * secret (the sync engine's adapter).
 */
export const tiktokShop: ProviderAdapter<'tiktok_shop'> = {
  provider: 'tiktok_shop',
  displayName: 'TikTok Shop',
  settingsSchema: tiktokShopSettingsSchema,
  defaults: { api: 'https://open-api.tiktokglobalshop.com', authorize: 'https://auth.tiktok-shops.com/oauth/authorize', token: 'https://auth.tiktok-shops.com/api/v2/token/get' },
  credentialFields: { accepted: ['clientId', 'clientSecret'], required: ['clientId', 'clientSecret'] },
  readyWith: ['client_id', 'client_secret', 'access_token', 'refresh_token'],
  oauth: {
    pkce: false,
    authorizeUrl({ endpoints, app, state }) {
      const url = new URL(endpoints.authorize ?? '');
      url.search = new URLSearchParams({ app_key: app.clientId, state }).toString();
      return url;
    },
    async exchangeCode({ endpoints, app, code }) {
      const url = new URL(endpoints.token ?? '');
      url.search = new URLSearchParams({ app_key: app.clientId, app_secret: app.clientSecret ?? '', auth_code: code, grant_type: 'authorized_code' }).toString();
      return tokenSet(await tokenRequest('tiktok_shop', url, { method: 'GET', headers: { accept: 'application/json' } }), 'code');
    },
    // GET /api/v2/token/refresh beside /api/v2/token/get; the refresh token rotates.
    async refresh({ endpoints, app, refreshToken }) {
      const url = new URL('refresh', endpoints.token ?? '');
      url.search = new URLSearchParams({ app_key: app.clientId, app_secret: app.clientSecret ?? '', refresh_token: refreshToken, grant_type: 'refresh_token' }).toString();
      return tokenSet(await tokenRequest('tiktok_shop', url, { method: 'GET', headers: { accept: 'application/json' } }), 'refresh token');
    },
  },
  sync: tiktokShopOrders,
};

/** The token answer (`{code, data}`) as a TokenSet; a non-zero code is a refusal of `what`. */
function tokenSet(body: Record<string, unknown>, what: string): TokenSet {
  if (body.code !== 0) throw new ProviderTokenError('tiktok_shop', 200, `the token endpoint refused the ${what} (code ${typeof body.code === 'number' ? body.code : 'missing'})`);
  const data = (typeof body.data === 'object' && body.data !== null ? body.data : {}) as Record<string, unknown>;
  const accessToken = text(data.access_token);
  if (!accessToken) throw new ProviderTokenError('tiktok_shop', 200, 'the token answer holds no access_token');
  return {
    accessToken,
    accessTokenExpiresAt: fromUnixSeconds(data.access_token_expire_in),
    refreshToken: text(data.refresh_token) ?? null,
    refreshTokenExpiresAt: fromUnixSeconds(data.refresh_token_expire_in),
  };
}
