import { errorFields, type Logger } from '../../platform/logger.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import { pgArrayType, type Sql } from '../../repositories/db/client.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import type { FeedTelemetry } from '../../repositories/feed-telemetry.js';
import { followUpFeedRecompute } from '../../services/feed-follow-up.js';
import type { FeedRecomputer } from '../../services/feed-recompute.js';
import { requestFeedRecomputes } from '../../services/feed-schedule.js';
import type { JobHandler } from '../registry.js';

export interface FeedHandlerDeps {
  sql: Sql;
  queues: JobQueues;
  rules: RulesCache;
  recomputer: FeedRecomputer;
  telemetry: FeedTelemetry;
  logger: Logger;
}

/** Users recomputed at most per new-items job or sweep (the rest wait for their own activity or the next sweep). */
const MAX_USERS_PER_FANOUT = 10_000;

/** One user's feed: recomputed, its announcement delivered now or its release scheduled. */
export function createFeedRecomputeHandler(deps: FeedHandlerDeps): JobHandler<'feed.recompute'> {
  return {
    name: 'feed.recompute',
    async handle({ tenantId, userId }) {
      const result = await deps.recomputer.recompute(tenantId, userId);
      if (!result) return { skipped: 'no such user' };
      const { announcement } = result;
      await deps.telemetry
        .record(tenantId, { recomputes: 1, pushes: announcement.kind === 'pushed' ? 1 : 0, held_quiet: announcement.kind === 'held' && announcement.reason === 'quiet_hours' ? 1 : 0, held_budget: announcement.kind === 'held' && announcement.reason === 'budget' ? 1 : 0 }, result.durationMs)
        .catch((error: unknown) => deps.logger.warn('feed figures not recorded', errorFields(error)));
      await followUpFeedRecompute(deps, tenantId, userId, result);
      return { version: result.version, entries: result.entries, announcement: announcement.kind, ms: Math.round(result.durationMs) };
    },
  };
}

/** New or changed items: the users whose topic or author affinities match them get their feed recomputed (not everyone). */
export function createFeedItemsHandler(deps: FeedHandlerDeps): JobHandler<'feed.items'> {
  return {
    name: 'feed.items',
    async handle({ tenantId, itemIds }) {
      const users = await deps.sql<{ user_id: string }[]>`
        with items as (select topics, author_id from feed_items where tenant_id = ${tenantId} and item_id = any(${deps.sql.array(itemIds, pgArrayType.text)}::text[]))
        select distinct a.user_id from feed_affinities a
        where a.tenant_id = ${tenantId} and a.score > 0 and (
          (a.dimension = 'topic' and a.key in (select unnest(topics) from items)) or (a.dimension = 'author' and a.key in (select author_id from items where author_id is not null)))
        limit ${MAX_USERS_PER_FANOUT}`;
      const delayMs = (await deps.rules.get(tenantId)).rules.feed.recomputeDebounceSeconds * 1000;
      await requestFeedRecomputes(deps.queues, users.map(({ user_id }) => ({ tenantId, userId: user_id, reason: 'items' as const, delayMs })));
      return { users: users.length };
    },
  };
}

/** Recently active users' feeds, recomputed: catches a hand-off lost after an engine commit, and ages recency. */
export function createFeedSweepHandler(deps: FeedHandlerDeps): JobHandler<'feed.sweep'> {
  return {
    name: 'feed.sweep',
    async handle() {
      const users = await deps.sql<{ id: string; tenant_id: string }[]>`
        select id, tenant_id from users where last_active_at > now() - interval '1 day' order by last_active_at desc limit ${MAX_USERS_PER_FANOUT}`;
      await requestFeedRecomputes(deps.queues, users.map((user) => ({ tenantId: user.tenant_id, userId: user.id, reason: 'sweep' as const, delayMs: 0 })));
      return { users: users.length };
    },
  };
}
