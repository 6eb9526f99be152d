import type { FeedCandidate } from '../domain/feed-ranking.js';
import { pgArrayType, type Sql, type Transaction } from './db/client.js';

/** What the recomputation reads of a user's interactions with its candidates. */
export interface InteractionSets {
  seen: Set<string>;
  opened: Set<string>;
  hidden: Set<string>;
}

export interface AffinityRow {
  dimension: 'topic' | 'author';
  key: string;
  score: number;
  count: number;
  updatedAt: Date;
}

/** A user's feed bookkeeping, as read under its lock. */
export interface FeedStateRow {
  version: number;
  top: string[];
  pushDay: string | null;
  pushesToday: number;
  heldUntil: Date | null;
  heldReason: 'quiet_hours' | 'budget' | null;
  quietStart: string | null;
  quietEnd: string | null;
}

export interface NewFeedEntry {
  position: number;
  itemId: string;
  score: number;
  finalScore: number;
  diversityMultiplier: number;
  components: { name: string; raw: number; weight: number; contribution: number }[];
  why: { component: string; text: string; contribution: number }[];
}

/** Computed versions kept per user: a reader paging through one keeps it while newer ones are stored. */
export const FEED_VERSIONS_KEPT = 3;

type ItemRow = { item_id: string; kind: string; author_id: string | null; topics: string[]; published_at: string; expires_at: string | null; views: number; opens: number; likes: number; title: string | null };

/** A candidate with its title (for the `feed:updated` announcement). */
export type TitledCandidate = FeedCandidate & { title: string | null };

const candidateOf = (row: ItemRow): TitledCandidate => ({
  title: row.title,
  itemId: row.item_id,
  kind: row.kind,
  authorId: row.author_id,
  topics: row.topics,
  publishedAt: new Date(row.published_at),
  expiresAt: row.expires_at ? new Date(row.expires_at) : null,
  stats: { views: row.views, opens: row.opens, likes: row.likes },
});

/** Feed reads and writes outside the engine: candidates, profiles, computed versions and their bookkeeping. */
export class FeedStore {
  constructor(private readonly sql: Sql) {}

  async userZone(tenantId: string, userId: string): Promise<string | undefined> {
    const [row] = await this.sql<{ timezone: string }[]>`select timezone from users where id = ${userId} and tenant_id = ${tenantId}`;
    return row?.timezone;
  }

  async affinities(userId: string): Promise<AffinityRow[]> {
    const rows = await this.sql<{ dimension: 'topic' | 'author'; key: string; score: number; count: number; updated_at: string }[]>`
      select dimension, key, score, count, updated_at from feed_affinities where user_id = ${userId}`;
    return rows.map((row) => ({ dimension: row.dimension, key: row.key, score: row.score, count: row.count, updatedAt: new Date(row.updated_at) }));
  }

  /**
   * The candidate pool: the tenant's `pool` most recent live items, and up to half as many more
   * among older ones that carry the user's strongest topics or authors (bounded work per user).
   */
  async candidates(tenantId: string, pool: number, topics: string[], authors: string[]): Promise<TitledCandidate[]> {
    const rows = await this.sql<ItemRow[]>`
      (select item_id, kind, author_id, topics, published_at, expires_at, views, opens, likes, title from feed_items
        where tenant_id = ${tenantId} and (expires_at is null or expires_at > now()) order by published_at desc limit ${pool})
      union
      (select item_id, kind, author_id, topics, published_at, expires_at, views, opens, likes, title from feed_items
        where tenant_id = ${tenantId} and (expires_at is null or expires_at > now())
          and (topics && ${this.sql.array(topics, pgArrayType.text)}::text[] or author_id = any(${this.sql.array(authors, pgArrayType.text)}::text[]))
        order by published_at desc limit ${Math.ceil(pool / 2)})`;
    return rows.map(candidateOf);
  }

  /** Everything the user did with items (by user alone: cheaper than matching a long list of candidate ids). */
  async interactions(userId: string): Promise<InteractionSets> {
    const sets: InteractionSets = { seen: new Set(), opened: new Set(), hidden: new Set() };
    const rows = await this.sql<{ item_id: string; seen: boolean; opened: boolean; hidden: boolean }[]>`
      select item_id, (viewed_at is not null or opened_at is not null) as seen, opened_at is not null as opened, hidden_at is not null as hidden
      from feed_interactions where user_id = ${userId}`;
    for (const row of rows) {
      if (row.seen) sets.seen.add(row.item_id);
      if (row.opened) sets.opened.add(row.item_id);
      if (row.hidden) sets.hidden.add(row.item_id);
    }
    return sets;
  }

  /** The user's bookkeeping row, created if missing, locked for the rest of the transaction. */
  async lockState(tx: Transaction, tenantId: string, userId: string): Promise<FeedStateRow> {
    // One statement: the no-op update of an existing row locks it and answers it, like a select for update.
    const [row] = await tx<{ version: number; top: string[]; push_day: string | null; pushes_today: number; held_until: string | null; held_reason: 'quiet_hours' | 'budget' | null; quiet_start: string | null; quiet_end: string | null }[]>`
      insert into feed_states (user_id, tenant_id) values (${userId}, ${tenantId})
      on conflict (user_id) do update set version = feed_states.version
      returning version, top, push_day, pushes_today, held_until, held_reason, quiet_start, quiet_end`;
    if (!row) throw new Error(`no feed state for user ${userId}`);
    return {
      version: row.version,
      top: row.top,
      pushDay: row.push_day,
      pushesToday: row.pushes_today,
      heldUntil: row.held_until ? new Date(row.held_until) : null,
      heldReason: row.held_reason,
      quietStart: row.quiet_start,
      quietEnd: row.quiet_end,
    };
  }

  /** Stores a computed version and drops those before the last FEED_VERSIONS_KEPT. */
  async storeVersion(tx: Transaction, userId: string, version: number, entries: NewFeedEntry[], formulaVersion: number, computedAt: Date): Promise<void> {
    // Sent now (postgres.js sends a query when awaited or executed): it rides the same round trip as the insert.
    const pruned = tx`delete from feed_entries where user_id = ${userId} and version <= ${version - FEED_VERSIONS_KEPT}`.execute();
    if (entries.length > 0) {
      await tx`
        insert into feed_entries (user_id, version, position, item_id, score, final_score, diversity_multiplier, components, why, formula_version, computed_at)
        select ${userId}::uuid, ${version}::int, * , ${formulaVersion}::int, ${computedAt.toISOString()}::timestamptz from unnest(
          ${tx.array(entries.map((entry) => entry.position), pgArrayType.int8)}::int[], ${tx.array(entries.map((entry) => entry.itemId), pgArrayType.text)}::text[],
          ${tx.array(entries.map((entry) => entry.score), pgArrayType.float8)}::float8[], ${tx.array(entries.map((entry) => entry.finalScore), pgArrayType.float8)}::float8[],
          ${tx.array(entries.map((entry) => entry.diversityMultiplier), pgArrayType.float8)}::float8[],
          ${tx.array(entries.map((entry) => JSON.stringify(entry.components)), pgArrayType.text)}::jsonb[], ${tx.array(entries.map((entry) => JSON.stringify(entry.why)), pgArrayType.text)}::jsonb[])`;
    }
    await pruned;
  }

  async updateState(tx: Transaction, userId: string, set: { version: number; computedAt: Date; caughtUp: boolean; top?: string[]; push?: { day: string; pushesToday: number }; held?: { until: Date; reason: 'quiet_hours' | 'budget' } | null }): Promise<void> {
    await tx`
      update feed_states set version = ${set.version}, computed_at = ${set.computedAt.toISOString()}::timestamptz, caught_up = ${set.caughtUp},
        top = coalesce(${set.top ? tx.array(set.top, pgArrayType.text) : null}::text[], top),
        push_day = coalesce(${set.push?.day ?? null}::date, push_day), pushes_today = coalesce(${set.push?.pushesToday ?? null}::int, pushes_today),
        held_until = case when ${set.held === undefined} then held_until else ${set.held?.until.toISOString() ?? null}::timestamptz end,
        held_reason = case when ${set.held === undefined} then held_reason else ${set.held?.reason ?? null}::text end
      where user_id = ${userId}`;
  }
}
