import { z } from 'zod';
import { boxOddsSchema, openedBoxSchema } from '../../contracts/api/boxes.js';
import type { Sql } from '../../repositories/db/client.js';
import { ROLL_ALGORITHM } from '../../domain/boxes.js';
import { deliverUpdates } from '../../services/deliveries.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import { openBox as openUserBox } from '../../services/box-opening.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import type { CredentialVerifiers } from '../auth/authenticate.js';
import { defineRoute, json, limited, mountRoutes, problems } from '../http/define-route.js';
import { httpErrors } from '../http/errors.js';
import type { RateLimits } from '../rate-limits.js';
import { withinBudget } from './guards.js';

export interface BoxRouteDeps {
  sql: Sql;
  verifiers: CredentialVerifiers;
  limits: RateLimits;
  rules: RulesCache;
  queues: JobQueues;
  boxSecret: string;
}

const ALGORITHM_NOTE = `${ROLL_ALGORITHM}: uniform = first 48 bits of HMAC-SHA256(server secret, box id) / 2^48, mapped onto the cumulative odds in the order common, rare, epic, legendary; under pity, onto the epic and legendary share only`;

/** The published odds of every box table. */
export const getBoxOdds = defineRoute({
  method: 'get',
  path: '/api/v1/boxes/odds',
  operationId: 'getBoxOdds',
  tags: ['engagement'],
  summary: "The tenant's published mystery box odds",
  description: 'Per box table: odds per rarity in percent, the pity rule and the points each rarity holds, and how rolls are derived.',
  auth: 'either',
  guard: withinBudget,
  responses: { 200: json('The odds', boxOddsSchema, limited), ...problems(401, 429) },
  handler: (deps: BoxRouteDeps) => async ({ res, principal }) => {
    const { rules } = await deps.rules.get(principal.tenantId);
    res.json({ tables: rules.boxTables.map(({ key, odds, pityOpens, points }) => ({ key, odds, pityOpens, points })), algorithm: ALGORITHM_NOTE });
  },
});

/** Opening a box (idempotent: opening it again answers the same result). */
export const openBox = defineRoute({
  method: 'post',
  path: '/api/v1/me/boxes/{id}/open',
  operationId: 'openBox',
  tags: ['engagement'],
  summary: 'Open one of your mystery boxes',
  description:
    'Idempotent: a box opens once; opening it again answers the stored result with 200. The roll is stored with every input (HMAC, uniform, odds, pity count) so it can be re-verified. The points go to the ledger once and `box:opened` is pushed to the user.',
  auth: 'user',
  forbidden: 'Boxes are opened by their owner, with a user token',
  request: { params: z.object({ id: z.uuid() }) },
  guard: withinBudget,
  responses: {
    201: json('Opened now', openedBoxSchema, limited),
    200: json('Opened before: the stored result', openedBoxSchema, limited),
    ...problems(400, 401, 403, 404, 409, 429),
  },
  handler: (deps: BoxRouteDeps) => async ({ res, principal, params: { id } }) => {
    const { rules } = await deps.rules.get(principal.tenantId);
    const outcome = await openUserBox(deps.sql, { tenantId: principal.tenantId, userId: principal.userId, boxId: id }, rules, deps.boxSecret);
    switch (outcome.kind) {
      case 'not_found':
        throw httpErrors.notFound('You have no box with this id');
      case 'unknown_table':
        throw httpErrors.conflict(`The box table "${outcome.table}" is no longer defined; an admin must restore it before the box can be opened`);
      case 'already_opened':
        res.json(outcome.box);
        return;
      case 'opened':
        await deliverUpdates(deps, [{ tenantId: principal.tenantId, userId: principal.userId, updates: outcome.updates }]);
        res.status(201).json(outcome.box);
    }
  },
});

export const boxRoutes = [getBoxOdds, openBox];

/** Published odds, and opening a box. */
export function boxesRouter(deps: BoxRouteDeps) {
  return mountRoutes(boxRoutes, deps);
}
