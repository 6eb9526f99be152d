import { z } from 'zod';
import { externalUserId } from '../../contracts/api/common.js';
import { ruleKey } from '../../contracts/api/rules.js';
import { MAX_REPAIR_DAYS, streakRepairRequestSchema, streakRepairResponseSchema } from '../../contracts/api/streaks.js';
import type { Sql } from '../../repositories/db/client.js';
import { scheduleAtRiskChecks } from '../../services/at-risk-checks.js';
import { deliverUpdates } from '../../services/deliveries.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import { repairStreak as repairUserStreak } from '../../services/streak-repair.js';
import type { UserDirectory } from '../../repositories/users.js';
import { actorOf } from '../auth/admin.js';
import type { CredentialVerifiers } from '../auth/authenticate.js';
import { defineRoute, json, limited, mountRoutes, problems } from '../http/define-route.js';
import { httpErrors } from '../http/errors.js';
import type { RateLimits } from '../rate-limits.js';
import { adminWithinBudget } from './guards.js';

export interface StreakRouteDeps {
  sql: Sql;
  verifiers: CredentialVerifiers;
  limits: RateLimits;
  users: UserDirectory;
  rules: RulesCache;
  queues: JobQueues;
}

/** Streak repair: the API key or an admin credits missed days (a support gesture, audited). */
export const repairStreak = defineRoute({
  method: 'post',
  path: '/api/v1/users/{userId}/streaks/{key}/repair',
  operationId: 'repairStreak',
  tags: ['admin'],
  summary: "Credit missed days to a user's streak (API key or admin)",
  description: `Days are local days in the user's time zone, up to ${MAX_REPAIR_DAYS} per call, none after the user's today. The streak is recomputed from all its days as if events had come on them; milestones it now reaches are granted once; the user gets \`streak:updated\` (with \`repairedDays\`) and \`reward:granted\` live. Days that already counted change nothing. Every call is audited (\`streak.repaired\`, with the reason).`,
  auth: 'either',
  request: { params: z.object({ userId: externalUserId, key: ruleKey }), body: streakRepairRequestSchema },
  guard: adminWithinBudget('repair a streak'),
  responses: { 200: json('The streak after the repair', streakRepairResponseSchema, limited), ...problems(400, 401, 403, 404, 413, 415, 429) },
  handler: (deps: StreakRouteDeps) => async ({ res, principal, params, body }) => {
    const { rules } = await deps.rules.get(principal.tenantId);
    const rule = rules.streaks.find((candidate) => candidate.key === params.key);
    if (!rule) throw httpErrors.notFound(`The tenant's rules define no streak "${params.key}"`);
    const user = await deps.users.findByExternalId(principal.tenantId, params.userId);
    if (!user) throw httpErrors.notFound('No such user in this tenant');
    const outcome = await repairUserStreak(deps.sql, {
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
  },
});

export const streakRoutes = [repairStreak];

export function streaksRouter(deps: StreakRouteDeps) {
  return mountRoutes(streakRoutes, deps);
}
