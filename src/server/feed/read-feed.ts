import type { FeedResponse } from '../../contracts/api/feed.js';
import { FEED_FORMULA_VERSION } from '../../domain/feed-ranking.js';
import type { JobQueues } from '../../platform/queues/producer.js';
import type { Sql } from '../../repositories/db/client.js';
import { readFeedPage, readFeedState } from '../../repositories/feed-pages.js';
import { followUpFeedRecompute } from '../../services/feed-follow-up.js';
import type { FeedRecomputer } from '../../services/feed-recompute.js';
import { httpErrors } from '../http/errors.js';
import { decodeFeedCursor, encodeFeedCursor } from './cursor.js';

export interface FeedReadDeps {
  sql: Sql;
  queues: JobQueues;
  recomputer: Pick<FeedRecomputer, 'recompute'>;
}

const noSuchUser = () => httpErrors.notFound('No such user in this tenant');

/**
 * One page of a user's stored feed. A first page reads the current version, computing one now
 * if the workers have not yet (the caller waits one recomputation rather than seeing nothing); a
 * cursor reads the version its first page came from, so pages stay stable while newer versions
 * are stored, and is answered 410 once that version was pruned.
 */
export async function readFeed(deps: FeedReadDeps, tenantId: string, userId: string, query: { limit: number; cursor?: string | undefined }): Promise<FeedResponse> {
  const cursor = query.cursor === undefined ? undefined : decodeFeedCursor(query.cursor);
  let state = await readFeedState(deps.sql, userId);
  if (!cursor && (!state || state.version === 0)) {
    const computed = await deps.recomputer.recompute(tenantId, userId);
    if (!computed) throw noSuchUser();
    await followUpFeedRecompute(deps, tenantId, userId, computed);
    state = await readFeedState(deps.sql, userId);
  }
  const version = cursor?.version ?? state?.version ?? 0;
  const page = await readFeedPage(deps.sql, { tenantId, userId, version, after: cursor?.position ?? 0, limit: query.limit });
  if (!page && cursor) {
    throw httpErrors.gone('feed_moved_on', 'This page belongs to a feed computation that is no longer kept: start again without a cursor');
  }
  const last = page?.entries.at(-1);
  return {
    entries: page?.entries ?? [],
    caughtUp: state?.caughtUp ?? false,
    formulaVersion: page?.formulaVersion ?? FEED_FORMULA_VERSION,
    computedAt: (page?.computedAt ?? state?.computedAt)?.toISOString() ?? null,
    nextCursor: page?.more && last ? encodeFeedCursor({ version, position: last.position }) : null,
  };
}
