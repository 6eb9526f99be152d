import type postgres from 'postgres';
import { pgArrayType } from '../../src/repositories/db/client.js';
import { prng } from '../../tests/support/seeded-random.js';

/**
 * The feed bench's tenant, written straight into the hub's Postgres (the items API is not the
 * subject here, and interaction history would otherwise take hours of events): users, items and,
 * per user, topic and author affinities and a history of views, opens, likes and hides. Drawn from
 * a seeded generator, so every run ranks the same data. Popularity is skewed the way content is
 * (a few authors and topics carry most items and most readers), and interactions fall on recent
 * items, so they meet each user's candidate pool as real ones would.
 */

export interface FeedFixturePlan {
  users: number;
  items: number;
  authors: number;
  topics: number;
  /** Items are published over this many days before now. */
  days: number;
  topicsPerUser: number;
  authorsPerUser: number;
  /** Items each user has interacted with (viewed at least), among the most recent ones. */
  interactionsPerUser: number;
  seed: number;
}

export interface FeedFixture {
  /** Internal ids, in the order of the external ids `reader-<n>`. */
  userIds: string[];
  externalIds: string[];
  /** Each item's id and topics, newest first (what the feed events of the engine comparison name). */
  items: { itemId: string; topics: string[] }[];
  rows: { users: number; items: number; affinities: number; interactions: number };
  seconds: number;
}

const KINDS = [
  ['lesson', 0.4],
  ['post', 0.35],
  ['video', 0.15],
  ['offer', 0.1],
] as const;
const ZONES = ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Tokyo', 'America/Sao_Paulo', 'Australia/Sydney'];
const DAY_MS = 86_400_000;
/** Rows per insert statement (each column one array parameter). */
const CHUNK = 10_000;
/** Interactions fall on this many of the newest items (about the default candidate pool). */
const RECENT_ITEMS = 600;


/** An index in [0, n) skewed towards 0: `skew` 1 is uniform, larger favours the head (popular authors and topics). */
const skewed = (random: () => number, n: number, skew: number) => Math.min(n - 1, Math.floor(n * random() ** skew));

/** `count` distinct indexes in [0, n), drawn skewed. */
function distinct(random: () => number, n: number, count: number, skew: number): number[] {
  const picked = new Set<number>();
  while (picked.size < Math.min(count, n)) picked.add(skewed(random, n, skew));
  return [...picked];
}

/** A log-normal count with this median: most items are read a little, a few a lot. */
const logNormal = (random: () => number, median: number, sigma: number) => {
  const gauss = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Math.round(median * Math.exp(sigma * gauss));
};

async function inChunks<T>(rows: T[], insert: (chunk: T[]) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < rows.length; start += CHUNK) await insert(rows.slice(start, start + CHUNK));
}

export async function seedFeedFixture(sql: postgres.Sql, tenantId: string, plan: FeedFixturePlan): Promise<FeedFixture> {
  const started = performance.now();
  // postgres.js learns the array types on its first connection: typed array parameters serialize only after that.
  await sql`select 1`;
  const random = prng(plan.seed);
  const now = Date.now();
  const text = (values: string[]) => sql.array(values, pgArrayType.text);
  const floats = (values: number[]) => sql.array(values, pgArrayType.float8);
  const ints = (values: number[]) => sql.array(values, pgArrayType.int8);

  const externalIds = Array.from({ length: plan.users }, (_, n) => `reader-${n}`);
  const userIds: string[] = [];
  await inChunks(externalIds, async (chunk) => {
    const rows = await sql<{ id: string; external_id: string }[]>`
      insert into users (tenant_id, external_id, timezone)
      select ${tenantId}::uuid, external_id, timezone from unnest(${text(chunk)}::text[], ${text(chunk.map(() => ZONES[skewed(random, ZONES.length, 1)] as string))}::text[]) as u(external_id, timezone)
      returning id, external_id`;
    // RETURNING promises no order: matched back by external id.
    const byExternal = new Map(rows.map((row) => [row.external_id, row.id]));
    for (const externalId of chunk) userIds.push(byExternal.get(externalId) as string);
  });

  const items = Array.from({ length: plan.items }, (_, n) => {
    const kindDraw = random();
    let cumulative = 0;
    const kind = KINDS.find(([, share]) => (cumulative += share) >= kindDraw)?.[0] ?? 'post';
    const views = Math.min(logNormal(random, 40, 1.6), 200_000);
    const opens = Math.round(views * (0.05 + 0.35 * random()));
    const likes = Math.round(opens * (0.05 + 0.25 * random()));
    return {
      itemId: `item-${n}`,
      kind,
      authorId: `author-${skewed(random, plan.authors, 2)}`,
      topics: distinct(random, plan.topics, 1 + Math.floor(random() * 3), 1.6).map((t) => `topic-${t}`),
      publishedAt: new Date(now - random() * plan.days * DAY_MS).toISOString(),
      // One offer in five has ended: expired items must drop out of the pool.
      expiresAt: kind === 'offer' && random() < 0.2 ? new Date(now - random() * DAY_MS).toISOString() : null,
      views,
      opens,
      likes,
    };
  });
  await inChunks(items, (chunk) => sql`
    insert into feed_items (tenant_id, item_id, kind, author_id, topics, published_at, expires_at, title, views, opens, likes)
    select ${tenantId}::uuid, item_id, kind, author_id, string_to_array(topics, ','), published_at::timestamptz, expires_at::timestamptz, 'Item ' || item_id, views, opens, likes
    from unnest(${text(chunk.map((item) => item.itemId))}::text[], ${text(chunk.map((item) => item.kind))}::text[], ${text(chunk.map((item) => item.authorId))}::text[],
      ${text(chunk.map((item) => item.topics.join(',')))}::text[], ${text(chunk.map((item) => item.publishedAt))}::text[], ${sql.array(chunk.map((item) => item.expiresAt), pgArrayType.text)}::text[],
      ${ints(chunk.map((item) => item.views))}::int[], ${ints(chunk.map((item) => item.opens))}::int[], ${ints(chunk.map((item) => item.likes))}::int[])
      as i(item_id, kind, author_id, topics, published_at, expires_at, views, opens, likes)`);
  const newestFirst = [...items].sort((a, b) => b.publishedAt.localeCompare(a.publishedAt));

  const affinities = userIds.flatMap((userId) => [
    ...distinct(random, plan.topics, plan.topicsPerUser, 1.6).map((t) => ({ userId, dimension: 'topic', key: `topic-${t}` })),
    ...distinct(random, plan.authors, plan.authorsPerUser, 2).map((a) => ({ userId, dimension: 'author', key: `author-${a}` })),
  ]).map((row) => ({ ...row, score: 0.5 + 7.5 * random(), count: 1 + Math.floor(random() * 20), updatedAt: new Date(now - random() * plan.days * DAY_MS).toISOString() }));
  await inChunks(affinities, (chunk) => sql`
    insert into feed_affinities (user_id, tenant_id, dimension, key, score, count, updated_at)
    select user_id, ${tenantId}::uuid, dimension, key, score, count, updated_at::timestamptz
    from unnest(${sql.array(chunk.map((row) => row.userId), pgArrayType.uuid)}::uuid[], ${text(chunk.map((row) => row.dimension))}::text[], ${text(chunk.map((row) => row.key))}::text[],
      ${floats(chunk.map((row) => row.score))}::float8[], ${ints(chunk.map((row) => row.count))}::int[], ${text(chunk.map((row) => row.updatedAt))}::text[])
      as a(user_id, dimension, key, score, count, updated_at)`);

  const recent = newestFirst.slice(0, RECENT_ITEMS);
  const interactions = userIds.flatMap((userId) =>
    distinct(random, recent.length, plan.interactionsPerUser, 1.3).map((i) => {
      const at = (hoursAgo: number) => new Date(now - hoursAgo * 3_600_000).toISOString();
      const opened = random() < 0.3;
      return { userId, itemId: (recent[i] as (typeof items)[number]).itemId, viewedAt: at(1 + random() * 48), openedAt: opened ? at(random()) : null, likedAt: opened && random() < 0.3 ? at(random()) : null, hiddenAt: random() < 0.03 ? at(random()) : null };
    }),
  );
  const nullableText = (values: (string | null)[]) => sql.array(values, pgArrayType.text);
  await inChunks(interactions, (chunk) => sql`
    insert into feed_interactions (user_id, item_id, viewed_at, opened_at, liked_at, hidden_at)
    select user_id, item_id, viewed_at::timestamptz, opened_at::timestamptz, liked_at::timestamptz, hidden_at::timestamptz
    from unnest(${sql.array(chunk.map((row) => row.userId), pgArrayType.uuid)}::uuid[], ${text(chunk.map((row) => row.itemId))}::text[], ${text(chunk.map((row) => row.viewedAt))}::text[],
      ${nullableText(chunk.map((row) => row.openedAt))}::text[], ${nullableText(chunk.map((row) => row.likedAt))}::text[], ${nullableText(chunk.map((row) => row.hiddenAt))}::text[])
      as x(user_id, item_id, viewed_at, opened_at, liked_at, hidden_at)`);

  // Statistics as autovacuum would have them by now on a live system: plans are then made for the real sizes.
  await sql`analyze users, feed_items, feed_affinities, feed_interactions`;
  return {
    userIds,
    externalIds,
    items: newestFirst.map(({ itemId, topics }) => ({ itemId, topics })),
    rows: { users: userIds.length, items: items.length, affinities: affinities.length, interactions: interactions.length },
    seconds: (performance.now() - started) / 1000,
  };
}
