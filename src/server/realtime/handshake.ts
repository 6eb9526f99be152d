import type { ExtendedError } from 'socket.io';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { ConnectErrorData } from '../../contracts/socket/contracts.js';
import { AccessTokenError, type AccessTokens } from '../auth/access-tokens.js';
import type { RateLimits } from '../rate-limits.js';
import type { UserSocketQuota } from './socket-quota.js';
import type { PulseSocket } from './types.js';

const refusalMessages: Record<ConnectErrorData['code'], string> = {
  unauthorized: 'unauthorized',
  token_expired: 'access token expired',
  session_revoked: 'the session was revoked: sign in again',
  rate_limited: 'too many failed authentications from this address',
  too_many_sockets: 'this user already holds the maximum number of sockets',
};

function refusal(code: ConnectErrorData['code']): ExtendedError {
  return Object.assign(new Error(refusalMessages[code]), { data: { code } satisfies ConnectErrorData });
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

/**
 * The caller's address as REST sees it (`trust proxy: loopback`): a proxy on this machine may
 * name the client in X-Forwarded-For; anyone else's header is ignored.
 */
export function clientAddress(handshake: { address: string; headers: Record<string, string | string[] | undefined> }): string {
  let address = handshake.address;
  const forwarded = handshake.headers['x-forwarded-for'];
  const hops = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? '')).split(',').map((hop) => hop.trim()).filter(Boolean);
  while (LOOPBACK.test(address) && hops.length > 0) address = hops.pop() as string;
  return address;
}

export interface HandshakeDeps {
  accessTokens: AccessTokens;
  limits: RateLimits;
  quota: UserSocketQuota;
}

/**
 * Runs on every connection, recovered ones included: verifies `auth.token` exactly as REST
 * verifies a user's bearer token (signature, expiry, revoked login), counts failures against the
 * address's authentication-failure budget shared with REST, and holds the user to the socket
 * cap. A recovered socket must present a token of the same user as the session it resumes.
 * Refusals reach the client as `connect_error` with `data.code`.
 */
export function authenticateHandshake(deps: HandshakeDeps) {
  const { limits } = deps;
  return (socket: PulseSocket, next: (error?: ExtendedError) => void) => {
    const address = clientAddress(socket.handshake);
    const fail = async (code: ConnectErrorData['code']) => {
      const over = await limits.authFailures.consume(address).then(
        () => false,
        (rejection: unknown) => rejection instanceof RateLimiterRes,
      );
      next(refusal(over ? 'rate_limited' : code));
    };
    const handshake = async () => {
      const token: unknown = (socket.handshake.auth as Record<string, unknown>).token;
      if (typeof token !== 'string' || token.length === 0 || token.length > 8192) return fail('unauthorized');
      const claims = await deps.accessTokens.verify(token).catch((error: unknown) => (error instanceof AccessTokenError ? error.code : 'unauthorized' as const));
      if (typeof claims === 'string') return fail(claims);
      if (socket.recovered && (socket.data.userId !== claims.userId || socket.data.tenantId !== claims.tenantId)) return fail('unauthorized');
      socket.data = { tenantId: claims.tenantId, userId: claims.userId, role: claims.role, familyId: claims.familyId, expiresAt: claims.expiresAt.getTime() };
      // The claims are all the socket needs; a copy of the JWT per socket is memory for nothing.
      socket.handshake.auth = {};
      if (!(await deps.quota.claim(socket))) return next(refusal('too_many_sockets'));
      next();
    };
    handshake().catch((error: unknown) => next(Object.assign(new Error('the handshake could not be checked'), { cause: error })));
  };
}
