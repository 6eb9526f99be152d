import { CredentialDecryptError } from '../../platform/credential-vault.js';
import type { ConnectionRow, LockedConnection, SealedCredential } from '../../repositories/connections.js';
import { credentialContext, type ConnectionService, type OpenedCredentials } from './connections.js';
import { TokenRefreshError } from './errors.js';
import { endpointsFor, providerFor, ProviderTokenError } from './providers/index.js';

export interface TokenRefreshOptions {
  /** An access token expiring within this many seconds is refreshed first (INTEGRATIONS_REFRESH_MARGIN_SECONDS). */
  marginSeconds: number;
  /** Consecutive failed refreshes after which the connection is `needs_reauth` (INTEGRATIONS_REFRESH_MAX_FAILURES). */
  maxFailures: number;
  /** The clock (ms), for tests of the backoff. */
  now?: () => number;
}

type Outcome = { accessToken: string } | { error: TokenRefreshError };

/**
 * Access tokens for the sync: the stored one while it lives longer than the margin (no lock), else
 * one refresh across every worker process. The refresher holds the connection's row lock (the one
 * lock order for its credentials) from re-reading the token to committing the new tokens, so a
 * second worker waits, then finds the fresh token and does not refresh (a rotated refresh token
 * used twice would be refused). The token endpoint is called under the lock by design, with a
 * timeout (providers/http.ts). A failed refresh is counted on the connection and not retried
 * within 2^failures seconds; at `maxFailures` in a row the connection is `needs_reauth`. Nothing
 * here retries in a loop: every failure is a TokenRefreshError for the caller.
 */
export class TokenRefreshService {
  private readonly now: () => number;

  constructor(
    private readonly connections: ConnectionService,
    private readonly options: TokenRefreshOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * `rejected`: the provider refused this access token (401) although its stored expiry says it
   * lives: it is refreshed regardless of expiry, unless another worker already replaced it.
   */
  async freshAccessToken(connectionId: string, rejected?: string): Promise<string> {
    const row = await this.connections.store.findById(connectionId);
    if (!row) throw new TokenRefreshError(connectionId, 'not_found', 'no such connection');
    const unusable = this.unusable(row);
    if (unusable) throw unusable;
    const { access_token: access } = await this.connections.openCredentials(connectionId, ['access_token']);
    if (access && this.usable(access, rejected)) return access.value;
    const waiting = this.backoff(row);
    if (waiting) throw waiting;

    let outcome: Outcome | undefined;
    try {
      outcome = await this.connections.store.underRefreshLock(connectionId, (locked) => this.refreshLocked(locked, rejected));
    } catch (error) {
      // The transaction is over (rolled back): the connection row can be written now.
      if (error instanceof CredentialDecryptError) await this.connections.store.recordError(connectionId, `token refresh: a credential does not open (${error.message})`, 'broken');
      throw error;
    }
    if (!outcome) throw new TokenRefreshError(connectionId, 'not_found', 'no such connection');
    if ('error' in outcome) throw outcome.error;
    return outcome.accessToken;
  }

  /** Under the connection's lock: what another worker did meanwhile counts, then at most one refresh. */
  private async refreshLocked(locked: LockedConnection, rejected: string | undefined): Promise<Outcome> {
    const { row } = locked;
    const unusable = this.unusable(row);
    if (unusable) return { error: unusable };
    const opened = this.open(row.id, locked.credentials);
    const access = opened.access_token;
    if (access && this.usable(access, rejected)) return { accessToken: access.value };
    const waiting = this.backoff(row);
    if (waiting) return { error: waiting };

    const oauth = providerFor(row.provider).oauth;
    const refreshToken = opened.refresh_token?.value;
    const clientId = opened.client_id?.value;
    if (!oauth) return { error: new TokenRefreshError(row.id, 'not_oauth', `${row.provider} connections have no OAuth tokens`) };
    if (!refreshToken || !clientId) {
      await locked.refreshFailed({ failures: row.refreshFailures, notBefore: null, message: 'token refresh: no refresh token or client id stored', status: 'needs_reauth' });
      return { error: new TokenRefreshError(row.id, 'needs_reauth', 'the connection has no refresh token: authorize it again') };
    }

    let tokens;
    try {
      const clientSecret = opened.client_secret?.value;
      tokens = await oauth.refresh({ endpoints: endpointsFor(row.provider, row.settings), app: { clientId, ...(clientSecret ? { clientSecret } : {}) }, refreshToken });
    } catch (error) {
      if (!(error instanceof ProviderTokenError)) throw error;
      const failures = row.refreshFailures + 1;
      const exhausted = failures >= this.options.maxFailures;
      const retryAt = exhausted ? null : new Date(this.now() + 2 ** failures * 1000);
      await locked.refreshFailed({ failures, notBefore: retryAt, message: `token refresh failed (${failures} in a row): ${error.message}`, ...(exhausted ? { status: 'needs_reauth' as const } : {}) });
      return {
        error: exhausted
          ? new TokenRefreshError(row.id, 'needs_reauth', `token refresh failed ${failures} times in a row (${error.message}): authorize the connection again`, { failures, cause: error })
          : new TokenRefreshError(row.id, 'refresh_failed', `token refresh failed (${error.message})`, { failures, retryAt, cause: error }),
      };
    }
    const sealed: SealedCredential[] = [this.connections.seal(row.id, 'access_token', tokens.accessToken, tokens.accessTokenExpiresAt)];
    // A rotating provider revoked the refresh token just used: the new one is stored in the same commit.
    if (tokens.refreshToken) sealed.push(this.connections.seal(row.id, 'refresh_token', tokens.refreshToken, tokens.refreshTokenExpiresAt));
    await locked.refreshed(sealed);
    return { accessToken: tokens.accessToken };
  }

  private usable(access: { value: string; expiresAt: Date | null }, rejected: string | undefined): boolean {
    return access.value !== rejected && this.fresh(access.expiresAt);
  }

  private fresh(expiresAt: Date | null): boolean {
    return expiresAt === null || expiresAt.getTime() > this.now() + this.options.marginSeconds * 1000;
  }

  private unusable(row: ConnectionRow): TokenRefreshError | undefined {
    if (row.status === 'active') return undefined;
    return new TokenRefreshError(row.id, row.status, `the connection is ${row.status}`);
  }

  private backoff(row: ConnectionRow): TokenRefreshError | undefined {
    if (!row.refreshNotBefore || row.refreshNotBefore.getTime() <= this.now()) return undefined;
    return new TokenRefreshError(row.id, 'backoff', `the last ${row.refreshFailures} token refresh(es) failed; next try after ${row.refreshNotBefore.toISOString()}`, {
      failures: row.refreshFailures,
      retryAt: row.refreshNotBefore,
    });
  }

  /** Opens the credentials read under the lock (a value that does not open throws CredentialDecryptError). */
  private open(connectionId: string, rows: LockedConnection['credentials']): OpenedCredentials {
    const opened: OpenedCredentials = {};
    for (const row of rows) opened[row.kind] = { value: this.connections.vault.decrypt(row.sealed, credentialContext(connectionId, row.kind)), expiresAt: row.expiresAt };
    return opened;
  }
}
