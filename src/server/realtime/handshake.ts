import type { ExtendedError } from 'socket.io';
import type { ConnectErrorData } from '../../shared/socket/contracts.js';
import { AccessTokenError, type AccessTokens } from '../auth/access-tokens.js';
import type { PulseSocket } from './types.js';

function refusal(code: ConnectErrorData['code']): ExtendedError {
  return Object.assign(new Error(code === 'token_expired' ? 'access token expired' : 'unauthorized'), { data: { code } satisfies ConnectErrorData });
}

/** Verifies `auth.token` exactly as REST verifies a user's bearer token; refusals reach the client as `connect_error`. */
export function authenticateHandshake(accessTokens: AccessTokens) {
  return (socket: PulseSocket, next: (error?: ExtendedError) => void) => {
    const token: unknown = (socket.handshake.auth as Record<string, unknown>).token;
    if (typeof token !== 'string' || token.length === 0) {
      next(refusal('unauthorized'));
      return;
    }
    accessTokens.verify(token).then(
      (claims) => {
        socket.data = { tenantId: claims.tenantId, userId: claims.userId, role: claims.role, expiresAt: claims.expiresAt.getTime() };
        // The claims are all the socket needs; a copy of the JWT per socket is memory for nothing.
        socket.handshake.auth = {};
        next();
      },
      (error: unknown) => next(refusal(error instanceof AccessTokenError ? error.code : 'unauthorized')),
    );
  };
}
