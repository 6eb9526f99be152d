import { describe, expect, it } from 'vitest';
import type { EventPage } from '../../src/contracts/api/events.js';
import type { Problem } from '../../src/contracts/api/problem.js';
import { apiRequest, mintTokens, postEvents } from '../support/api-client.js';
import { useTenantHub } from '../support/tenant-hub.js';

describe('events API', () => {
  const fixture = useTenantHub('events', { role: 'hub' });

  it('stores the same idempotency key sent 20 times concurrently once, and answers every request with its id', async () => {
    const body = { type: 'purchase.made', userId: 'buyer', value: 9.99, idempotencyKey: 'order-1001' };
    const responses = await Promise.all(Array.from({ length: 20 }, () => postEvents(fixture.hub.url, fixture.tenant.apiKey, body)));
    expect(responses.every((response) => response.status === 202)).toBe(true);
    const ids = new Set(responses.map((response) => response.body.accepted[0]?.id));
    expect(ids.size).toBe(1);
    expect(responses.filter((response) => response.body.accepted[0]?.duplicate === false)).toHaveLength(1);
    const rows = await fixture.sql`select id from events where idempotency_key = 'order-1001'`;
    expect(rows.map((row) => row.id as string)).toEqual([...ids]);
    const outboxRows = await fixture.sql`select 1 from outbox where event_id = ${[...ids][0] as string}`;
    expect(outboxRows).toHaveLength(1);
  });

  it('accepts a batch, deduplicating keys repeated inside it', async () => {
    const { status, body } = await postEvents(fixture.hub.url, fixture.tenant.apiKey, {
      events: [
        { type: 'step.taken', userId: 'walker', idempotencyKey: 'walk-1' },
        { type: 'step.taken', userId: 'walker', idempotencyKey: 'walk-1' },
        { type: 'step.taken', userId: 'walker', occurredAt: new Date(Date.now() - 3_600_000).toISOString(), data: { steps: 12 } },
      ],
    });
    expect(status).toBe(202);
    expect(body.accepted.map((event) => event.duplicate)).toEqual([false, true, false]);
    expect(body.accepted[1]?.id).toBe(body.accepted[0]?.id);
  });

  it('rejects a whole batch when any item is invalid, naming every bad path, and stores nothing', async () => {
    const before = (await fixture.sql`select count(*)::int as n from events`)[0]?.n as number;
    const response = await apiRequest(fixture.hub.url, 'POST', '/api/v1/events', {
      token: fixture.tenant.apiKey,
      body: {
        events: [
          { type: 'ok.event', userId: 'u' },
          { type: 'Bad Type', userId: 'u' },
          { type: 'ok.event', userId: 'u', occurredAt: '2020-01-01T00:00:00Z' },
          { type: 'ok.event', userId: 'u', value: 'high' },
          { type: 'ok.event', userId: 'u', data: { blob: 'x'.repeat(9_000) } },
          { type: 'ok.event', userId: 'u', extra: true },
        ],
      },
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as Problem;
    expect(problem.code).toBe('validation_failed');
    expect(problem.errors?.map((error) => error.path)).toEqual(
      expect.arrayContaining(['events.1.type', 'events.2.occurredAt', 'events.3.value', 'events.4.data', 'events.5']),
    );
    expect((await fixture.sql`select count(*)::int as n from events`)[0]?.n).toBe(before);
  });

  it('requires userId on API-key events, and caps a batch at 500', async () => {
    const missing = (await (await apiRequest(fixture.hub.url, 'POST', '/api/v1/events', { token: fixture.tenant.apiKey, body: { events: [{ type: 'a' }] } })).json()) as Problem;
    expect(missing.errors).toEqual([{ path: 'events.0.userId', message: expect.stringContaining('required') }]);
    const tooMany = await apiRequest(fixture.hub.url, 'POST', '/api/v1/events', {
      token: fixture.tenant.apiKey,
      body: { events: Array.from({ length: 501 }, () => ({ type: 'a', userId: 'u' })) },
    });
    expect(tooMany.status).toBe(400);
  });

  it('answers 413 over 1 MiB, 415 for non-JSON and 400 for malformed JSON, all as problem+json', async () => {
    const huge = await apiRequest(fixture.hub.url, 'POST', '/api/v1/events', { token: fixture.tenant.apiKey, body: JSON.stringify({ type: 'a', userId: 'u', data: { x: 'y'.repeat(1_100_000) } }) });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as Problem).code).toBe('payload_too_large');
    const text = await apiRequest(fixture.hub.url, 'POST', '/api/v1/events', { token: fixture.tenant.apiKey, body: 'type=a', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    const malformed = await apiRequest(fixture.hub.url, 'POST', '/api/v1/events', { token: fixture.tenant.apiKey, body: '{"type":' });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toContain('application/problem+json');
  });

  it('lists events with cursor pagination and filters; a member sees only its own', async () => {
    const member = await mintTokens(fixture.hub.url, fixture.tenant.apiKey, { userId: 'pager' });
    for (let i = 0; i < 5; i += 1) await postEvents(fixture.hub.url, member.accessToken, { type: 'page.viewed', value: i });
    await postEvents(fixture.hub.url, fixture.tenant.apiKey, { type: 'page.viewed', userId: 'someone-else' });

    const pages: EventPage[] = [];
    let after: string | null = null;
    do {
      const query: string = `/api/v1/events?type=page.viewed&limit=2${after ? `&after=${after}` : ''}`;
      const page = (await (await apiRequest(fixture.hub.url, 'GET', query, { token: member.accessToken })).json()) as EventPage;
      pages.push(page);
      after = page.next;
    } while (after);
    const items = pages.flatMap((page) => page.items);
    expect(pages.map((page) => page.items.length)).toEqual([2, 2, 1]);
    expect(items.map((item) => item.value)).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(items.map((item) => item.userId))).toEqual(new Set(['pager']));

    const tenantWide = (await (await apiRequest(fixture.hub.url, 'GET', '/api/v1/events?type=page.viewed&limit=200', { token: fixture.tenant.apiKey })).json()) as EventPage;
    expect(tenantWide.items).toHaveLength(6);
    const badLimit = await apiRequest(fixture.hub.url, 'GET', '/api/v1/events?limit=201', { token: fixture.tenant.apiKey });
    expect(badLimit.status).toBe(400);
  });
});

describe('rate limits', () => {
  const fixture = useTenantHub('limited', {
    role: 'hub',
    env: { RATE_LIMIT_USER_PER_SECOND: '2', RATE_LIMIT_USER_BURST: '3', RATE_LIMIT_TENANT_PER_SECOND: '5', RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '3' },
  });

  async function firstRefusal(send: () => Promise<Response>, attempts: number) {
    const statuses: number[] = [];
    for (let i = 0; i < attempts; i += 1) {
      const response = await send();
      statuses.push(response.status);
      if (response.status === 429) return { statuses, response };
    }
    throw new Error(`never limited: ${statuses.join(',')}`);
  }

  it('limits a user to its sustained rate plus burst, with Retry-After and RateLimit headers', async () => {
    const user = await mintTokens(fixture.hub.url, fixture.tenant.apiKey, { userId: 'eager' });
    const { statuses, response } = await firstRefusal(() => apiRequest(fixture.hub.url, 'POST', '/api/v1/events', { token: user.accessToken, body: { type: 'tap' } }), 10);
    expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(response.headers.get('ratelimit-limit')).toBe('3');
    expect(response.headers.get('ratelimit-remaining')).toBe('0');
    expect(response.headers.get('ratelimit-reset')).not.toBeNull();
    expect(((await response.json()) as Problem).code).toBe('rate_limited');
  });

  it('limits API-key calls, token minting included, by the tenant budget', async () => {
    const { statuses } = await firstRefusal(() => apiRequest(fixture.hub.url, 'POST', '/api/v1/tokens', { token: fixture.tenant.apiKey, body: { userId: 'mint' } }), 20);
    expect(statuses.filter((status) => status === 201).length).toBeLessThanOrEqual(5);
  });

  it('answers repeated failed authentications from one address with 429', async () => {
    const { statuses } = await firstRefusal(() => apiRequest(fixture.hub.url, 'GET', '/api/v1/events', { token: 'wrong' }), 10);
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
  });
});

describe('input Postgres cannot store', () => {
  const fixture = useTenantHub('nul', { role: 'hub' });

  it.each([
    ['userId', { type: 'a', userId: 'u\u0000' }],
    ['idempotencyKey', { type: 'a', userId: 'u', idempotencyKey: 'k\u0000' }],
    ['data', { type: 'a', userId: 'u', data: { note: 'x\u0000y' } }],
  ])('refuses a NUL character in %s with 400, not 500', async (path, body) => {
    const response = await apiRequest(fixture.hub.url, 'POST', '/api/v1/events', { token: fixture.tenant.apiKey, body });
    expect(response.status).toBe(400);
    expect(((await response.json()) as Problem).errors?.map((error) => error.path)).toEqual([path]);
  });
});
