import { z } from 'zod';
import { externalUserId } from '../../contracts/api/common.js';
import { createTokenRequestSchema, refreshTokenRequestSchema, tokenPairSchema, type TokenPair } from '../../contracts/api/tokens.js';
import type { Database } from '../../repositories/db/client.js';
import { recordAudit } from '../../repositories/audit.js';
import type { RefreshTokenStore } from '../../repositories/refresh-tokens.js';
import type { UserDirectory, UserProfile } from '../../repositories/users.js';
import type { AccessTokens } from '../auth/access-tokens.js';
import { recordAuthFailure, type CredentialVerifiers } from '../auth/authenticate.js';
import { defineRoute, json, limited, mountRoutes, problems } from '../http/define-route.js';
import { httpErrors } from '../http/errors.js';
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

/** Token minting for a tenant's users (API key only). */
export const createToken = defineRoute({
  method: 'post',
  path: '/api/v1/tokens',
  operationId: 'createToken',
  tags: ['tokens'],
  summary: "Mint a token pair for one of the tenant's users",
  description: 'Creates the user on first use and updates its profile otherwise. Only the tenant API key may call this.',
  auth: 'apiKey',
  forbidden: 'Tokens are minted with the tenant API key',
  request: { body: createTokenRequestSchema },
  guard: (deps: TokenRouteDeps) => ({ res, principal }) => consumeOrThrow(deps.limits.tenant, deps.limits.limits.tenant, principal.tenantId, res, 'Tenant'),
  responses: { 201: json('A new access and refresh token for the user', tokenPairSchema, limited), ...problems(400, 401, 403, 413, 415, 429) },
  handler: (deps: TokenRouteDeps) => async ({ res, principal, body }) => {
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
  },
});

/** Refresh-token rotation: the refresh token is the credential. */
export const refreshToken = defineRoute({
  method: 'post',
  path: '/api/v1/tokens/refresh',
  operationId: 'refreshToken',
  tags: ['tokens'],
  summary: 'Rotate a refresh token',
  description: 'The refresh token is single-use: presenting a rotated one again revokes its whole family.',
  auth: 'none',
  request: { body: refreshTokenRequestSchema },
  responses: { 200: json('A new token pair; the old refresh token is spent', tokenPairSchema, limited), ...problems(400, 401, 415, 429) },
  handler: (deps: TokenRouteDeps) => async ({ req, res, body }) => {
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
  },
});

/** Sign-out: whoever holds a refresh token may end its login (as RFC 7009, an unknown token is no error). */
export const revokeToken = defineRoute({
  method: 'post',
  path: '/api/v1/tokens/revoke',
  operationId: 'revokeToken',
  tags: ['tokens'],
  summary: 'Sign out: end the login a refresh token belongs to',
  description:
    "Revokes the refresh token's whole family; the login's access tokens stop working at once and its sockets receive `session:expired` (`session_revoked`) and are disconnected on every hub node. An unknown token is not an error (RFC 7009), but counts as a failed authentication.",
  auth: 'none',
  request: { body: refreshTokenRequestSchema },
  responses: { 204: { description: 'Revoked, or nothing to revoke' }, ...problems(400, 415, 429) },
  handler: (deps: TokenRouteDeps) => async ({ req, res, body }) => {
    const familyId = await deps.refreshTokens.revokeFamilyOf(body.refreshToken);
    if (familyId) await deps.sessions.revoke([familyId]);
    else await recordAuthFailure(deps.limits, req.ip ?? 'unknown', res);
    res.status(204).end();
  },
});

/** The tenant ends every login of one of its users (a stolen device, a banned account). */
export const revokeUserSessions = defineRoute({
  method: 'delete',
  path: '/api/v1/users/{userId}/sessions',
  operationId: 'revokeUserSessions',
  tags: ['tokens'],
  summary: "End every login of one of the tenant's users",
  description: 'API key or admin token. Refresh tokens, access tokens and sockets of the user stop working at once, on every hub node.',
  auth: 'either',
  request: { params: z.object({ userId: externalUserId }) },
  // Ending sessions draws on the tenant's budget, for an admin too.
  guard: (deps: TokenRouteDeps) => async ({ res, principal }) => {
    if (principal.kind === 'user' && principal.role !== 'admin') throw httpErrors.forbidden('Only the API key or an admin may end sessions');
    await consumeOrThrow(deps.limits.tenant, deps.limits.limits.tenant, principal.tenantId, res, 'Tenant');
  },
  responses: {
    200: json('How many logins were ended', z.object({ revokedSessions: z.number().int().min(0) }).meta({ id: 'RevokedSessions', example: { revokedSessions: 2 } }), limited),
    ...problems(400, 401, 403, 404, 429),
  },
  handler: (deps: TokenRouteDeps) => async ({ res, principal, params: { userId: externalId } }) => {
    const user = await deps.users.findByExternalId(principal.tenantId, externalId);
    if (!user) throw httpErrors.notFound(`No user "${externalId}"`);
    const familyIds = await deps.refreshTokens.revokeUser({ tenantId: principal.tenantId, userId: user.id });
    await deps.sessions.revoke(familyIds);
    res.json({ revokedSessions: familyIds.length });
  },
});

export const tokenRoutes = [createToken, refreshToken, revokeToken, revokeUserSessions];

/** Token minting, refresh-token rotation, sign-out and ending a user's sessions. */
export function tokensRouter(deps: TokenRouteDeps) {
  return mountRoutes(tokenRoutes, deps);
}
