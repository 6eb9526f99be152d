import type { RequestHandler, Response } from 'express';
import { isApiKey } from '../../platform/credentials.js';
import type { UserRole } from '../../repositories/db/schema.js';
import type { ApiKeyVerifier } from '../../repositories/tenants.js';
import { httpErrors } from '../http/errors.js';
import { consumeOrThrow, type RateLimits } from '../rate-limits.js';
import { AccessTokenError, type AccessTokens } from './access-tokens.js';

/** Who is calling: a tenant's backend (API key) or one of its users (access token). */
export type Principal =
  | { kind: 'apiKey'; tenantId: string; apiKeyId: string }
  | { kind: 'user'; tenantId: string; userId: string; role: UserRole; expiresAt: Date };

export interface CredentialVerifiers {
  apiKeys: ApiKeyVerifier;
  accessTokens: AccessTokens;
}

/** Resolves a bearer credential, or throws AccessTokenError (`unauthorized` / `token_expired`). */
export async function verifyCredential(verifiers: CredentialVerifiers, credential: string): Promise<Principal> {
  if (isApiKey(credential)) {
    const key = await verifiers.apiKeys.verify(credential);
    if (!key) throw new AccessTokenError('unauthorized');
    return { kind: 'apiKey', ...key };
  }
  const claims = await verifiers.accessTokens.verify(credential);
  return { kind: 'user', tenantId: claims.tenantId, userId: claims.userId, role: claims.role, expiresAt: claims.expiresAt };
}

/** Counts a failed authentication against the caller's address; throws 429 once it is over the limit. */
export function recordAuthFailure(limits: RateLimits, ip: string, res: Response): Promise<void> {
  return consumeOrThrow(limits.authFailures, limits.limits.authFailures, ip, res, 'Failed authentication');
}

export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new Error('route is missing the authenticate middleware');
  return principal;
}

/**
 * `Authorization: Bearer <API key | access token>`. Failed attempts count against the caller's
 * address; past the limit the address gets 429 instead of 401 until the window ends.
 */
export function authenticate(verifiers: CredentialVerifiers, limits: RateLimits): RequestHandler {
  return async (req, res, next) => {
    const ip = req.ip ?? 'unknown';
    const [scheme, credential] = (req.get('authorization') ?? '').split(' ');
    try {
      if (scheme?.toLowerCase() !== 'bearer' || !credential) throw new AccessTokenError('unauthorized');
      res.locals.principal = await verifyCredential(verifiers, credential);
      next();
    } catch (error) {
      if (!(error instanceof AccessTokenError)) throw error;
      await recordAuthFailure(limits, ip, res);
      throw httpErrors.unauthorized(error.code, error.message);
    }
  };
}
