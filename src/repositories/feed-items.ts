import type { FeedItemInput } from '../contracts/api/feed.js';
import type { Sql } from './db/client.js';

/**
 * One row per id, the last one sent winning: Postgres refuses to update a row twice in one
 * statement, and a client repeating an id means its latest version.
 */
const lastOfEach = (items: readonly FeedItemInput[]) => [...new Map(items.map((item) => [item.id, item])).values()];

/** The item as the statement reads it (jsonb_to_recordset: absent keys are nulls). */
const rowOf = (item: FeedItemInput) => ({
  id: item.id,
  kind: item.kind,
  author_id: item.authorId,
  topics: [...new Set(item.topics)],
  published_at: item.publishedAt,
  expires_at: item.expiresAt,
  title: item.title,
  url: item.url,
  data: item.data,
});

/**
 * Upserts a tenant's items in one statement, and answers the ids of those stored new or changed:
 * an item sent again unchanged keeps its `updated_at` and is not reported, so a tenant re-sending
 * its catalogue does not recompute feeds for nothing.
 */
export async function upsertFeedItems(sql: Sql, tenantId: string, items: readonly FeedItemInput[]): Promise<string[]> {
  const rows = lastOfEach(items).map(rowOf);
  if (rows.length === 0) return [];
  const stored = await sql<{ item_id: string }[]>`
    insert into feed_items as f (tenant_id, item_id, kind, author_id, topics, published_at, expires_at, title, url, data)
    select ${tenantId}::uuid, r.id, r.kind, r.author_id, array(select jsonb_array_elements_text(r.topics)), r.published_at, r.expires_at, r.title, r.url, r.data
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      as r(id text, kind text, author_id text, topics jsonb, published_at timestamptz, expires_at timestamptz, title text, url text, data jsonb)
    on conflict (tenant_id, item_id) do update set
      kind = excluded.kind, author_id = excluded.author_id, topics = excluded.topics, published_at = excluded.published_at,
      expires_at = excluded.expires_at, title = excluded.title, url = excluded.url, data = excluded.data, updated_at = now()
    where (f.kind, f.author_id, f.topics, f.published_at, f.expires_at, f.title, f.url, f.data)
      is distinct from (excluded.kind, excluded.author_id, excluded.topics, excluded.published_at, excluded.expires_at, excluded.title, excluded.url, excluded.data)
    returning item_id`;
  return stored.map((row) => row.item_id);
}

/** Deletes one of the tenant's items; false when it had none by that id. Stored feeds skip it from then on (see feed-pages.ts). */
export async function deleteFeedItem(sql: Sql, tenantId: string, itemId: string): Promise<boolean> {
  const deleted = await sql`delete from feed_items where tenant_id = ${tenantId} and item_id = ${itemId}`;
  return deleted.count > 0;
}
