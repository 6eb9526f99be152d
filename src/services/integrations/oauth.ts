import { createHash, randomBytes } from 'node:crypto';
import type { ConnectionProvider } from '../../contracts/api/connections.js';
import type { ConnectionService } from './connections.js';
import { ConnectionConflictError } from './errors.js';
import { endpointsFor, providerFor } from './providers/index.js';
import { ProviderTokenError } from './providers/types.js';

/** How long an authorization may take between the redirect and the callback. */
export const STATE_TTL_MS = 10 * 60 * 1000;

export type OAuthStateProblem = 'missing' | 'unknown' | 'reused' | 'expired' | 'denied';

/** The callback's `state` (or the provider's answer) is refused: a 400, saying why. */
export class OAuthStateError extends Error {
  constructor(
    readonly problem: OAuthStateProblem,
    message: string,
  ) {
    super(message);
    this.name = 'OAuthStateError';
  }
}

/** The provider's token endpoint refused the code or failed: a 502; the connection keeps `needs_reauth` and records the error. */
export class OAuthExchangeError extends Error {
  constructor(
    readonly connectionId: string,
    message: string,
  ) {
    super(message);
    this.name = 'OAuthExchangeError';
  }
}

const hashState = (state: string) => createHash('sha256').update(state).digest('hex');
export const stateContext = (stateHash: string) => `oauth_state:${stateHash}`;
export const codeChallengeOf = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

export interface AuthorizationStart {
  authorizeUrl: string;
  expiresAt: Date;
}

export interface AuthorizationDone {
  connectionId: string;
  tenantId: string;
  provider: ConnectionProvider;
  name: string;
}

/**
 * OAuth2 authorization code (with PKCE where the provider uses it). `begin` issues a state (256
 * random bits, stored as its SHA-256, single use, bound to one connection, expiring after 10
 * minutes) and, for PKCE, a verifier sealed in the vault; `complete` takes the state once, exchanges
 * the code with the verifier and stores the tokens sealed, marking the connection active.
 */
export class OAuthFlow {
  constructor(private readonly connections: ConnectionService) {}

  async begin(tenantId: string, connectionId: string, redirectUri: string, actor: string): Promise<AuthorizationStart | undefined> {
    const { store, vault } = this.connections;
    const connection = await store.find(tenantId, connectionId);
    if (!connection) return undefined;
    const adapter = providerFor(connection.provider);
    if (!adapter.oauth) throw new ConnectionConflictError(`${adapter.displayName} connections are not authorized through OAuth: PUT their API key to /api/v1/admin/connections/${connectionId}/credentials`);
    if (connection.status === 'disabled') throw new ConnectionConflictError('The connection is disabled: enable it first (PATCH status "active")');
    const app = await this.connections.openCredentials(connectionId, ['client_id', 'client_secret']);
    const missing = adapter.credentialFields.required.filter((field) => !app[field === 'clientId' ? 'client_id' : 'client_secret']);
    if (!app.client_id || missing.length > 0) throw new ConnectionConflictError(`Set the app credentials first (${adapter.credentialFields.required.join(', ')}) with PUT /api/v1/admin/connections/${connectionId}/credentials`);

    const state = randomBytes(32).toString('base64url');
    const stateHash = hashState(state);
    const verifier = adapter.oauth.pkce ? randomBytes(48).toString('base64url') : undefined;
    const expiresAt = new Date(Date.now() + STATE_TTL_MS);
    await store.insertState({
      stateHash,
      connectionId,
      provider: connection.provider,
      codeVerifier: verifier ? vault.encrypt(verifier, stateContext(stateHash)) : null,
      keyId: verifier ? vault.currentKeyId : null,
      redirectUri,
      actor,
      expiresAt,
    });
    const url = adapter.oauth.authorizeUrl({
      endpoints: endpointsFor(connection.provider, connection.settings),
      app: { clientId: app.client_id.value, ...(app.client_secret ? { clientSecret: app.client_secret.value } : {}) },
      settings: connection.settings,
      state,
      ...(verifier ? { codeChallenge: codeChallengeOf(verifier) } : {}),
      redirectUri,
    });
    return { authorizeUrl: url.toString(), expiresAt };
  }

  async complete(query: { code?: string | undefined; state?: string | undefined; error?: string | undefined }): Promise<AuthorizationDone> {
    const { store, vault } = this.connections;
    if (!query.state) throw new OAuthStateError('missing', 'The callback carries no state');
    const stateHash = hashState(query.state);
    // Taken first, whatever follows: a state is good for one presentation only.
    const taken = await store.consumeState(stateHash);
    if (taken === 'unknown') throw new OAuthStateError('unknown', 'This authorization state was not issued by this hub (or is long gone): start again from the authorize link');
    if (taken === 'reused') throw new OAuthStateError('reused', 'This authorization state was already used: start again from the authorize link');
    if (taken.expiresAt.getTime() <= Date.now()) throw new OAuthStateError('expired', 'This authorization state expired (10 minutes): start again from the authorize link');
    if (query.error) throw new OAuthStateError('denied', `The provider did not authorize the connection (${query.error.slice(0, 64)})`);
    if (!query.code) throw new OAuthStateError('missing', 'The callback carries no code');

    const connection = await store.findById(taken.connectionId);
    if (!connection || connection.provider !== taken.provider) throw new OAuthStateError('unknown', 'The connection of this authorization no longer exists');
    const adapter = providerFor(connection.provider);
    if (!adapter.oauth) throw new OAuthStateError('unknown', 'The connection of this authorization does not use OAuth');
    const app = await this.connections.openCredentials(connection.id, ['client_id', 'client_secret']);
    if (!app.client_id) throw new ConnectionConflictError('The connection lost its app credentials meanwhile');
    const verifier = taken.codeVerifier ? vault.decrypt(taken.codeVerifier, stateContext(stateHash)) : undefined;

    let tokens;
    try {
      tokens = await adapter.oauth.exchangeCode({
        endpoints: endpointsFor(connection.provider, connection.settings),
        app: { clientId: app.client_id.value, ...(app.client_secret ? { clientSecret: app.client_secret.value } : {}) },
        code: query.code,
        ...(verifier ? { codeVerifier: verifier } : {}),
        redirectUri: taken.redirectUri,
      });
    } catch (error) {
      if (!(error instanceof ProviderTokenError)) throw error;
      await store.recordError(connection.id, `authorization: ${error.message}`);
      throw new OAuthExchangeError(connection.id, `${adapter.displayName} refused the authorization code: ${error.message}`);
    }
    const sealed = [this.connections.seal(connection.id, 'access_token', tokens.accessToken, tokens.accessTokenExpiresAt)];
    if (tokens.refreshToken) sealed.push(this.connections.seal(connection.id, 'refresh_token', tokens.refreshToken, tokens.refreshTokenExpiresAt));
    await store.saveCredentials(connection, sealed, (kinds) => (connection.status === 'disabled' ? 'disabled' : adapter.readyWith.every((kind) => kinds.has(kind)) ? 'active' : 'needs_reauth'), {
      actor: taken.actor,
      action: 'connection.authorized',
    });
    return { connectionId: connection.id, tenantId: connection.tenantId, provider: connection.provider, name: connection.name };
  }
}
