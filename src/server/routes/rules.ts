import { Router } from 'express';
import { engineRulesSchema } from '../../contracts/api/rules.js';
import type { Database, Sql } from '../../repositories/db/client.js';
import { loadRules, saveRules, type StoredRules } from '../../repositories/engine-rules.js';
import { actorOf, requireTenantAdmin } from '../auth/admin.js';
import { authenticate, principalOf, type CredentialVerifiers } from '../auth/authenticate.js';
import { parseOrThrow } from '../http/errors.js';
import { requireJson } from '../middleware/require-json.js';
import type { RateLimits } from '../rate-limits.js';
import { consumeApiBudget } from './events.js';

const asResponse = (stored: StoredRules) => ({ rules: stored.rules, version: stored.version, updatedAt: stored.updatedAt?.toISOString() ?? null });

/** The tenant's engine rules: read and replace (validated whole, audited); workers pick a change up within seconds. */
export function rulesRouter(deps: { db: Database; sql: Sql; verifiers: CredentialVerifiers; limits: RateLimits }): Router {
  const router = Router();
  const auth = authenticate(deps.verifiers, deps.limits);

  router.get('/api/v1/admin/rules', auth, async (_req, res) => {
    const principal = principalOf(res);
    requireTenantAdmin(principal, 'read the engine rules');
    await consumeApiBudget(deps.limits, principal, res);
    res.json(asResponse(await loadRules(deps.sql, principal.tenantId)));
  });

  router.put('/api/v1/admin/rules', auth, requireJson, async (req, res) => {
    const principal = principalOf(res);
    requireTenantAdmin(principal, 'change the engine rules');
    await consumeApiBudget(deps.limits, principal, res);
    const rules = parseOrThrow(engineRulesSchema, req.body);
    res.json(asResponse(await saveRules(deps.db, principal.tenantId, rules, actorOf(principal))));
  });
  return router;
}
