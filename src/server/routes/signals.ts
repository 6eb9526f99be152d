import { z } from 'zod';
import { ingestResponseSchema } from '../../contracts/api/events.js';
import {
  fusedSignalSchema,
  listSignalsQuerySchema,
  resolveHistoryWindow,
  signalBatchSchema,
  signalHistoryQuerySchema,
  signalHistorySchema,
  signalIngestRequestSchema,
  signalInputSchema,
  signalKey,
  signalListSchema,
  type SignalInputBody,
} from '../../contracts/api/signals.js';
import type { Sql } from '../../repositories/db/client.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import { fusedHistory, listFused } from '../../repositories/signals.js';
import type { UserDirectory } from '../../repositories/users.js';
import { acceptReadings, unitMismatches } from '../../services/signal-intake.js';
import { isTenantAdmin } from '../auth/admin.js';
import type { CredentialVerifiers, Principal } from '../auth/authenticate.js';
import { defineRoute, json, limited, mountRoutes, problems } from '../http/define-route.js';
import { httpErrors, parseOrThrow } from '../http/errors.js';
import type { RateLimits } from '../rate-limits.js';
import { adminWithinBudget, withinBudget } from './guards.js';

export interface SignalRouteDeps {
  sql: Sql;
  verifiers: CredentialVerifiers;
  limits: RateLimits;
  users: UserDirectory;
  rules: RulesCache;
}

/** One reading or `{signals: [...]}`; all or nothing, with paths that name each bad item (`signals.3.unit`). */
function parseSignals(body: unknown): { readings: SignalInputBody[]; pathOf: (index: number, field: string) => string } {
  if (typeof body === 'object' && body !== null && 'signals' in body) {
    return { readings: parseOrThrow(signalBatchSchema, body).signals, pathOf: (index, field) => `signals.${index}.${field}` };
  }
  return { readings: [parseOrThrow(signalInputSchema, body)], pathOf: (_index, field) => field };
}

/**
 * Whose signals a caller reads: the API key and admins any user's (`userId`) or the tenant-wide
 * ones; a member the tenant-wide ones or its own. Answers the internal user id, or null.
 */
async function readerScope(deps: SignalRouteDeps, principal: Principal, externalUserId: string | undefined): Promise<string | null> {
  if (externalUserId === undefined) return null;
  const user = await deps.users.findByExternalId(principal.tenantId, externalUserId);
  if (!isTenantAdmin(principal) && user?.id !== (principal.kind === 'user' ? principal.userId : undefined)) {
    throw httpErrors.forbidden("A member may read only its own signals and the tenant's");
  }
  if (!user) throw httpErrors.notFound('No such user in this tenant');
  return user.id;
}

const keyParams = z.object({ key: signalKey });

export const ingestSignals = defineRoute({
  method: 'post',
  path: '/api/v1/signals',
  operationId: 'ingestSignals',
  tags: ['signals'],
  summary: 'Record one signal reading or a batch',
  description:
    'With the API key or an admin token. All or nothing: every bad item is listed. A reading in another unit than its signal\'s rule names is refused. Stored durably before the answer; each signal is then fused by the workers (at most once per `FUSION_MIN_INTERVAL_MS`, always once after its last reading) and pushed as `signal:fused`.',
  auth: 'either',
  guard: adminWithinBudget('post signals'),
  request: {
    body: {
      schema: signalIngestRequestSchema,
      parse: parseSignals,
      examples: {
        single: { summary: 'One reading', value: signalIngestRequestSchema.meta()?.example },
        batch: {
          summary: 'Readings of one signal from three sources',
          value: {
            signals: [
              { key: 'room.temperature', source: 'sensor:a', value: 21.4, sigma: 0.3, unit: 'celsius' },
              { key: 'room.temperature', source: 'sensor:b', value: 21.9, sigma: 0.5, unit: 'celsius' },
              { key: 'room.temperature', source: 'thermostat', value: 22.3, unit: 'celsius' },
            ],
          },
        },
      },
    },
  },
  responses: {
    202: json('Stored; a reading whose idempotency key was already seen is reported as a duplicate', ingestResponseSchema, limited),
    ...problems(400, 401, 403, 413, 415, 429),
  },
  handler: (deps: SignalRouteDeps) => async ({ res, principal, body: { readings, pathOf } }) => {
    const { rules } = await deps.rules.get(principal.tenantId);
    const mismatches = unitMismatches(readings, rules);
    if (mismatches.length > 0) {
      throw httpErrors.validation(mismatches.map(({ index, unit, expected }) => ({ path: pathOf(index, 'unit'), message: `must be "${expected}" (the signal's unit), not "${unit}"` })));
    }
    const accepted = await acceptReadings(deps, principal.tenantId, readings, new Date());
    res.status(202).json({ accepted });
  },
});

export const listSignals = defineRoute({
  method: 'get',
  path: '/api/v1/signals',
  operationId: 'listSignals',
  tags: ['signals'],
  summary: 'Signals with their latest fused value',
  description: "The tenant-wide signals, or one user's with `userId` (a member: only its own).",
  auth: 'either',
  guard: withinBudget,
  request: { query: listSignalsQuerySchema },
  responses: { 200: json('Every signal of the scope, by key', signalListSchema, limited), ...problems(400, 401, 403, 404, 429) },
  handler: (deps: SignalRouteDeps) => async ({ res, principal, query }) => {
    const userId = await readerScope(deps, principal, query.userId);
    res.json({ signals: await listFused(deps.sql, { tenantId: principal.tenantId, userId, key: query.key }) });
  },
});

export const getSignal = defineRoute({
  method: 'get',
  path: '/api/v1/signals/{key}',
  operationId: 'getSignal',
  tags: ['signals'],
  summary: "A signal's latest fused value with its provenance",
  description: 'Every reading considered, with its age, weight and share of the value, and why any was excluded (`stale`, `outlier`).',
  auth: 'either',
  guard: withinBudget,
  request: { params: keyParams, query: listSignalsQuerySchema.omit({ key: true }) },
  responses: { 200: json('The latest fused value', fusedSignalSchema, limited), ...problems(400, 401, 403, 404, 429) },
  handler: (deps: SignalRouteDeps) => async ({ res, principal, params: { key }, query }) => {
    const userId = await readerScope(deps, principal, query.userId);
    const [signal] = await listFused(deps.sql, { tenantId: principal.tenantId, userId, key });
    if (!signal) throw httpErrors.notFound('No fused value of this signal yet');
    res.json(signal);
  },
});

export const getSignalHistory = defineRoute({
  method: 'get',
  path: '/api/v1/signals/{key}/history',
  operationId: 'getSignalHistory',
  tags: ['signals'],
  summary: "A signal's fused values over time, for charts",
  description: 'One point per `step` seconds that had a fused value (its last one, with the 95 % band), at most 1,000 points.',
  auth: 'either',
  guard: withinBudget,
  request: { params: keyParams, query: signalHistoryQuerySchema },
  responses: { 200: json('The points, oldest first', signalHistorySchema, limited), ...problems(400, 401, 403, 404, 429) },
  handler: (deps: SignalRouteDeps) => async ({ res, principal, params: { key }, query }) => {
    const userId = await readerScope(deps, principal, query.userId);
    const window = resolveHistoryWindow(query, new Date());
    const points = await fusedHistory(deps.sql, { tenantId: principal.tenantId, userId, key }, { from: window.from, to: window.to, stepSeconds: window.step });
    res.json({ key, points, from: window.from.toISOString(), to: window.to.toISOString(), step: window.step });
  },
});

export const signalRoutes = [ingestSignals, listSignals, getSignal, getSignalHistory];

export function signalsRouter(deps: SignalRouteDeps) {
  return mountRoutes(signalRoutes, deps);
}
