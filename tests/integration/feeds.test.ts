import type postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { engineRulesSchema } from '../../src/contracts/api/rules.js';
import { FeedStore } from '../../src/repositories/feeds.js';
import { RulesCache } from '../../src/repositories/engine-rules.js';
import { createTenant, type CreatedTenant } from '../../src/repositories/tenants.js';
import { FeedRecomputer } from '../../src/services/feed-recompute.js';
import { postEvents } from '../support/api-client.js';
import { useTenantHub } from '../support/tenant-hub.js';
import type { TestHub } from '../support/test-env.js';
import { until } from '../support/until.js';

const HOUR = 3_600_000;
const rules = engineRulesSchema.parse({ feed: { recomputeDebounceSeconds: 1 } });

describe('personalised feeds', () => {
  const fixture = useTenantHub('feeds', { role: 'all', rules });
  let hub: TestHub;
  let tenant: CreatedTenant;
  let sql: postgres.Sql;
  let store: FeedStore;

  /** Items published `hoursAgo` back, one per (topic, author) given. */
  async function addItems(tenantId: string, items: { id: string; topics: string[]; authorId: string; hoursAgo: number; title?: string }[]) {
    for (const item of items) {
      await sql`insert into feed_items (tenant_id, item_id, kind, author_id, topics, published_at, title)
        values (${tenantId}, ${item.id}, 'lesson', ${item.authorId}, ${item.topics}, ${new Date(Date.now() - item.hoursAgo * HOUR).toISOString()}, ${item.title ?? item.id})
        on conflict do nothing`;
    }
  }

  async function userId(externalId: string, timezone = 'UTC'): Promise<string> {
    const [row] = await sql<{ id: string }[]>`insert into users (tenant_id, external_id, timezone) values (${tenant.tenantId}, ${externalId}, ${timezone})
      on conflict (tenant_id, external_id) do update set timezone = excluded.timezone returning id`;
    return (row as { id: string }).id;
  }

  /** The newest computed version of a user's feed, in order. */
  async function latestFeed(user: string) {
    return sql<{ item_id: string; topics: string[]; author_id: string; position: number; components: { name: string; contribution: number }[]; why: { component: string; text: string }[] }[]>`
      select e.item_id, i.topics, i.author_id, e.position, e.components, e.why from feed_entries e
      join feed_items i on i.tenant_id = ${tenant.tenantId} and i.item_id = e.item_id
      where e.user_id = ${user} and e.version = (select max(version) from feed_entries where user_id = ${user}) order by e.position`;
  }

  const versionOf = async (user: string) => Number((await sql`select version from feed_states where user_id = ${user}`)[0]?.version ?? 0);
  const feedUpdates = (user: string) => sql<{ payload: { changed: string[]; version: number } }[]>`select payload from user_updates where user_id = ${user} and type = 'feed:updated' order by seq`;
  const recomputerAt = (at: Date) => new FeedRecomputer({ sql: hub.context.database.sql, store, rules: new RulesCache(hub.context.database.sql) }, () => at);

  beforeAll(async () => {
    ({ hub, tenant, sql } = fixture);
    store = new FeedStore(hub.context.database.sql);
    const topics = ['algebra', 'geometry', 'history'];
    await addItems(
      tenant.tenantId,
      topics.flatMap((topic, t) => Array.from({ length: 8 }, (_, i) => ({ id: `${topic}-${i}`, topics: [topic], authorId: `author-${(i + t) % 6}`, hoursAgo: 1 + i * 3 + t }))),
    );
  });

  it('raises the items of a topic a user keeps completing, and says why', async () => {
    const ana = await userId('ana');
    await recomputerAt(new Date()).recompute(tenant.tenantId, ana);
    const before = await latestFeed(ana);
    const meanPosition = (rows: typeof before, topic: string) => rows.filter((row) => row.topics.includes(topic)).reduce((sum, row) => sum + row.position, 0) / 8;
    for (let i = 0; i < 4; i += 1) {
      expect((await postEvents(hub.url, tenant.apiKey, { type: 'lesson.completed', userId: 'ana', data: { topics: ['algebra'] }, idempotencyKey: `ana-algebra-${i}` })).status).toBe(202);
    }
    // The engine applies the events and the worker recomputes the feed after the tenant's debounce (1 s here).
    await until(async () => (await latestFeed(ana))[0]?.why.map((reason) => reason.text) ?? [], (texts) => texts.includes('because you engaged with algebra 4 times'), 20_000);
    const after = await latestFeed(ana);
    expect(meanPosition(after, 'algebra')).toBeLessThan(meanPosition(before, 'algebra'));
    // Diversity still spreads topics, but algebra leads and holds more of the top than before.
    const inTop = (rows: typeof before) => rows.slice(0, 6).filter((row) => row.topics.includes('algebra')).length;
    expect(after[0]?.topics).toContain('algebra');
    expect(inTop(after)).toBeGreaterThan(inTop(before));
    const topic = after[0]?.components.find((component) => component.name === 'topic');
    expect(topic?.contribution).toBeGreaterThan(0);
    expect(after[0]?.why.map((reason) => reason.text)).toContain('because you engaged with algebra 4 times');
    const [affinity] = await sql`select score, count from feed_affinities where user_id = ${ana} and dimension = 'topic' and key = 'algebra'`;
    expect(affinity).toMatchObject({ count: 4 });
  });

  it('removes a hidden item and lowers its author', async () => {
    const ben = await userId('ben');
    const item = 'geometry-0';
    const [{ author_id: author } = { author_id: '' }] = await sql<{ author_id: string }[]>`select author_id from feed_items where tenant_id = ${tenant.tenantId} and item_id = ${item}`;
    for (const [i, type] of ['feed.opened', 'feed.liked'].entries()) {
      // geometry-6 has the same author as geometry-0.
      await postEvents(hub.url, tenant.apiKey, { type, userId: 'ben', data: { itemId: 'geometry-6' }, idempotencyKey: `ben-${i}` });
    }
    const authorScore = async () => Number((await sql`select score from feed_affinities where user_id = ${ben} and dimension = 'author' and key = ${author}`)[0]?.score ?? 0);
    await until(authorScore, (score) => score !== 0, 20_000);
    const liked = await authorScore();
    const version = await versionOf(ben);
    expect((await postEvents(hub.url, tenant.apiKey, { type: 'feed.hidden', userId: 'ben', data: { itemId: item }, idempotencyKey: 'ben-hide' })).status).toBe(202);
    await until(() => versionOf(ben), (current) => current > version, 20_000);
    await until(authorScore, (score) => score < liked, 20_000);
    const feed = await latestFeed(ben);
    expect(feed.map((row) => row.item_id)).not.toContain(item);
    expect(await authorScore()).toBeLessThan(liked);
    // Each user counts once per action on the item.
    const counts = await sql`select item_id, opens, likes, hides from feed_items where tenant_id = ${tenant.tenantId} and item_id in ('geometry-6', ${item}) order by item_id`;
    expect(counts).toEqual([
      { item_id: item, opens: 0, likes: 0, hides: 1 },
      { item_id: 'geometry-6', opens: 1, likes: 1, hides: 0 },
    ]);
  });

  it('holds a feed:updated during quiet hours and sends it once after, coalesced; the daily budget holds', async () => {
    // Paris: quiet 22:00-07:00 local (the tenant's default). 2026-12-02 is winter time, UTC+1.
    const cleo = await userId('cleo', 'Europe/Paris');
    const dayTime = new Date('2026-12-02T10:00:00Z');
    expect((await recomputerAt(dayTime).recompute(tenant.tenantId, cleo))?.announcement.kind).toBe('pushed');

    const night = new Date('2026-12-02T22:30:00Z'); // 23:30 in Paris
    await addItems(tenant.tenantId, [{ id: 'night-1', topics: ['algebra'], authorId: 'author-night', hoursAgo: -10 }]);
    const held = await recomputerAt(night).recompute(tenant.tenantId, cleo);
    expect(held?.announcement).toMatchObject({ kind: 'held', reason: 'quiet_hours', releaseAt: new Date('2026-12-03T06:00:00Z') });
    await addItems(tenant.tenantId, [{ id: 'night-2', topics: ['history'], authorId: 'author-night2', hoursAgo: -10.5 }]);
    expect((await recomputerAt(new Date('2026-12-03T01:00:00Z')).recompute(tenant.tenantId, cleo))?.announcement.kind).toBe('held');
    expect(await feedUpdates(cleo)).toHaveLength(1);

    const morning = new Date('2026-12-03T06:00:30Z');
    const released = await recomputerAt(morning).recompute(tenant.tenantId, cleo);
    expect(released?.announcement.kind).toBe('pushed');
    const updates = await feedUpdates(cleo);
    expect(updates).toHaveLength(2);
    // One update for the night, naming both items that arrived during it.
    expect(updates[1]?.payload.changed).toEqual(expect.arrayContaining(['night-1', 'night-2']));

    // Budget: 3 a day. The morning push was the first of Dec 3; two more go, the fourth is held to the next morning.
    const pushes: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      await addItems(tenant.tenantId, [{ id: `day-${i}`, topics: ['geometry'], authorId: `author-day-${i}`, hoursAgo: -20 - i }]);
      pushes.push((await recomputerAt(new Date(morning.getTime() + (i + 1) * HOUR)).recompute(tenant.tenantId, cleo))?.announcement.kind ?? 'none');
    }
    expect(pushes).toEqual(['pushed', 'pushed', 'held']);
    const state = (await sql`select held_reason, held_until from feed_states where user_id = ${cleo}`)[0];
    expect(state?.held_reason).toBe('budget');
    expect(new Date(state?.held_until as string).toISOString()).toBe('2026-12-04T06:00:00.000Z');
    expect(await feedUpdates(cleo)).toHaveLength(4);
  });

  it('says caughtUp once every fresh item was opened, and shows no other tenant’s items', async () => {
    const other = await createTenant(hub.context.database.db, { name: 'feeds-other', actor: 'test' });
    await addItems(other.tenantId, [{ id: 'foreign-algebra', topics: ['algebra'], authorId: 'author-0', hoursAgo: 0.5 }]);
    const dan = await userId('dan');
    const fresh = await sql<{ item_id: string }[]>`select item_id from feed_items where tenant_id = ${tenant.tenantId} and published_at > now() - interval '72 hours' and published_at <= now()`;
    const first = await recomputerAt(new Date()).recompute(tenant.tenantId, dan);
    expect(first?.caughtUp).toBe(false);
    for (const { item_id: itemId } of fresh) await postEvents(hub.url, tenant.apiKey, { type: 'feed.opened', userId: 'dan', data: { itemId }, idempotencyKey: `dan-${itemId}` });
    await until(async () => Number((await sql`select count(*)::int as n from feed_interactions where user_id = ${dan} and opened_at is not null`)[0]?.n), (n) => n === fresh.length, 20_000);
    const caught = await recomputerAt(new Date()).recompute(tenant.tenantId, dan);
    expect(caught?.caughtUp).toBe(true);
    expect((await sql`select caught_up from feed_states where user_id = ${dan}`)[0]?.caught_up).toBe(true);
    const everyone = await sql`select distinct item_id from feed_entries where item_id = 'foreign-algebra'`;
    expect(everyone).toHaveLength(0);
  });
});
