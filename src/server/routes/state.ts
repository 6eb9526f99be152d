import { z } from 'zod';
import { userStateSchema } from '../../contracts/api/state.js';
import type { Sql } from '../../repositories/db/client.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import { loadUserState } from '../../repositories/user-state.js';
import type { UserDirectory } from '../../repositories/users.js';
import type { CredentialVerifiers } from '../auth/authenticate.js';
import { defineRoute, json, limited, mountRoutes, problems } from '../http/define-route.js';
import { httpErrors } from '../http/errors.js';
import type { RateLimits } from '../rate-limits.js';
import { adminWithinBudget, withinBudget } from './guards.js';

export interface StateRouteDeps {
  sql: Sql;
  verifiers: CredentialVerifiers;
  limits: RateLimits;
  users: UserDirectory;
  rules: RulesCache;
}

async function loadState(deps: StateRouteDeps, tenantId: string, userId: string) {
  const { rules } = await deps.rules.get(tenantId);
  const state = await loadUserState(deps.sql, tenantId, userId, rules, new Date());
  if (!state) throw httpErrors.notFound('No such user in this tenant');
  return state;
}

const stateDescription =
  "Streaks (as of today in the user's time zone), personal records, today's missions, points, badges, boxes and running campaigns, read in one snapshot with `seq`, the latest update it reflects: apply live updates with a higher seq on top.";

/** The calling user's own snapshot, with the seq it reflects. */
export const getMyState = defineRoute({
  method: 'get',
  path: '/api/v1/me/state',
  operationId: 'getMyState',
  tags: ['engagement'],
  summary: "The calling user's engagement state",
  description: stateDescription,
  auth: 'user',
  forbidden: 'An API key has no state of its own: use /api/v1/users/{userId}/state',
  guard: withinBudget,
  responses: { 200: json('The snapshot', userStateSchema, limited), ...problems(401, 403, 404, 429) },
  handler: (deps: StateRouteDeps) => async ({ res, principal }) => {
    res.json(await loadState(deps, principal.tenantId, principal.userId));
  },
});

/** Any user's snapshot, for the API key and admins. */
export const getUserState = defineRoute({
  method: 'get',
  path: '/api/v1/users/{userId}/state',
  operationId: 'getUserState',
  tags: ['engagement'],
  summary: "A user's engagement state (API key or admin)",
  description: stateDescription,
  auth: 'either',
  // Any id is looked up as it is: one the tenant does not know is a 404, never a 400.
  request: { params: z.object({ userId: z.string().min(1).meta({ description: "The tenant's own id for the user", example: 'user-42' }) }) },
  guard: adminWithinBudget("read another user's state"),
  responses: { 200: json('The snapshot', userStateSchema, limited), ...problems(401, 403, 404, 429) },
  handler: (deps: StateRouteDeps) => async ({ res, principal, params: { userId } }) => {
    const user = await deps.users.findByExternalId(principal.tenantId, userId);
    if (!user) throw httpErrors.notFound('No such user in this tenant');
    res.json(await loadState(deps, principal.tenantId, user.id));
  },
});

export const stateRoutes = [getMyState, getUserState];

/** A user's engagement snapshot with the seq it reflects: for the user itself, or any user for the API key and admins. */
export function stateRouter(deps: StateRouteDeps) {
  return mountRoutes(stateRoutes, deps);
}
