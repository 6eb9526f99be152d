import { eventPageSchema, ingestRequestSchema, ingestResponseSchema, listEventsQuerySchema } from '../../contracts/api/events.js';
import type { Database } from '../../repositories/db/client.js';
import type { EventWriter } from '../../services/event-writer.js';
import { listEvents } from '../../repositories/events.js';
import type { UserDirectory } from '../../repositories/users.js';
import type { CredentialVerifiers } from '../auth/authenticate.js';
import { defineRoute, json, limited, mountRoutes, problems } from '../http/define-route.js';
import { httpErrors } from '../http/errors.js';
import { attributeEvents, parseIngestBody } from '../ingest.js';
import type { RateLimits } from '../rate-limits.js';
import { withinBudget } from './guards.js';

export interface EventRouteDeps {
  db: Database;
  verifiers: CredentialVerifiers;
  users: UserDirectory;
  writer: EventWriter;
  limits: RateLimits;
}

const eventBatchExample = {
  events: [
    { type: 'workout.completed', userId: 'user-42', value: 42.5, idempotencyKey: 'run-2026-11-22-user-42' },
    { type: 'app.opened', userId: 'user-7', occurredAt: '2026-11-22T08:30:00Z' },
  ],
};

export const ingestEvents = defineRoute({
  method: 'post',
  path: '/api/v1/events',
  operationId: 'ingestEvents',
  tags: ['events'],
  summary: 'Record one event or a batch',
  description:
    'All or nothing. With an API key every event names its `userId`; with a user token events default to that user, and only an admin may name another.',
  auth: 'either',
  request: {
    body: {
      schema: ingestRequestSchema,
      examples: {
        single: { summary: 'One event', value: ingestRequestSchema.meta()?.example },
        batch: { summary: 'A batch of events', value: eventBatchExample },
      },
      // One event or a batch, with item paths in the errors (`events.3.type`).
      parse: parseIngestBody,
    },
  },
  guard: withinBudget,
  responses: {
    202: json('Accepted; an event whose idempotency key was already seen is reported as a duplicate', ingestResponseSchema, limited),
    ...problems(400, 401, 403, 413, 415, 429),
  },
  handler: (deps: EventRouteDeps) => async ({ res, principal, body }) => {
    const inputs = await attributeEvents(deps.users, principal, body);
    const accepted = await deps.writer.write(principal.tenantId, inputs);
    res.status(202).json({ accepted });
  },
});

export const listEventsRoute = defineRoute({
  method: 'get',
  path: '/api/v1/events',
  operationId: 'listEvents',
  tags: ['events'],
  summary: 'List events, oldest first',
  description: 'An API key or an admin sees the whole tenant; a member sees only its own events.',
  auth: 'either',
  request: { query: listEventsQuerySchema },
  guard: withinBudget,
  responses: { 200: json('One page of events; pass `next` as `after` for the following page', eventPageSchema, limited), ...problems(400, 401, 403, 429) },
  handler: (deps: EventRouteDeps) => async ({ res, principal, query }) => {
    const tenantWide = principal.kind === 'apiKey' || principal.role === 'admin';
    if (!tenantWide && query.userId) {
      const own = await deps.users.findById(principal.tenantId, principal.userId);
      if (query.userId !== own?.externalId) throw httpErrors.forbidden('A member may only list its own events');
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
  },
});

export const eventRoutes = [ingestEvents, listEventsRoute];

export function eventsRouter(deps: EventRouteDeps) {
  return mountRoutes(eventRoutes, deps);
}
