/** Input the caller must fix (a 400 at the API), by field. */
export class ConnectionInputError extends Error {
  constructor(readonly errors: { path: string; message: string }[]) {
    super(errors.map((error) => `${error.path}: ${error.message}`).join('; '));
    this.name = 'ConnectionInputError';
  }
}

/** The request does not fit the connection's state (a 409): an API-key provider asked to authorize, credentials missing, a name taken. */
export class ConnectionConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionConflictError';
  }
}

/** Why `freshAccessToken` gave no token. */
export type TokenRefreshFailure =
  /** No such connection. */
  | 'not_found'
  /** The provider is not reached with OAuth tokens. */
  | 'not_oauth'
  /** The connection is disabled by an admin. */
  | 'disabled'
  /** A stored secret does not open (see the connection's last error). */
  | 'broken'
  /** It must be authorized again: refreshes failed too often, or no refresh token is stored. */
  | 'needs_reauth'
  /** The last refresh failed and the next may not be tried before `retryAt`. */
  | 'backoff'
  /** This refresh failed (counted on the connection; retried after `retryAt`). */
  | 'refresh_failed';

/** A connection's access token could not be had; the message never holds a secret. */
export class TokenRefreshError extends Error {
  constructor(
    readonly connectionId: string,
    readonly reason: TokenRefreshFailure,
    message: string,
    readonly details: { failures?: number; retryAt?: Date | null; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'TokenRefreshError';
  }
}
