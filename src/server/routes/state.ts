import { Router } from 'express';
import type { Sql } from '../../repositories/db/client.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import { loadUserState } from '../../repositories/user-state.js';
import type { UserDirectory } from '../../repositories/users.js';
import { requireTenantAdmin } from '../auth/admin.js';
import { authenticate, principalOf, type CredentialVerifiers } from '../auth/authenticate.js';
import { httpErrors } from '../http/errors.js';
import type { RateLimits } from '../rate-limits.js';
import { consumeApiBudget } from './events.js';

/** A user's engagement snapshot with the seq it reflects: for the user itself, or any user for the API key and admins. */
export function stateRouter(deps: { sql: Sql; verifiers: CredentialVerifiers; limits: RateLimits; users: UserDirectory; rules: RulesCache }): Router {
  const router = Router();
  const auth = authenticate(deps.verifiers, deps.limits);

  const send = async (tenantId: string, userId: string) => {
    const { rules } = await deps.rules.get(tenantId);
    const state = await loadUserState(deps.sql, tenantId, userId, rules, new Date());
    if (!state) throw httpErrors.notFound('No such user in this tenant');
    return state;
  };

  router.get('/api/v1/me/state', auth, async (_req, res) => {
    const principal = principalOf(res);
    if (principal.kind !== 'user') throw httpErrors.forbidden('An API key has no state of its own: use /api/v1/users/{userId}/state');
    await consumeApiBudget(deps.limits, principal, res);
    res.json(await send(principal.tenantId, principal.userId));
  });

  router.get('/api/v1/users/:userId/state', auth, async (req, res) => {
    const principal = principalOf(res);
    requireTenantAdmin(principal, "read another user's state");
    await consumeApiBudget(deps.limits, principal, res);
    const user = await deps.users.findByExternalId(principal.tenantId, String(req.params.userId));
    if (!user) throw httpErrors.notFound('No such user in this tenant');
    res.json(await send(principal.tenantId, user.id));
  });
  return router;
}
