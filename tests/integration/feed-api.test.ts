import { beforeAll, describe, expect, it } from 'vitest';
import type { FeedResponse } from '../../src/contracts/api/feed.js';
import type { Problem } from '../../src/contracts/api/problem.js';
import { engineRulesSchema } from '../../src/contracts/api/rules.js';
import { RulesCache } from '../../src/repositories/engine-rules.js';
import { FeedStore } from '../../src/repositories/feeds.js';
import { createTenant, type CreatedTenant } from '../../src/repositories/tenants.js';
import { FeedRecomputer } from '../../src/services/feed-recompute.js';
import { apiJson, apiRequest, mintTokens } from '../support/api-client.js';
import { useTenantHub } from '../support/tenant-hub.js';
import { until } from '../support/until.js';

type Answer = Partial<FeedResponse & Problem & { upserted: number; quietHours: unknown }>;

const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
const item = (id: string, extra: Record<string, unknown> = {}) => ({ id, kind: 'lesson', authorId: `author-${id}`, topics: ['algebra'], publishedAt: hoursAgo(1), title: `Lesson ${id}`, ...extra });

describe('feed API: items, ranked pages with explanations, stable cursors, preferences', () => {
  // A 1 s debounce, so the recomputation a new item asks for is seen within the test.
  const fixture = useTenantHub('feed-api', { role: 'all', rules: engineRulesSchema.parse({ feed: { recomputeDebounceSeconds: 1 } }) });
  let url: string;
  let apiKey: string;
  let recomputer: FeedRecomputer;
  let other: CreatedTenant;

  beforeAll(async () => {
    url = fixture.hub.url;
    apiKey = fixture.tenant.apiKey;
    const { sql, db } = fixture.hub.context.database;
    recomputer = new FeedRecomputer({ sql, store: new FeedStore(sql), rules: new RulesCache(sql) });
    other = await createTenant(db, { name: 'feed-api-other', actor: 'test' });
  });

  const call = (method: string, path: string, token: string | undefined, body?: unknown) => apiJson<Answer>(url, method, path, { token, body });
  const postItems = (body: unknown, token: string = apiKey) => call('POST', '/api/v1/feed/items', token, body);
  const myFeed = (token: string, query = '') => call('GET', `/api/v1/me/feed${query}`, token);
  const tokenFor = async (userId: string, role?: 'admin') => (await mintTokens(url, apiKey, { userId, ...(role ? { role } : {}) })).accessToken;
  const userIdOf = async (externalId: string) => (await fixture.sql<{ id: string }[]>`select id from users where tenant_id = ${fixture.tenant.tenantId} and external_id = ${externalId}`)[0]?.id as string;
  const stored = async (itemId: string, tenantId = fixture.tenant.tenantId) =>
    (await fixture.sql<{ title: string | null; topics: string[]; kind: string; updated_at: Date }[]>`select title, topics, kind, updated_at from feed_items where tenant_id = ${tenantId} and item_id = ${itemId}`)[0];
  const ids = (feed: Answer) => (feed.entries ?? []).map((entry) => entry.item.id);

  /** Every entry of the feed, page by page, and the number of pages. */
  async function walk(token: string, limit: number) {
    const entries: FeedResponse['entries'] = [];
    let cursor: string | null | undefined;
    let pages = 0;
    do {
      const page = await myFeed(token, `?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      expect(page.body.entries?.length).toBeLessThanOrEqual(limit);
      entries.push(...(page.body.entries ?? []));
      cursor = page.body.nextCursor;
      pages += 1;
    } while (cursor);
    return { entries, pages };
  }

  describe('POST /api/v1/feed/items', () => {
    it('upserts one item or a batch; a repeated id keeps the last; an unchanged item is not counted again', async () => {
      const publishedAt = hoursAgo(1);
      expect((await postItems(item('u-1', { publishedAt }))).body).toEqual({ upserted: 1 });
      const batch = await postItems({ items: [item('u-2', { title: 'first' }), item('u-3'), item('u-2', { title: 'last' })] });
      expect(batch.status).toBe(202);
      expect(batch.body).toEqual({ upserted: 2 });
      expect((await stored('u-2'))?.title).toBe('last');

      const before = await stored('u-1');
      expect((await postItems(item('u-1', { publishedAt }))).body).toEqual({ upserted: 0 });
      expect((await stored('u-1'))?.updated_at).toEqual(before?.updated_at);

      expect((await postItems(item('u-1', { publishedAt, kind: 'post', title: 'Renamed', topics: ['geometry', 'geometry', 'proofs'] }))).body).toEqual({ upserted: 1 });
      const updated = await stored('u-1');
      expect(updated).toMatchObject({ kind: 'post', title: 'Renamed', topics: ['geometry', 'proofs'] });
      expect(updated?.updated_at.getTime()).toBeGreaterThan(before?.updated_at.getTime() ?? Infinity);
    });

    it('recomputes the feeds of users whose affinities match the new items (through the workers)', async () => {
      await tokenFor('fan-of-knots');
      const userId = await userIdOf('fan-of-knots');
      await fixture.sql`insert into feed_affinities (user_id, tenant_id, dimension, key, score, count, updated_at) values (${userId}, ${fixture.tenant.tenantId}, 'topic', 'knots', 3, 3, now())`;
      expect((await postItems(item('knot-1', { topics: ['knots'] }))).body).toEqual({ upserted: 1 });
      await until(async () => (await fixture.sql<{ version: number }[]>`select version from feed_states where user_id = ${userId}`)[0]?.version ?? 0, (version) => version > 0);
      const entries = await fixture.sql<{ item_id: string }[]>`select item_id from feed_entries where user_id = ${userId} order by position`;
      expect(entries[0]?.item_id).toBe('knot-1');
    });

    it('refuses bad input with a 400 naming the field, all or nothing', async () => {
      const { publishedAt: _omitted, ...noDate } = item('v-1');
      const missing = await postItems(noDate);
      expect(missing.status).toBe(400);
      expect(missing.body.errors?.map((error) => error.path)).toEqual(['publishedAt']);

      const badTopics = await postItems({ items: [item('v-2'), item('v-3', { topics: ['ok', '#nope'] })] });
      expect(badTopics.status).toBe(400);
      expect(badTopics.body.errors?.map((error) => error.path)).toEqual(['items.1.topics.1']);
      expect(await stored('v-2')).toBeUndefined();

      const tooMany = await postItems({ items: Array.from({ length: 501 }, (_, index) => item(`many-${index}`)) });
      expect(tooMany.status).toBe(400);
      expect(tooMany.body.errors?.map((error) => error.path)).toEqual(['items']);

      const unknownField = await postItems(item('v-4', { colour: 'red' }));
      expect(unknownField.status).toBe(400);
    });

    it('answers 413 over the body limit, 415 for another media type, 401 without a token and 403 for a user token', async () => {
      const big = await apiRequest(url, 'POST', '/api/v1/feed/items', { token: apiKey, body: { items: Array.from({ length: 200 }, (_, index) => item(`big-${index}`, { data: { text: 'x'.repeat(6000) } })) } });
      expect(big.status).toBe(413);
      expect(big.headers.get('content-type')).toMatch(/^application\/problem\+json/);

      const text = await apiRequest(url, 'POST', '/api/v1/feed/items', { token: apiKey, body: JSON.stringify(item('t-1')), headers: { 'content-type': 'text/plain' } });
      expect(text.status).toBe(415);
      expect((await postItems(item('t-2'), '')).status).toBe(401);
      const member = await postItems(item('t-3'), await tokenFor('member-poster'));
      expect(member.status).toBe(403);
      expect(member.body.code).toBe('forbidden');
      expect(await stored('t-3')).toBeUndefined();
    });
  });

  describe('GET /api/v1/me/feed and /api/v1/users/{userId}/feed', () => {
    beforeAll(async () => {
      await postItems({ items: Array.from({ length: 7 }, (_, index) => item(`f-${index}`, { publishedAt: hoursAgo(index + 2), topics: [`topic-${index % 3}`] })) });
    });

    it('computes a fresh user\'s feed on first read, each entry explained: contributions sum to the score', async () => {
      const token = await tokenFor('fresh-reader');
      const feed = await myFeed(token);
      expect(feed.status).toBe(200);
      expect(ids(feed.body)).toEqual(expect.arrayContaining(['f-0', 'f-1', 'f-6']));
      expect(feed.body).toMatchObject({ formulaVersion: 1, caughtUp: false });
      expect(Date.parse(feed.body.computedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
      for (const entry of feed.body.entries ?? []) {
        expect(entry.components.map((component) => component.name).sort()).toEqual(['author', 'novelty', 'quality', 'recency', 'topic']);
        expect(entry.components.reduce((sum, component) => sum + component.contribution, 0)).toBeCloseTo(entry.score, 9);
        expect(entry.finalScore).toBeCloseTo(entry.score * entry.diversityMultiplier, 9);
        expect(entry.why.length).toBeGreaterThan(0);
        for (const reason of entry.why) expect(reason.text.length).toBeGreaterThan(0);
      }
      const positions = (feed.body.entries ?? []).map((entry) => entry.position);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));

      const viaKey = await call('GET', '/api/v1/users/fresh-reader/feed', apiKey);
      expect(viaKey.status).toBe(200);
      expect(ids(viaKey.body)).toEqual(ids(feed.body));
      expect(viaKey.body.computedAt).toBe(feed.body.computedAt);
    });

    it('the tenant-wide read: 404 for an unknown user, 403 for a member, 401 without a token; an API key has no /me feed', async () => {
      expect((await call('GET', '/api/v1/users/nobody-here/feed', apiKey)).status).toBe(404);
      expect((await call('GET', '/api/v1/users/fresh-reader/feed', await tokenFor('nosy-member'))).status).toBe(403);
      expect((await call('GET', '/api/v1/users/fresh-reader/feed', undefined)).status).toBe(401);
      expect((await call('GET', '/api/v1/me/feed', apiKey)).status).toBe(403);
      expect((await call('GET', '/api/v1/me/feed?limit=0', await tokenFor('fresh-reader'))).status).toBe(400);
    });

    it('pages of 2 walk the whole feed, in the order of one big page', async () => {
      const token = await tokenFor('pager');
      const whole = await myFeed(token, '?limit=100');
      expect(whole.body.nextCursor).toBeNull();
      const { entries, pages } = await walk(token, 2);
      expect(entries.map((entry) => entry.item.id)).toEqual(ids(whole.body));
      expect(pages).toBe(Math.max(1, Math.ceil(entries.length / 2)));
    });

    it('a cursor keeps reading its own version while a newer one is computed, and 410 once it is pruned', async () => {
      const token = await tokenFor('steady-reader');
      const userId = await userIdOf('steady-reader');
      const whole = await myFeed(token, '?limit=100');
      const first = await myFeed(token, '?limit=2');
      expect(ids(first.body)).toEqual(ids(whole.body).slice(0, 2));

      await postItems(item('brand-new', { publishedAt: hoursAgo(0) }));
      const newer = await recomputer.recompute(fixture.tenant.tenantId, userId);
      expect(ids((await myFeed(token, '?limit=100')).body)).toContain('brand-new');

      const second = await myFeed(token, `?limit=2&cursor=${first.body.nextCursor}`);
      expect(second.status).toBe(200);
      expect(ids(second.body)).toEqual(ids(whole.body).slice(2, 4));
      expect(second.body.computedAt).toBe(whole.body.computedAt);

      // Only the last few versions are kept: recompute until the cursor's is gone.
      let version = newer?.version ?? 0;
      while (version < (newer?.version ?? 0) + 2) version = (await recomputer.recompute(fixture.tenant.tenantId, userId))?.version ?? Infinity;
      const gone = await apiRequest(url, 'GET', `/api/v1/me/feed?limit=2&cursor=${second.body.nextCursor}`, { token });
      expect(gone.status).toBe(410);
      expect(gone.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await gone.json()).toMatchObject({ status: 410, code: 'feed_moved_on' });

      const forged = await myFeed(token, '?cursor=not-a-cursor');
      expect(forged.status).toBe(400);
      expect(forged.body.errors?.map((error) => error.path)).toEqual(['cursor']);
    });

    it('a deleted item leaves every stored feed at once; deleting it again is a 404', async () => {
      await postItems(item('doomed', { publishedAt: hoursAgo(0) }));
      const token = await tokenFor('doomed-reader');
      const before = await myFeed(token, '?limit=100');
      expect(ids(before.body)).toContain('doomed');

      const deleted = await apiRequest(url, 'DELETE', '/api/v1/feed/items/doomed', { token: apiKey });
      expect(deleted.status).toBe(204);
      const after = await myFeed(token, '?limit=100');
      expect(after.body.computedAt).toBe(before.body.computedAt);
      expect(ids(after.body)).toEqual(ids(before.body).filter((id) => id !== 'doomed'));
      expect(ids((await call('GET', '/api/v1/users/fresh-reader/feed?limit=100', apiKey)).body)).not.toContain('doomed');

      const again = await call('DELETE', '/api/v1/feed/items/doomed', apiKey);
      expect(again.status).toBe(404);
      expect(again.body.code).toBe('not_found');
      expect((await call('DELETE', '/api/v1/feed/items/f-0', await tokenFor('doomed-reader'))).status).toBe(403);
    });

    it('an item the user hid since the computation is skipped when read', async () => {
      const token = await tokenFor('hider');
      const before = await myFeed(token, '?limit=100');
      const [hidden] = ids(before.body);
      await fixture.sql`insert into feed_interactions (user_id, item_id, hidden_at) values (${await userIdOf('hider')}, ${hidden as string}, now())`;
      expect(ids((await myFeed(token, '?limit=100')).body)).toEqual(ids(before.body).slice(1));
    });

    it("another tenant's items never appear, even under the same item id", async () => {
      const otherItems = await apiJson<Answer>(url, 'POST', '/api/v1/feed/items', { token: other.apiKey, body: { items: [item('f-0', { title: 'Not yours' }), item('elsewhere', { publishedAt: hoursAgo(0) })] } });
      expect(otherItems.body).toEqual({ upserted: 2 });
      const token = await tokenFor('tenant-bound');
      const feed = await myFeed(token, '?limit=100');
      expect(ids(feed.body)).not.toContain('elsewhere');
      expect(feed.body.entries?.filter((entry) => entry.item.id === 'f-0').map((entry) => entry.item.title)).toEqual(['Lesson f-0']);
      expect(await apiRequest(url, 'DELETE', '/api/v1/feed/items/elsewhere', { token: apiKey }).then((response) => response.status)).toBe(404);
      expect(await stored('elsewhere', other.tenantId)).toBeDefined();
    });

    it('says caughtUp once every fresh item was opened, and still returns the entries', async () => {
      const token = await tokenFor('completionist');
      const userId = await userIdOf('completionist');
      expect((await myFeed(token)).body.caughtUp).toBe(false);
      await fixture.sql`
        insert into feed_interactions (user_id, item_id, viewed_at, opened_at)
        select ${userId}, item_id, now(), now() from feed_items where tenant_id = ${fixture.tenant.tenantId}`;
      await recomputer.recompute(fixture.tenant.tenantId, userId);
      const feed = await myFeed(token);
      expect(feed.body.caughtUp).toBe(true);
      expect(feed.body.entries?.length).toBeGreaterThan(0);
    });
  });

  describe('/api/v1/me/feed/preferences', () => {
    it('round-trips the user\'s own quiet hours; null goes back to the tenant\'s', async () => {
      const token = await tokenFor('night-owl');
      const path = '/api/v1/me/feed/preferences';
      expect((await call('GET', path, token)).body).toEqual({ quietHours: null });
      const set = await call('PUT', path, token, { quietHours: { start: '21:30', end: '08:00' } });
      expect(set.status).toBe(200);
      expect(set.body).toEqual({ quietHours: { start: '21:30', end: '08:00' } });
      expect((await call('GET', path, token)).body).toEqual({ quietHours: { start: '21:30', end: '08:00' } });
      const [state] = await fixture.sql<{ quiet_start: string; quiet_end: string; version: number }[]>`select quiet_start, quiet_end, version from feed_states where user_id = ${await userIdOf('night-owl')}`;
      expect(state).toEqual({ quiet_start: '21:30', quiet_end: '08:00', version: 0 });

      // The state row made for the preferences holds no computed version yet: the first read computes one.
      const feed = await myFeed(token);
      expect(feed.body.entries?.length).toBeGreaterThan(0);

      expect((await call('PUT', path, token, { quietHours: null })).body).toEqual({ quietHours: null });
      expect((await call('GET', path, token)).body).toEqual({ quietHours: null });
    });

    it('refuses bad times with a 400 naming the field, the API key with a 403', async () => {
      const token = await tokenFor('bad-clock');
      const path = '/api/v1/me/feed/preferences';
      const bad = await call('PUT', path, token, { quietHours: { start: '25:00', end: '07:00' } });
      expect(bad.status).toBe(400);
      expect(bad.body.errors?.map((error) => error.path)).toEqual(['quietHours.start']);
      expect((await call('PUT', path, token, { quietHours: { start: '22:00' } })).status).toBe(400);
      expect((await call('PUT', path, token, {})).status).toBe(400);
      expect((await call('PUT', path, apiKey, { quietHours: null })).status).toBe(403);
      expect((await call('GET', path, apiKey)).status).toBe(403);
    });
  });
});
