import type { AffinityRecord } from '../domain/feed-affinity.js';
import { pgArrayType, type Transaction } from './db/client.js';

/** The feed actions an event can be, by the interaction column it sets once per user and item. */
export const feedActions = { 'feed.viewed': 'viewed', 'feed.opened': 'opened', 'feed.liked': 'liked', 'feed.hidden': 'hidden', 'feed.shared': 'shared' } as const;
export type FeedAction = (typeof feedActions)[keyof typeof feedActions];

/** Item counter per action (distinct users). */
const counterOf: Record<FeedAction, string> = { viewed: 'views', opened: 'opens', liked: 'likes', hidden: 'hides', shared: 'shares' };

export interface ItemRef {
  tenantId: string;
  itemId: string;
}

export interface StoredAffinity extends AffinityRecord {
  userId: string;
  dimension: 'topic' | 'author';
  key: string;
}

export interface Interaction {
  userId: string;
  itemId: string;
  action: FeedAction;
  at: Date;
}

const affinityKey = (userId: string, dimension: string, key: string) => `${userId}\u0000${dimension}\u0000${key}`;
const interactionKey = (userId: string, itemId: string) => `${userId}\u0000${itemId}`;

/**
 * The engine's feed reads and writes, in the batch's transaction (the users' rows are locked, so
 * no other writer touches their affinities or interactions meanwhile): each a single statement
 * for the whole batch.
 */
export const FeedActivity = {
  affinityKey,
  interactionKey,

  async items(tx: Transaction, refs: readonly ItemRef[]): Promise<Map<string, { topics: string[]; authorId: string | null }>> {
    if (refs.length === 0) return new Map();
    const rows = await tx<{ tenant_id: string; item_id: string; topics: string[]; author_id: string | null }[]>`
      select i.tenant_id, i.item_id, i.topics, i.author_id from feed_items i
      join unnest(${tx.array(refs.map((ref) => ref.tenantId), pgArrayType.uuid)}::uuid[], ${tx.array(refs.map((ref) => ref.itemId), pgArrayType.text)}::text[]) as r(tenant_id, item_id)
        on i.tenant_id = r.tenant_id and i.item_id = r.item_id`;
    return new Map(rows.map((row) => [`${row.tenant_id}\u0000${row.item_id}`, { topics: row.topics, authorId: row.author_id }]));
  },

  async affinities(tx: Transaction, keys: readonly { userId: string; dimension: 'topic' | 'author'; key: string }[]): Promise<Map<string, AffinityRecord>> {
    if (keys.length === 0) return new Map();
    const rows = await tx<{ user_id: string; dimension: string; key: string; score: number; count: number; updated_at: string }[]>`
      select a.user_id, a.dimension, a.key, a.score, a.count, a.updated_at from feed_affinities a
      join unnest(${tx.array(keys.map((entry) => entry.userId), pgArrayType.uuid)}::uuid[], ${tx.array(keys.map((entry) => entry.dimension), pgArrayType.text)}::text[],
        ${tx.array(keys.map((entry) => entry.key), pgArrayType.text)}::text[]) as k(user_id, dimension, key)
        on a.user_id = k.user_id and a.dimension = k.dimension and a.key = k.key`;
    return new Map(rows.map((row) => [affinityKey(row.user_id, row.dimension, row.key), { score: row.score, count: row.count, updatedAt: new Date(row.updated_at) }]));
  },

  async writeAffinities(tx: Transaction, tenantOf: ReadonlyMap<string, string>, records: readonly StoredAffinity[]): Promise<void> {
    if (records.length === 0) return;
    await tx`
      insert into feed_affinities (user_id, tenant_id, dimension, key, score, count, updated_at)
      select * from unnest(${tx.array(records.map((row) => row.userId), pgArrayType.uuid)}::uuid[], ${tx.array(records.map((row) => tenantOf.get(row.userId) as string), pgArrayType.uuid)}::uuid[],
        ${tx.array(records.map((row) => row.dimension), pgArrayType.text)}::text[], ${tx.array(records.map((row) => row.key), pgArrayType.text)}::text[],
        ${tx.array(records.map((row) => row.score), pgArrayType.float8)}::float8[], ${tx.array(records.map((row) => row.count), pgArrayType.int8)}::int[],
        ${tx.array(records.map((row) => row.updatedAt.toISOString()), pgArrayType.text)}::timestamptz[])
      on conflict (user_id, dimension, key) do update set score = excluded.score, count = excluded.count, updated_at = excluded.updated_at`;
  },

  /** The (user, item) pairs that already have each action, of those given. */
  async interactions(tx: Transaction, pairs: readonly { userId: string; itemId: string }[]): Promise<Map<string, Set<FeedAction>>> {
    if (pairs.length === 0) return new Map();
    const rows = await tx<{ user_id: string; item_id: string; viewed: boolean; opened: boolean; liked: boolean; hidden: boolean; shared: boolean }[]>`
      select f.user_id, f.item_id, f.viewed_at is not null as viewed, f.opened_at is not null as opened, f.liked_at is not null as liked,
        f.hidden_at is not null as hidden, f.shared_at is not null as shared
      from feed_interactions f
      join unnest(${tx.array(pairs.map((pair) => pair.userId), pgArrayType.uuid)}::uuid[], ${tx.array(pairs.map((pair) => pair.itemId), pgArrayType.text)}::text[]) as p(user_id, item_id)
        on f.user_id = p.user_id and f.item_id = p.item_id`;
    return new Map(rows.map((row) => [interactionKey(row.user_id, row.item_id), new Set((['viewed', 'opened', 'liked', 'hidden', 'shared'] as const).filter((action) => row[action]))]));
  },

  /** Stores first-time interactions and counts each on its item (one user counts once per action). */
  async recordFirstInteractions(tx: Transaction, tenantOf: ReadonlyMap<string, string>, firsts: readonly Interaction[]): Promise<void> {
    if (firsts.length === 0) return;
    const column = (action: FeedAction) => firsts.map((entry) => (entry.action === action ? entry.at.toISOString() : null));
    await tx`
      insert into feed_interactions (user_id, item_id, viewed_at, opened_at, liked_at, hidden_at, shared_at)
      select user_id, item_id, min(viewed_at), min(opened_at), min(liked_at), min(hidden_at), min(shared_at)
      from unnest(${tx.array(firsts.map((entry) => entry.userId), pgArrayType.uuid)}::uuid[], ${tx.array(firsts.map((entry) => entry.itemId), pgArrayType.text)}::text[],
        ${tx.array(column('viewed'), pgArrayType.text)}::timestamptz[], ${tx.array(column('opened'), pgArrayType.text)}::timestamptz[], ${tx.array(column('liked'), pgArrayType.text)}::timestamptz[],
        ${tx.array(column('hidden'), pgArrayType.text)}::timestamptz[], ${tx.array(column('shared'), pgArrayType.text)}::timestamptz[])
        as t(user_id, item_id, viewed_at, opened_at, liked_at, hidden_at, shared_at)
      group by user_id, item_id
      on conflict (user_id, item_id) do update set
        viewed_at = coalesce(feed_interactions.viewed_at, excluded.viewed_at), opened_at = coalesce(feed_interactions.opened_at, excluded.opened_at),
        liked_at = coalesce(feed_interactions.liked_at, excluded.liked_at), hidden_at = coalesce(feed_interactions.hidden_at, excluded.hidden_at),
        shared_at = coalesce(feed_interactions.shared_at, excluded.shared_at)`;
    const counts = new Map<string, { tenantId: string; itemId: string; views: number; opens: number; likes: number; hides: number; shares: number }>();
    for (const entry of firsts) {
      const tenantId = tenantOf.get(entry.userId) as string;
      const key = `${tenantId}\u0000${entry.itemId}`;
      const row = counts.get(key) ?? { tenantId, itemId: entry.itemId, views: 0, opens: 0, likes: 0, hides: 0, shares: 0 };
      row[counterOf[entry.action] as 'views']++;
      counts.set(key, row);
    }
    const rows = [...counts.values()].sort((a, b) => (a.tenantId + a.itemId < b.tenantId + b.itemId ? -1 : 1));
    const numbers = (field: 'views' | 'opens' | 'likes' | 'hides' | 'shares') => tx.array(rows.map((row) => row[field]), pgArrayType.int8);
    // Rows in a fixed order: two batches counting on the same items take their locks in the same order.
    await tx`
      update feed_items i set views = i.views + c.views, opens = i.opens + c.opens, likes = i.likes + c.likes, hides = i.hides + c.hides, shares = i.shares + c.shares
      from unnest(${tx.array(rows.map((row) => row.tenantId), pgArrayType.uuid)}::uuid[], ${tx.array(rows.map((row) => row.itemId), pgArrayType.text)}::text[],
        ${numbers('views')}::int[], ${numbers('opens')}::int[], ${numbers('likes')}::int[], ${numbers('hides')}::int[], ${numbers('shares')}::int[])
        as c(tenant_id, item_id, views, opens, likes, hides, shares)
      where i.tenant_id = c.tenant_id and i.item_id = c.item_id`;
  },
};
