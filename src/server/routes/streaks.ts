import { Router } from 'express';
import { z } from 'zod';
import { externalUserId } from '../../contracts/api/common.js';
import { ruleKey } from '../../contracts/api/rules.js';
import { streakRepairRequestSchema } from '../../contracts/api/streaks.js';
import type { Sql } from '../../repositories/db/client.js';
import { scheduleAtRiskChecks } from '../../services/at-risk-checks.js';
import { deliverUpdates } from '../../services/deliveries.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import { repairStreak } from '../../services/streak-repair.js';
import type { UserDirectory } from '../../repositories/users.js';
import { actorOf, requireTenantAdmin } from '../auth/admin.js';
import { authenticate, principalOf, type CredentialVerifiers } from '../auth/authenticate.js';
import { httpErrors, parseOrThrow } from '../http/errors.js';
import { requireJson } from '../middleware/require-json.js';
import type { RateLimits } from '../rate-limits.js';
import { consumeApiBudget } from './events.js';

export interface StreakRouteDeps {
  sql: Sql;
  verifiers: CredentialVerifiers;
  limits: RateLimits;
  users: UserDirectory;
  rules: RulesCache;
  queues: JobQueues;
}

const repairParams = z.object({ userId: externalUserId, key: ruleKey });

/** Streak repair: the API key or an admin credits missed days (a support gesture, audited). */
export function streaksRouter(deps: StreakRouteDeps): Router {
  const router = Router();
  const auth = authenticate(deps.verifiers, deps.limits);

  router.post('/api/v1/users/:userId/streaks/:key/repair', auth, requireJson, async (req, res) => {
    const principal = principalOf(res);
    requireTenantAdmin(principal, 'repair a streak');
    await consumeApiBudget(deps.limits, principal, res);
    const params = parseOrThrow(repairParams, req.params);
    const body = parseOrThrow(streakRepairRequestSchema, req.body);
    const { rules } = await deps.rules.get(principal.tenantId);
    const rule = rules.streaks.find((candidate) => candidate.key === params.key);
    if (!rule) throw httpErrors.notFound(`The tenant's rules define no streak "${params.key}"`);
    const user = await deps.users.findByExternalId(principal.tenantId, params.userId);
    if (!user) throw httpErrors.notFound('No such user in this tenant');
    const outcome = await repairStreak(deps.sql, {
      tenantId: principal.tenantId,
      userId: user.id,
      rule,
      days: body.days,
      reason: body.reason,
      actor: actorOf(principal),
      atRiskHour: rules.atRiskHour,
      now: new Date(),
    });
    if (outcome.kind === 'not_found') throw httpErrors.notFound('No such user in this tenant');
    if (outcome.kind === 'invalid_days') {
      const errors = body.days.flatMap((day, index) => {
        if (outcome.future.includes(day)) return [{ path: `days.${index}`, message: `is after the user's today (${outcome.today} in ${outcome.zone})` }];
        if (outcome.nonexistent.includes(day)) return [{ path: `days.${index}`, message: `is a date ${outcome.zone} skipped` }];
        return [];
      });
      throw httpErrors.validation(errors, 'Only days the user has lived through can be repaired');
    }
    await deliverUpdates(deps, [{ tenantId: principal.tenantId, userId: user.id, updates: outcome.updates }]);
    await scheduleAtRiskChecks(deps.queues, [{ tenantId: principal.tenantId, userId: user.id, checks: outcome.atRisk }]);
    res.json(outcome.repair);
  });
  return router;
}
