import { Router } from 'express';
import { externalUserId } from '../../contracts/api/common.js';
import { createTokenRequestSchema, refreshTokenRequestSchema, type TokenPair } from '../../contracts/api/tokens.js';
import type { Database } from '../../repositories/db/client.js';
import { recordAudit } from '../../repositories/audit.js';
import type { RefreshTokenStore } from '../../repositories/refresh-tokens.js';
import type { UserDirectory, UserProfile } from '../../repositories/users.js';
import type { AccessTokens } from '../auth/access-tokens.js';
import { authenticate, principalOf, recordAuthFailure, type CredentialVerifiers } from '../auth/authenticate.js';
import { httpErrors, parseOrThrow } from '../http/errors.js';
import { requireJson } from '../middleware/require-json.js';
import { consumeOrThrow, type RateLimits } from '../rate-limits.js';

export interface TokenRouteDeps {
  db: Database;
  verifiers: CredentialVerifiers;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokenStore;
  users: UserDirectory;
  limits: RateLimits;
  /** Ends revoked logins' access tokens and sockets on every node. */
  sessions: { revoke(familyIds: string[]): Promise<void> };
}

const refreshFailures = {
  invalid: 'invalid_refresh_token',
  expired: 'refresh_token_expired',
  revoked: 'refresh_token_revoked',
  reused: 'refresh_token_reused',
} as const;

async function tokenPair(deps: TokenRouteDeps, user: Omit<UserProfile, 'displayName'>, refresh: { token: string; familyId: string }): Promise<TokenPair> {
  const access = await deps.accessTokens.sign({ userId: user.id, tenantId: user.tenantId, role: user.role, familyId: refresh.familyId });
  return {
    accessToken: access.token,
    refreshToken: refresh.token,
    expiresIn: access.expiresIn,
    user: { id: user.id, externalId: user.externalId, timezone: user.timezone, role: user.role },
  };
}

/** Token minting for a tenant's users (API key only) and refresh-token rotation. */
export function tokensRouter(deps: TokenRouteDeps): Router {
  const router = Router();

  router.post('/api/v1/tokens', authenticate(deps.verifiers, deps.limits), requireJson, async (req, res) => {
    const principal = principalOf(res);
    if (principal.kind !== 'apiKey') throw httpErrors.forbidden('Tokens are minted with the tenant API key');
    await consumeOrThrow(deps.limits.tenant, deps.limits.limits.tenant, principal.tenantId, res, 'Tenant');
    const body = parseOrThrow(createTokenRequestSchema, req.body);
    const user = await deps.users.upsertProfile(principal.tenantId, body.userId, {
      displayName: body.displayName,
      timezone: body.timezone,
      role: body.role,
    });
    if (body.role === 'admin') {
      await recordAudit(deps.db, {
        tenantId: principal.tenantId,
        actor: `api_key:${principal.apiKeyId}`,
        action: 'token.admin_issued',
        target: `user:${user.id}`,
      });
    }
    const refresh = await deps.refreshTokens.issue({ tenantId: user.tenantId, userId: user.id });
    res.status(201).json(await tokenPair(deps, user, refresh));
  });

  router.post('/api/v1/tokens/refresh', requireJson, async (req, res) => {
    const body = parseOrThrow(refreshTokenRequestSchema, req.body);
    const outcome = await deps.refreshTokens.rotate(body.refreshToken, (familyId) =>
      consumeOrThrow(deps.limits.refresh, deps.limits.limits.refresh, familyId, res, 'Refresh'),
    );
    if (!outcome.ok) {
      // Reuse means two parties hold the login: its access tokens and sockets end with it.
      if (outcome.reason === 'reused' && outcome.familyId) await deps.sessions.revoke([outcome.familyId]);
      if (outcome.reason === 'invalid') await recordAuthFailure(deps.limits, req.ip ?? 'unknown', res);
      throw httpErrors.unauthorized(refreshFailures[outcome.reason], `Refresh token ${outcome.reason}`);
    }
    res.status(200).json(await tokenPair(deps, outcome.user, outcome));
  });

  // Sign-out: whoever holds a refresh token may end its login (as RFC 7009, an unknown token is no error).
  router.post('/api/v1/tokens/revoke', requireJson, async (req, res) => {
    const body = parseOrThrow(refreshTokenRequestSchema, req.body);
    const familyId = await deps.refreshTokens.revokeFamilyOf(body.refreshToken);
    if (familyId) await deps.sessions.revoke([familyId]);
    else await recordAuthFailure(deps.limits, req.ip ?? 'unknown', res);
    res.status(204).end();
  });

  // The tenant ends every login of one of its users (a stolen device, a banned account).
  router.delete('/api/v1/users/:userId/sessions', authenticate(deps.verifiers, deps.limits), async (req, res) => {
    const principal = principalOf(res);
    if (principal.kind === 'user' && principal.role !== 'admin') throw httpErrors.forbidden('Only the API key or an admin may end sessions');
    await consumeOrThrow(deps.limits.tenant, deps.limits.limits.tenant, principal.tenantId, res, 'Tenant');
    const externalId = parseOrThrow(externalUserId, req.params.userId);
    const user = await deps.users.findByExternalId(principal.tenantId, externalId);
    if (!user) throw httpErrors.notFound(`No user "${externalId}"`);
    const familyIds = await deps.refreshTokens.revokeUser({ tenantId: principal.tenantId, userId: user.id });
    await deps.sessions.revoke(familyIds);
    res.json({ revokedSessions: familyIds.length });
  });

  return router;
}
