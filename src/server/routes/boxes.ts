import { Router } from 'express';
import { z } from 'zod';
import type { Sql } from '../../repositories/db/client.js';
import { ROLL_ALGORITHM } from '../../domain/boxes.js';
import { deliverUpdates } from '../../services/deliveries.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import { openBox } from '../../services/box-opening.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import { authenticate, principalOf, type CredentialVerifiers } from '../auth/authenticate.js';
import { httpErrors, parseOrThrow } from '../http/errors.js';
import type { RateLimits } from '../rate-limits.js';
import { consumeApiBudget } from './events.js';

export interface BoxRouteDeps {
  sql: Sql;
  verifiers: CredentialVerifiers;
  limits: RateLimits;
  rules: RulesCache;
  queues: JobQueues;
  boxSecret: string;
}

const ALGORITHM_NOTE = `${ROLL_ALGORITHM}: uniform = first 48 bits of HMAC-SHA256(server secret, box id) / 2^48, mapped onto the cumulative odds in the order common, rare, epic, legendary; under pity, onto the epic and legendary share only`;
const boxIdParams = z.object({ id: z.uuid() });

/** Published odds, and opening a box (idempotent: opening it again answers the same result). */
export function boxesRouter(deps: BoxRouteDeps): Router {
  const router = Router();
  const auth = authenticate(deps.verifiers, deps.limits);

  router.get('/api/v1/boxes/odds', auth, async (_req, res) => {
    const principal = principalOf(res);
    await consumeApiBudget(deps.limits, principal, res);
    const { rules } = await deps.rules.get(principal.tenantId);
    res.json({ tables: rules.boxTables.map(({ key, odds, pityOpens, points }) => ({ key, odds, pityOpens, points })), algorithm: ALGORITHM_NOTE });
  });

  router.post('/api/v1/me/boxes/:id/open', auth, async (req, res) => {
    const principal = principalOf(res);
    if (principal.kind !== 'user') throw httpErrors.forbidden('Boxes are opened by their owner, with a user token');
    await consumeApiBudget(deps.limits, principal, res);
    const { id } = parseOrThrow(boxIdParams, req.params);
    const { rules } = await deps.rules.get(principal.tenantId);
    const outcome = await openBox(deps.sql, { tenantId: principal.tenantId, userId: principal.userId, boxId: id }, rules, deps.boxSecret);
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
  });
  return router;
}
