import type { FeedResponse } from '../contracts/api/feed.js';
import type { Sql } from './db/client.js';

/** What a reader needs of a user's feed bookkeeping. */
export interface FeedStateSummary {
  /** 0 until the first computation is stored. */
  version: number;
  computedAt: Date | null;
  caughtUp: boolean;
}

export type StoredFeedEntry = FeedResponse['entries'][number];

/** Entries of one stored version, and when and by which formula it was computed. */
export interface StoredFeedPage {
  entries: StoredFeedEntry[];
  /** Whether entries follow the last one returned. */
  more: boolean;
  computedAt: Date;
  formulaVersion: number;
}

type EntryRow = {
  position: number;
  item_id: string;
  kind: string;
  author_id: string | null;
  topics: string[];
  published_at: string;
  title: string | null;
  url: string | null;
  data: Record<string, unknown> | null;
  score: number;
  final_score: number;
  diversity_multiplier: number;
  components: StoredFeedEntry['components'];
  why: StoredFeedEntry['why'];
  formula_version: number;
  computed_at: string;
};

const entryOf = (row: EntryRow): StoredFeedEntry => ({
  position: row.position,
  item: {
    id: row.item_id,
    kind: row.kind,
    authorId: row.author_id,
    topics: row.topics,
    publishedAt: new Date(row.published_at).toISOString(),
    title: row.title,
    url: row.url,
    data: row.data,
  },
  score: row.score,
  diversityMultiplier: row.diversity_multiplier,
  finalScore: row.final_score,
  components: row.components,
  why: row.why,
});

export async function readFeedState(sql: Sql, userId: string): Promise<FeedStateSummary | undefined> {
  const [row] = await sql<{ version: number; computed_at: string | null; caught_up: boolean }[]>`
    select version, computed_at, caught_up from feed_states where user_id = ${userId}`;
  return row && { version: row.version, computedAt: row.computed_at === null ? null : new Date(row.computed_at), caughtUp: row.caught_up };
}

/**
 * Up to `limit` entries of one stored version after position `after`, in order. An entry whose
 * item was deleted or has expired since the computation, or that the user hid since, is skipped:
 * a stored version is read as it is now, not recomputed. Undefined when the version has no
 * stored entry at all: pruned (only the last few are kept), never computed, or computed empty.
 */
export async function readFeedPage(sql: Sql, page: { tenantId: string; userId: string; version: number; after: number; limit: number }): Promise<StoredFeedPage | undefined> {
  const rows = await sql<EntryRow[]>`
    select e.position, e.item_id, i.kind, i.author_id, i.topics, i.published_at, i.title, i.url, i.data,
      e.score, e.final_score, e.diversity_multiplier, e.components, e.why, e.formula_version, e.computed_at
    from feed_entries e
    join feed_items i on i.tenant_id = ${page.tenantId} and i.item_id = e.item_id
    left join feed_interactions f on f.user_id = e.user_id and f.item_id = e.item_id
    where e.user_id = ${page.userId} and e.version = ${page.version} and e.position > ${page.after}
      and f.hidden_at is null and (i.expires_at is null or i.expires_at > now())
    order by e.position
    limit ${page.limit + 1}`;
  const [first] = rows;
  if (first) {
    return { entries: rows.slice(0, page.limit).map(entryOf), more: rows.length > page.limit, computedAt: new Date(first.computed_at), formulaVersion: first.formula_version };
  }
  // Nothing left to show: tell a version read to its end from one that is gone.
  const [known] = await sql<{ computed_at: string; formula_version: number }[]>`
    select computed_at, formula_version from feed_entries where user_id = ${page.userId} and version = ${page.version} limit 1`;
  return known && { entries: [], more: false, computedAt: new Date(known.computed_at), formulaVersion: known.formula_version };
}
