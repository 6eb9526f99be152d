import { Router, type Response } from 'express';
import { eventBatchSchema, eventInputSchema, listEventsQuerySchema, type EventInputBody } from '../../shared/api/events.js';
import type { Database } from '../../shared/db/client.js';
import type { EventInput, EventWriter } from '../../shared/repositories/event-writer.js';
import { listEvents } from '../../shared/repositories/events.js';
import type { UserDirectory } from '../../shared/repositories/users.js';
import { authenticate, principalOf, type CredentialVerifiers, type Principal } from '../auth/authenticate.js';
import { httpErrors, parseOrThrow, type FieldError } from '../http/errors.js';
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

/** One event or `{events: [...]}`; either way all-or-nothing, with paths that name each bad item. */
function parseIngestBody(body: unknown): { events: EventInputBody[]; pathPrefix: (index: number) => string } {
  if (typeof body === 'object' && body !== null && 'events' in body) {
    return { events: parseOrThrow(eventBatchSchema, body).events, pathPrefix: (index) => `events.${index}.` };
  }
  return { events: [parseOrThrow(eventInputSchema, body)], pathPrefix: () => '' };
}

/**
 * Whose events these are. An API key names the user in each event; a user token implies its
 * own user, and only an admin may name another user of the tenant.
 */
async function attributeEvents(deps: EventRouteDeps, principal: Principal, parsed: ReturnType<typeof parseIngestBody>): Promise<EventInput[]> {
  const missing: FieldError[] = [];
  let ownExternalId: string | undefined;
  const inputs: EventInput[] = [];
  for (const [index, event] of parsed.events.entries()) {
    const { userId, occurredAt, ...rest } = event;
    const common = { ...rest, occurredAt: occurredAt ? new Date(occurredAt) : new Date() };
    if (principal.kind === 'apiKey') {
      if (!userId) missing.push({ path: `${parsed.pathPrefix(index)}userId`, message: 'is required when posting with an API key' });
      else inputs.push({ ...common, user: { externalId: userId } });
      continue;
    }
    if (userId && principal.role !== 'admin') {
      ownExternalId ??= (await deps.users.findById(principal.tenantId, principal.userId))?.externalId;
      if (userId !== ownExternalId) throw httpErrors.forbidden('A member may only post events for itself');
    }
    inputs.push({ ...common, user: userId ? { externalId: userId } : { id: principal.userId } });
  }
  if (missing.length > 0) throw httpErrors.validation(missing);
  return inputs;
}

export function eventsRouter(deps: EventRouteDeps): Router {
  const router = Router();
  const auth = authenticate(deps.verifiers, deps.limits);

  router.post('/api/v1/events', auth, requireJson, async (req, res) => {
    const principal = principalOf(res);
    await consumeApiBudget(deps.limits, principal, res);
    const inputs = await attributeEvents(deps, principal, parseIngestBody(req.body));
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
