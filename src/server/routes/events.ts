import { Router, type Response } from 'express';
import { listEventsQuerySchema } from '../../contracts/api/events.js';
import type { Database } from '../../repositories/db/client.js';
import type { EventWriter } from '../../services/event-writer.js';
import { listEvents } from '../../repositories/events.js';
import type { UserDirectory } from '../../repositories/users.js';
import { authenticate, principalOf, type CredentialVerifiers, type Principal } from '../auth/authenticate.js';
import { httpErrors, parseOrThrow } from '../http/errors.js';
import { attributeEvents, parseIngestBody } from '../ingest.js';
import { requireJson } from '../middleware/require-json.js';
import { consumeOrThrow, type RateLimits } from '../rate-limits.js';

export interface EventRouteDeps {
  db: Database;
  verifiers: CredentialVerifiers;
  users: UserDirectory;
  writer: EventWriter;
  limits: RateLimits;
}

/** API keys draw on the tenant's budget; users on their own (sustained + burst). */
export function consumeApiBudget(limits: RateLimits, principal: Principal, res: Response): Promise<void> {
  return principal.kind === 'apiKey'
    ? consumeOrThrow(limits.tenant, limits.limits.tenant, principal.tenantId, res, 'Tenant')
    : consumeOrThrow(limits.user, limits.limits.user, `${principal.tenantId}:${principal.userId}`, res, 'User');
}

export function eventsRouter(deps: EventRouteDeps): Router {
  const router = Router();
  const auth = authenticate(deps.verifiers, deps.limits);

  router.post('/api/v1/events', auth, requireJson, async (req, res) => {
    const principal = principalOf(res);
    await consumeApiBudget(deps.limits, principal, res);
    const inputs = await attributeEvents(deps.users, principal, parseIngestBody(req.body));
    const accepted = await deps.writer.write(principal.tenantId, inputs);
    res.status(202).json({ accepted });
  });

  router.get('/api/v1/events', auth, async (req, res) => {
    const principal = principalOf(res);
    await consumeApiBudget(deps.limits, principal, res);
    const query = parseOrThrow(listEventsQuerySchema, req.query);
    const tenantWide = principal.kind === 'apiKey' || principal.role === 'admin';
    if (!tenantWide && query.userId) {
      const own = await deps.users.findById(principal.tenantId, principal.userId);
      if (query.userId !== own?.externalId) throw httpErrors.forbidden("A member may only list its own events");
    }
    res.json(
      await listEvents(deps.db, {
        tenantId: principal.tenantId,
        userId: tenantWide ? undefined : principal.userId,
        externalUserId: query.userId,
        type: query.type,
        after: query.after,
        limit: query.limit,
      }),
    );
  });

  return router;
}
