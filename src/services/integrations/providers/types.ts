import type { z } from 'zod';
import type { ConnectionCredentialsInput, ConnectionProvider, CredentialKind, ProviderSettings } from '../../../contracts/api/connections.js';
import type { SyncAdapter } from './sync-types.js';

/** Where a provider is reached: its public URLs, or a connection's `baseUrls` overrides. */
export interface ProviderEndpoints {
  api: string;
  authorize?: string;
  token?: string;
}

/** Tokens a provider's token endpoint hands over. */
export interface TokenSet {
  accessToken: string;
  accessTokenExpiresAt: Date | null;
  refreshToken: string | null;
  refreshTokenExpiresAt: Date | null;
}

/** The app credentials an OAuth provider needs, opened from the vault. */
export interface AppCredentials {
  clientId: string;
  clientSecret?: string;
}

export interface AuthorizeRequest<S> {
  endpoints: ProviderEndpoints;
  app: AppCredentials;
  settings: S;
  state: string;
  /** S256 of the verifier; undefined for providers without PKCE. */
  codeChallenge?: string;
  redirectUri: string;
}

export interface CodeExchange {
  endpoints: ProviderEndpoints;
  app: AppCredentials;
  code: string;
  codeVerifier?: string;
  redirectUri: string;
}

export interface TokenRefresh {
  endpoints: ProviderEndpoints;
  app: AppCredentials;
  refreshToken: string;
}

/** The authorization-code flow of a provider: its authorize URL and its token requests, nothing else. */
export interface OAuthFlowAdapter<S> {
  /** Whether the flow uses PKCE (S256). */
  pkce: boolean;
  authorizeUrl(request: AuthorizeRequest<S>): URL;
  exchangeCode(request: CodeExchange): Promise<TokenSet>;
  /** A refresh-token grant; the answer's refresh token (when the provider rotates them) replaces the one used. */
  refresh(request: TokenRefresh): Promise<TokenSet>;
}

/** A provider is data plus a small adapter: a new provider is a new file listed in `providers/index.ts`. */
export interface ProviderAdapter<P extends ConnectionProvider = ConnectionProvider> {
  provider: P;
  displayName: string;
  settingsSchema: z.ZodType<ProviderSettings[P]>;
  /** Public URLs, used unless the connection's settings override them. */
  defaults: ProviderEndpoints;
  /** The credential fields `PUT .../credentials` takes for this provider, and which of them are required. */
  credentialFields: { accepted: (keyof ConnectionCredentialsInput)[]; required: (keyof ConnectionCredentialsInput)[] };
  /** The kinds that must be stored before the connection can sync (`active`); otherwise `needs_reauth`. */
  readyWith: CredentialKind[];
  /** Present for providers connected through OAuth. */
  oauth?: OAuthFlowAdapter<ProviderSettings[P]>;
  /** How the provider's records are listed for syncs. */
  sync: SyncAdapter<ProviderSettings[P]>;
}

/** What a provider reached with one API key (not OAuth) takes and needs: `apiKey` in, `api_key` stored. */
export const apiKeyCredentials = (): Pick<ProviderAdapter, 'credentialFields' | 'readyWith'> => ({
  credentialFields: { accepted: ['apiKey'], required: ['apiKey'] },
  readyWith: ['api_key'],
});

/** A provider refused a token request or answered something unusable. The message never holds a secret. */
export class ProviderTokenError extends Error {
  constructor(
    readonly provider: ConnectionProvider,
    readonly httpStatus: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ProviderTokenError';
  }
}
