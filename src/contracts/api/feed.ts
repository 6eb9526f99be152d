import { z } from 'zod';
import { singleOrBatch, storableJsonObject, storableString } from './common.js';

/** At most this many items per `POST /api/v1/feed/items`. */
export const MAX_FEED_ITEMS_PER_REQUEST = 500;
const MAX_ITEM_DATA_BYTES = 8 * 1024;

/** The tenant's own id of an item (also how feed events name it: `data.itemId`). */
export const feedItemId = storableString(200).meta({ description: "The tenant's own id of the item", example: 'lesson-algebra-12' });
export const feedTopic = z
  .string()
  .regex(/^[\p{L}\p{N}][\p{L}\p{N} _.:/-]{0,63}$/u, { message: 'must be 1 to 64 letters, digits, spaces or _ . : / -, starting with a letter or digit' })
  .meta({ example: 'algebra' });
const feedKind = z
  .string()
  .regex(/^[a-z][a-z0-9_.-]{0,31}$/, { message: 'must be 1 to 32 lower-case letters, digits, _ . -, starting with a letter' })
  .meta({ example: 'lesson' });
const instant = z.iso.datetime({ offset: true });

export const feedItemInputSchema = z
  .object({
    id: feedItemId,
    kind: feedKind,
    authorId: storableString(200).optional().meta({ example: 'teacher-7' }),
    topics: z.array(feedTopic).max(20).default([]).meta({ description: 'At most 20; duplicates are ignored' }),
    publishedAt: instant.meta({ example: '2026-12-02T08:00:00Z' }),
    title: storableString(300).optional().meta({ example: 'Solving linear equations' }),
    url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).max(2048).optional(),
    data: storableJsonObject(MAX_ITEM_DATA_BYTES).optional(),
    expiresAt: instant.optional().meta({ description: 'The item leaves every feed at this instant' }),
  })
  .strict()
  .meta({ id: 'FeedItemInput' });
export type FeedItemInput = z.infer<typeof feedItemInputSchema>;

const itemsRequest = singleOrBatch(feedItemInputSchema, 'items', MAX_FEED_ITEMS_PER_REQUEST, {
  batch: 'FeedItemBatch',
  request: 'FeedItemsRequest',
  example: { id: 'lesson-algebra-12', kind: 'lesson', authorId: 'teacher-7', topics: ['algebra', 'equations'], publishedAt: '2026-12-02T08:00:00Z', title: 'Solving linear equations' },
});
export const feedItemsRequestSchema = itemsRequest.request;
/** The batch form alone, for parsing with paths that name each bad item (`items.3.topics`). */
export const feedItemBatchSchema = itemsRequest.batch;

export const feedItemsAcceptedSchema = z
  .object({ upserted: z.int().meta({ description: 'Items stored (new or changed)' }) })
  .meta({ id: 'FeedItemsAccepted', example: { upserted: 1 } });

export const feedItemParamsSchema = z.object({ id: feedItemId });

export const feedQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, { message: 'must be a nextCursor from a previous page' }).optional(),
  })
  .strict();

const componentSchema = z.object({
  name: z.enum(['recency', 'topic', 'author', 'quality', 'novelty']),
  raw: z.number(),
  weight: z.number(),
  contribution: z.number(),
});

export const feedEntrySchema = z.object({
  position: z.int(),
  item: z.object({
    id: z.string(),
    kind: z.string(),
    authorId: z.string().nullable(),
    topics: z.array(z.string()),
    publishedAt: z.iso.datetime(),
    title: z.string().nullable(),
    url: z.string().nullable(),
    data: z.record(z.string(), z.unknown()).nullable(),
  }),
  score: z.number().meta({ description: 'Σ weight·raw over the components' }),
  diversityMultiplier: z.number().meta({ description: 'How much repeating an author or topic lowered it (1: not at all)' }),
  finalScore: z.number(),
  components: z.array(componentSchema),
  why: z.array(z.object({ component: componentSchema.shape.name, text: z.string(), contribution: z.number() })).meta({ description: 'The components that helped, largest first, in words and numbers' }),
});

export const feedResponseSchema = z
  .object({
    entries: z.array(feedEntrySchema),
    /** True when the user has opened every fresh item: the feed says so instead of padding with old content. */
    caughtUp: z.boolean(),
    formulaVersion: z.int(),
    computedAt: z.iso.datetime().nullable(),
    nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page of the same computation; null on the last page' }),
  })
  .meta({
    id: 'Feed',
    example: {
      entries: [
        {
          position: 1,
          item: { id: 'lesson-algebra-12', kind: 'lesson', authorId: 'teacher-7', topics: ['algebra'], publishedAt: '2026-12-02T08:00:00.000Z', title: 'Solving linear equations', url: null, data: null },
          score: 2.61,
          diversityMultiplier: 1,
          finalScore: 2.61,
          components: [
            { name: 'recency', raw: 0.93, weight: 1, contribution: 0.93 },
            { name: 'topic', raw: 0.76, weight: 1.5, contribution: 1.14 },
            { name: 'author', raw: 0, weight: 1, contribution: 0 },
            { name: 'quality', raw: 0.04, weight: 1, contribution: 0.04 },
            { name: 'novelty', raw: 1, weight: 0.5, contribution: 0.5 },
          ],
          why: [
            { component: 'topic', text: 'because you engaged with algebra 4 times', contribution: 1.14 },
            { component: 'recency', text: 'published 5 hours ago', contribution: 0.93 },
          ],
        },
      ],
      caughtUp: false,
      formulaVersion: 1,
      computedAt: '2026-12-02T13:00:00.000Z',
      nextCursor: null,
    },
  });
export type FeedResponse = z.infer<typeof feedResponseSchema>;

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'must be HH:MM (00:00 to 23:59)' });
export const quietHoursSchema = z.object({ start: clockTime, end: clockTime }).strict().meta({ example: { start: '22:00', end: '07:00' } });

/** `PUT /api/v1/me/feed/preferences`: the user's own quiet hours (null: the tenant's). */
export const feedPreferencesSchema = z
  .object({ quietHours: quietHoursSchema.nullable() })
  .strict()
  .meta({ id: 'FeedPreferences', example: { quietHours: { start: '21:30', end: '08:00' } } });
