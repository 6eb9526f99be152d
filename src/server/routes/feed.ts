import { z } from 'zod';
import {
  feedItemBatchSchema,
  feedItemInputSchema,
  feedItemParamsSchema,
  feedItemsAcceptedSchema,
  feedItemsRequestSchema,
  feedPreferencesSchema,
  feedQuerySchema,
  feedResponseSchema,
  type FeedItemInput,
} from '../../contracts/api/feed.js';
import type { Sql } from '../../repositories/db/client.js';
import { deleteFeedItem, upsertFeedItems } from '../../repositories/feed-items.js';
import { readQuietHours, saveQuietHours } from '../../repositories/feed-preferences.js';
import type { UserDirectory } from '../../repositories/users.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import type { FeedRecomputer } from '../../services/feed-recompute.js';
import type { CredentialVerifiers } from '../auth/authenticate.js';
import { readFeed } from '../feed/read-feed.js';
import { defineRoute, json, limited, mountRoutes, problems } from '../http/define-route.js';
import { httpErrors, parseOrThrow } from '../http/errors.js';
import type { RateLimits } from '../rate-limits.js';
import { adminWithinBudget, withinBudget } from './guards.js';

export interface FeedRouteDeps {
  sql: Sql;
  verifiers: CredentialVerifiers;
  limits: RateLimits;
  users: UserDirectory;
  queues: JobQueues;
  recomputer: Pick<FeedRecomputer, 'recompute'>;
}

/** One item or `{items: [...]}`; all or nothing, with paths that name each bad item (`items.3.publishedAt`). */
const parseFeedItems = (body: unknown): FeedItemInput[] =>
  typeof body === 'object' && body !== null && 'items' in body ? parseOrThrow(feedItemBatchSchema, body).items : [parseOrThrow(feedItemInputSchema, body)];

export const upsertFeedItemsRoute = defineRoute({
  method: 'post',
  path: '/api/v1/feed/items',
  operationId: 'upsertFeedItems',
  tags: ['feeds'],
  summary: 'Add or update feed items, one or a batch (API key)',
  description:
    "Upserts by the tenant's item id, all or nothing; a batch naming an id twice keeps the last. Items new or changed are counted in `upserted`, and the feeds of users whose topic or author affinities match them are recomputed by the workers shortly after.",
  auth: 'apiKey',
  forbidden: 'Only the tenant API key may change feed items',
  guard: withinBudget,
  request: {
    body: {
      schema: feedItemsRequestSchema,
      parse: parseFeedItems,
      examples: {
        single: { summary: 'One item', value: feedItemsRequestSchema.meta()?.example },
        batch: {
          summary: 'A batch of items',
          value: {
            items: [
              { id: 'lesson-algebra-12', kind: 'lesson', authorId: 'teacher-7', topics: ['algebra', 'equations'], publishedAt: '2026-12-02T08:00:00Z', title: 'Solving linear equations' },
              { id: 'post-981', kind: 'post', authorId: 'student-3', topics: ['geometry'], publishedAt: '2026-12-02T09:15:00Z', url: 'https://example.com/posts/981', expiresAt: '2026-12-09T09:15:00Z' },
            ],
          },
        },
      },
    },
  },
  responses: {
    202: json('Stored; matching feeds are recomputed shortly', feedItemsAcceptedSchema, limited),
    ...problems(400, 401, 403, 413, 415, 429),
  },
  handler: (deps: FeedRouteDeps) => async ({ res, principal, body: items }) => {
    const changed = await upsertFeedItems(deps.sql, principal.tenantId, items);
    if (changed.length > 0) await deps.queues.enqueue('feed.items', { tenantId: principal.tenantId, itemIds: changed });
    res.status(202).json({ upserted: changed.length });
  },
});

export const deleteFeedItemRoute = defineRoute({
  method: 'delete',
  path: '/api/v1/feed/items/{id}',
  operationId: 'deleteFeedItem',
  tags: ['feeds'],
  summary: 'Remove a feed item (API key)',
  description: 'The item leaves every feed at once: stored feeds skip it when read.',
  auth: 'apiKey',
  forbidden: 'Only the tenant API key may change feed items',
  guard: withinBudget,
  request: { params: feedItemParamsSchema },
  responses: { 204: { description: 'Deleted' }, ...problems(400, 401, 403, 404, 429) },
  handler: (deps: FeedRouteDeps) => async ({ res, principal, params: { id } }) => {
    if (!(await deleteFeedItem(deps.sql, principal.tenantId, id))) throw httpErrors.notFound('No such feed item in this tenant');
    res.status(204).end();
  },
});

const feedDescription =
  'Ranked entries with their score, each component (raw value, weight, contribution), the diversity multiplier and `why` in words and numbers. The first page reads the latest computation (made now if there is none yet); `nextCursor` pages through that same computation even while newer ones are stored, until it is pruned (410 `feed_moved_on`: start again without a cursor). `caughtUp` is true when the user has opened every fresh item.';

export const getMyFeed = defineRoute({
  method: 'get',
  path: '/api/v1/me/feed',
  operationId: 'getMyFeed',
  tags: ['feeds'],
  summary: "The calling user's personalised feed",
  description: feedDescription,
  auth: 'user',
  forbidden: 'An API key has no feed of its own: use /api/v1/users/{userId}/feed',
  guard: withinBudget,
  request: { query: feedQuerySchema },
  responses: { 200: json('One page of the feed', feedResponseSchema, limited), ...problems(400, 401, 403, 404, 410, 429) },
  handler: (deps: FeedRouteDeps) => async ({ res, principal, query }) => {
    res.json(await readFeed(deps, principal.tenantId, principal.userId, query));
  },
});

export const getUserFeed = defineRoute({
  method: 'get',
  path: '/api/v1/users/{userId}/feed',
  operationId: 'getUserFeed',
  tags: ['feeds'],
  summary: "A user's personalised feed (API key or admin)",
  description: feedDescription,
  auth: 'either',
  // Any id is looked up as it is: one the tenant does not know is a 404, never a 400.
  request: { params: z.object({ userId: z.string().min(1).meta({ description: "The tenant's own id for the user", example: 'user-42' }) }), query: feedQuerySchema },
  guard: adminWithinBudget("read another user's feed"),
  responses: { 200: json('One page of the feed', feedResponseSchema, limited), ...problems(400, 401, 403, 404, 410, 429) },
  handler: (deps: FeedRouteDeps) => async ({ res, principal, params: { userId }, query }) => {
    const user = await deps.users.findByExternalId(principal.tenantId, userId);
    if (!user) throw httpErrors.notFound('No such user in this tenant');
    res.json(await readFeed(deps, principal.tenantId, user.id, query));
  },
});

const preferencesPath = '/api/v1/me/feed/preferences';

export const getMyFeedPreferences = defineRoute({
  method: 'get',
  path: preferencesPath,
  operationId: 'getMyFeedPreferences',
  tags: ['feeds'],
  summary: "The calling user's feed preferences",
  description: "`quietHours` null: the tenant's quiet hours apply.",
  auth: 'user',
  forbidden: 'Feed preferences belong to a user: call with its access token',
  guard: withinBudget,
  responses: { 200: json('The preferences', feedPreferencesSchema, limited), ...problems(401, 403, 429) },
  handler: (deps: FeedRouteDeps) => async ({ res, principal }) => {
    res.json({ quietHours: await readQuietHours(deps.sql, principal.userId) });
  },
});

export const putMyFeedPreferences = defineRoute({
  method: 'put',
  path: preferencesPath,
  operationId: 'putMyFeedPreferences',
  tags: ['feeds'],
  summary: "Set the calling user's feed preferences",
  description:
    "Quiet hours (`HH:MM` in the user's time zone; `start` after `end` spans midnight) during which `feed:updated` pushes are held, then sent once, coalesced, when they end. Null: the tenant's quiet hours apply.",
  auth: 'user',
  forbidden: 'Feed preferences belong to a user: call with its access token',
  guard: withinBudget,
  request: {
    body: {
      schema: feedPreferencesSchema,
      examples: {
        own: { summary: 'Own quiet hours', value: feedPreferencesSchema.meta()?.example },
        tenant: { summary: "Back to the tenant's", value: { quietHours: null } },
      },
    },
  },
  responses: { 200: json('The stored preferences', feedPreferencesSchema, limited), ...problems(400, 401, 403, 404, 413, 415, 429) },
  handler: (deps: FeedRouteDeps) => async ({ res, principal, body: { quietHours } }) => {
    if (!(await saveQuietHours(deps.sql, principal.tenantId, principal.userId, quietHours))) throw httpErrors.notFound('No such user in this tenant');
    res.json({ quietHours });
  },
});

export const feedRoutes = [upsertFeedItemsRoute, deleteFeedItemRoute, getMyFeed, getUserFeed, getMyFeedPreferences, putMyFeedPreferences];

/** Feed items (API key), users' ranked feeds with their explanations, and users' own quiet hours. */
export function feedRouter(deps: FeedRouteDeps) {
  return mountRoutes(feedRoutes, deps);
}
