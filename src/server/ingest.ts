import { eventBatchSchema, eventInputSchema, type EventInputBody } from '../contracts/api/events.js';
import type { EventInput } from '../services/event-writer.js';
import type { UserDirectory } from '../repositories/users.js';
import type { Principal } from './auth/authenticate.js';
import { httpErrors, parseOrThrow, type FieldError } from './http/errors.js';

/** Ingestion rules shared by `POST /api/v1/events` and the socket `track` event. */

export interface ParsedIngest {
  events: EventInputBody[];
  /** How an item's field paths are prefixed in error messages (`events.3.` in a batch). */
  pathPrefix: (index: number) => string;
}

/** One event or `{events: [...]}`; either way all-or-nothing, with paths that name each bad item. */
export function parseIngestBody(body: unknown): ParsedIngest {
  if (typeof body === 'object' && body !== null && 'events' in body) {
    return { events: parseOrThrow(eventBatchSchema, body).events, pathPrefix: (index) => `events.${index}.` };
  }
  return { events: [parseOrThrow(eventInputSchema, body)], pathPrefix: () => '' };
}

/**
 * Whose events these are. An API key names the user in each event; a user token implies its
 * own user, and only an admin may name another user of the tenant.
 */
export async function attributeEvents(users: UserDirectory, principal: Principal, parsed: ParsedIngest): Promise<EventInput[]> {
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
      ownExternalId ??= (await users.findById(principal.tenantId, principal.userId))?.externalId;
      if (userId !== ownExternalId) throw httpErrors.forbidden('A member may only post events for itself');
    }
    inputs.push({ ...common, user: userId ? { externalId: userId } : { id: principal.userId } });
  }
  if (missing.length > 0) throw httpErrors.validation(missing);
  return inputs;
}

