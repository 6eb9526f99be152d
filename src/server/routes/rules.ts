import { DEFAULT_ENGINE_RULES, engineRulesResponseSchema, engineRulesSchema } from '../../contracts/api/rules.js';
import type { Database, Sql } from '../../repositories/db/client.js';
import { loadRules, saveRules, type StoredRules } from '../../repositories/engine-rules.js';
import { actorOf } from '../auth/admin.js';
import type { CredentialVerifiers } from '../auth/authenticate.js';
import { defineRoute, json, limited, mountRoutes, problems } from '../http/define-route.js';
import type { RateLimits } from '../rate-limits.js';
import { adminWithinBudget } from './guards.js';

export interface RulesRouteDeps {
  db: Database;
  sql: Sql;
  verifiers: CredentialVerifiers;
  limits: RateLimits;
}

const asResponse = (stored: StoredRules) => ({ rules: stored.rules, version: stored.version, updatedAt: stored.updatedAt?.toISOString() ?? null });

export const getEngineRules = defineRoute({
  method: 'get',
  path: '/api/v1/admin/rules',
  operationId: 'getEngineRules',
  tags: ['admin'],
  summary: "The tenant's engine rules (API key or admin)",
  description:
    'Streak definitions, personal record metrics, daily mission templates, box tables, the late-event grace and the at-risk hour. Version 0 means the tenant runs on the defaults.',
  auth: 'either',
  guard: adminWithinBudget('read the engine rules'),
  responses: { 200: json('The rules in force', engineRulesResponseSchema, limited), ...problems(401, 403, 429) },
  handler: (deps: RulesRouteDeps) => async ({ res, principal }) => {
    res.json(asResponse(await loadRules(deps.sql, principal.tenantId)));
  },
});

export const replaceEngineRules = defineRoute({
  method: 'put',
  path: '/api/v1/admin/rules',
  operationId: 'replaceEngineRules',
  tags: ['admin'],
  summary: "Replace the tenant's engine rules (API key or admin)",
  description:
    'The whole document is validated (omitted fields take their defaults) and audited; workers apply it within about 5 seconds. Rewards may name only box tables the document defines.',
  auth: 'either',
  request: { body: { schema: engineRulesSchema, examples: { defaults: { summary: 'The defaults', value: DEFAULT_ENGINE_RULES } } } },
  guard: adminWithinBudget('change the engine rules'),
  responses: { 200: json('The stored rules and their new version', engineRulesResponseSchema, limited), ...problems(400, 401, 403, 413, 415, 429) },
  handler: (deps: RulesRouteDeps) => async ({ res, principal, body: rules }) => {
    res.json(asResponse(await saveRules(deps.db, principal.tenantId, rules, actorOf(principal))));
  },
});

export const rulesRoutes = [getEngineRules, replaceEngineRules];

/** The tenant's engine rules: read and replace (validated whole, audited); workers pick a change up within seconds. */
export function rulesRouter(deps: RulesRouteDeps) {
  return mountRoutes(rulesRoutes, deps);
}
