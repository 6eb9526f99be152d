import { etsySettingsSchema } from '../../../contracts/api/connections.js';
import { etsyReceipts } from './etsy-receipts.js';
import { seconds, text, tokenRequest } from './http.js';
import { ProviderTokenError, type ProviderAdapter, type TokenSet } from './types.js';

/**
 * Etsy Open API v3: OAuth 2.0 authorization code with PKCE (S256). The app's keystring is the
 * client id (also sent as `x-api-key` on API calls); no client secret in the flow. Access tokens
 * last an hour; refresh tokens rotate on use (the sync engine's refresh must store the new one).
 */
export const etsy: ProviderAdapter<'etsy'> = {
  provider: 'etsy',
  displayName: 'Etsy',
  settingsSchema: etsySettingsSchema,
  defaults: { api: 'https://openapi.etsy.com/v3', authorize: 'https://www.etsy.com/oauth/connect', token: 'https://api.etsy.com/v3/public/oauth/token' },
  credentialFields: { accepted: ['clientId', 'clientSecret'], required: ['clientId'] },
  readyWith: ['client_id', 'access_token', 'refresh_token'],
  oauth: {
    pkce: true,
    authorizeUrl({ endpoints, app, settings, state, codeChallenge, redirectUri }) {
      const url = new URL(endpoints.authorize ?? '');
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: app.clientId,
        redirect_uri: redirectUri,
        scope: settings.scopes.join(' '),
        state,
        code_challenge: codeChallenge ?? '',
        code_challenge_method: 'S256',
      }).toString();
      return url;
    },
    async exchangeCode({ endpoints, app, code, codeVerifier, redirectUri }) {
      return tokenSet(
        await tokenRequest('etsy', endpoints.token ?? '', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({ grant_type: 'authorization_code', client_id: app.clientId, redirect_uri: redirectUri, code, code_verifier: codeVerifier ?? '' }),
        }),
      );
    },
    // The same endpoint with grant_type=refresh_token; the answer carries the rotated refresh token.
    async refresh({ endpoints, app, refreshToken }) {
      return tokenSet(
        await tokenRequest('etsy', endpoints.token ?? '', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({ grant_type: 'refresh_token', client_id: app.clientId, refresh_token: refreshToken }),
        }),
      );
    },
  },
  sync: etsyReceipts,
};

/** The token answer (code or refresh grant) as a TokenSet. */
function tokenSet(body: Record<string, unknown>): TokenSet {
  const accessToken = text(body.access_token);
  if (!accessToken) throw new ProviderTokenError('etsy', 200, 'the token answer holds no access_token');
  const expiresIn = seconds(body.expires_in);
  return {
    accessToken,
    accessTokenExpiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
    refreshToken: text(body.refresh_token) ?? null,
    // Etsy refresh tokens last 90 days.
    refreshTokenExpiresAt: text(body.refresh_token) ? new Date(Date.now() + 90 * 86_400_000) : null,
  };
}
