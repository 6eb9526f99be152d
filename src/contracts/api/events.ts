import { z } from 'zod';
import { externalUserId, recentInstant, singleOrBatch, storableJsonObject, storableString } from './common.js';

export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_.:-]{0,63}$/;
export const MAX_EVENTS_PER_REQUEST = 500;
export const MAX_EVENT_DATA_BYTES = 8 * 1024;

export const eventInputSchema = z
  .object({
    type: z.string().regex(EVENT_TYPE_PATTERN, { message: `must match ${EVENT_TYPE_PATTERN.source}` }).meta({ example: 'workout.completed' }),
    userId: externalUserId.optional(),
    /** Must be no more than 5 minutes ahead and 30 days back of the hub's clock. */
    occurredAt: recentInstant().optional(),
    value: z.number().refine(Number.isFinite, { message: 'must be a finite number' }).optional().meta({ example: 42.5 }),
    data: storableJsonObject(MAX_EVENT_DATA_BYTES).optional().meta({ example: { distanceKm: 5.2 } }),
    idempotencyKey: storableString(128).optional().meta({ example: 'run-2026-11-22-user-42' }),
  })
  .strict()
  .meta({ id: 'EventInput' });

const INGEST_EXAMPLE: EventInputBody = { type: 'workout.completed', userId: 'user-42', value: 42.5, idempotencyKey: 'run-2026-11-22-user-42' };

/** The body of POST /api/v1/events: one event, or up to MAX_EVENTS_PER_REQUEST of them under `events`. */
const ingestRequest = singleOrBatch(eventInputSchema, 'events', MAX_EVENTS_PER_REQUEST, { batch: 'EventBatch', request: 'IngestRequest', example: INGEST_EXAMPLE });
export const eventBatchSchema = ingestRequest.batch;
export const ingestRequestSchema = ingestRequest.request;

export const acceptedEventSchema = z.object({
  id: z.uuid(),
  idempotencyKey: z.string().nullable(),
  duplicate: z.boolean(),
});

export const ingestResponseSchema = z.object({ accepted: z.array(acceptedEventSchema) }).meta({
  id: 'IngestResponse',
  example: { accepted: [{ id: '0190c1a2-b3c4-7d8e-9f00-112233445566', idempotencyKey: 'run-2026-11-22-user-42', duplicate: false }] },
});

export const listEventsQuerySchema = z
  .object({
    userId: externalUserId.optional(),
    type: z.string().regex(EVENT_TYPE_PATTERN).optional().meta({ description: 'Only events of this type', example: 'workout.completed' }),
    after: z.uuid().optional().meta({ description: 'The `next` cursor of the previous page' }),
    limit: z.coerce.number().int().min(1).max(200).default(50).meta({ description: 'Page size' }),
  })
  .strict();

export const storedEventSchema = z.object({
  id: z.uuid(),
  userId: z.string(),
  type: z.string(),
  occurredAt: z.string(),
  receivedAt: z.string(),
  value: z.number().nullable(),
  data: z.record(z.string(), z.unknown()).nullable(),
  idempotencyKey: z.string().nullable(),
});

export const eventPageSchema = z.object({ items: z.array(storedEventSchema), next: z.uuid().nullable() }).meta({
  id: 'EventPage',
  example: {
    items: [
      {
        id: '0190c1a2-b3c4-7d8e-9f00-112233445566',
        userId: 'user-42',
        type: 'workout.completed',
        occurredAt: '2026-11-22T08:30:00.000Z',
        receivedAt: '2026-11-22T08:30:00.120Z',
        value: 42.5,
        data: null,
        idempotencyKey: 'run-2026-11-22-user-42',
      },
    ],
    next: null,
  },
});

export type EventInputBody = z.infer<typeof eventInputSchema>;
export type IngestResponse = z.infer<typeof ingestResponseSchema>;
export type EventPage = z.infer<typeof eventPageSchema>;
