import type postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Leaderboard } from '../../src/contracts/api/campaigns.js';
import { Leaderboards } from '../../src/repositories/leaderboards.js';
import type { CreatedTenant } from '../../src/repositories/tenants.js';
import { apiJson, mintTokens, postEvents } from '../support/api-client.js';
import { useTenantHub } from '../support/tenant-hub.js';
import type { TestHub } from '../support/test-env.js';
import { until } from '../support/until.js';

const hourFromNow = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();

describe('campaigns', () => {
  const fixture = useTenantHub('campaigns');
  let hub: TestHub;
  let tenant: CreatedTenant;
  let sql: postgres.Sql;
  beforeAll(() => ({ hub, tenant, sql } = fixture));

  const sprint = { key: 'sprint', name: 'Sprint week', startsAt: hourFromNow(-1), endsAt: hourFromNow(24), pointRules: { 'run.done': 10, '*': 1 }, tiers: [{ points: 20, reward: { kind: 'box', table: 'standard' } }] };

  it('is managed by the API key and admins, validated and audited', async () => {
    const member = await mintTokens(hub.url, tenant.apiKey, { userId: 'member' });
    expect((await apiJson(hub.url, 'POST', '/api/v1/admin/campaigns', { token: member.accessToken, body: sprint })).status).toBe(403);

    const invalid = await apiJson<{ errors: { path: string }[] }>(hub.url, 'POST', '/api/v1/admin/campaigns', {
      token: tenant.apiKey,
      body: { ...sprint, endsAt: hourFromNow(-2), tiers: [{ points: 5, reward: { kind: 'points', amount: 1 } }, { points: 5, reward: { kind: 'points', amount: 1 } }] },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errors.map((error) => error.path).sort()).toEqual(['endsAt', 'tiers']);
    const unknownBox = await apiJson<{ errors: { path: string }[] }>(hub.url, 'POST', '/api/v1/admin/campaigns', {
      token: tenant.apiKey,
      body: { ...sprint, tiers: [{ points: 5, reward: { kind: 'box', table: 'gold' } }] },
    });
    expect(unknownBox.body.errors).toEqual([expect.objectContaining({ path: 'tiers.0.reward.table' })]);

    expect((await apiJson(hub.url, 'POST', '/api/v1/admin/campaigns', { token: tenant.apiKey, body: sprint })).status).toBe(201);
    expect((await apiJson(hub.url, 'POST', '/api/v1/admin/campaigns', { token: tenant.apiKey, body: sprint })).status).toBe(409);
    const renamed = await apiJson(hub.url, 'PUT', '/api/v1/admin/campaigns/sprint', { token: tenant.apiKey, body: { ...sprint, name: 'Sprint fortnight' } });
    expect(renamed).toMatchObject({ status: 200, body: { name: 'Sprint fortnight' } });
    expect((await apiJson(hub.url, 'PUT', '/api/v1/admin/campaigns/other', { token: tenant.apiKey, body: sprint })).status).toBe(400);
    expect((await apiJson(hub.url, 'GET', '/api/v1/campaigns', { token: member.accessToken })).body).toMatchObject({ campaigns: [{ key: 'sprint' }] });
    const audit = await sql`select action from audit_log where tenant_id = ${tenant.tenantId} and action like 'campaign.%' order by id`;
    expect(audit.map((row) => String(row.action))).toEqual(['campaign.created', 'campaign.updated']);
  });

  it('keeps the higher score when two hand-offs land out of order', async () => {
    const boards = new Leaderboards(hub.context.redis, hub.config.REDIS_PREFIX);
    const score = (points: number) => ({ tenantId: tenant.tenantId, campaignKey: 'order-test', userId: 'u1', points });
    await boards.setScores([score(11)]);
    await boards.setScores([score(10)]);
    expect(await boards.top(tenant.tenantId, 'order-test', 1)).toEqual([{ rank: 1, userId: 'u1', points: 11 }]);
    await boards.remove(tenant.tenantId, 'order-test');
  });

  it('ranks users on the leaderboard with the caller, and rebuilds it from Postgres when Redis lost it', async () => {
    const plan = { ana: ['run.done', 'run.done', 'run.done'], ben: ['run.done', 'walk.done'], cal: ['walk.done'] };
    for (const [user, types] of Object.entries(plan)) {
      for (const type of types) await postEvents(hub.url, tenant.apiKey, { type, userId: user });
    }
    const tokens = await mintTokens(hub.url, tenant.apiKey, { userId: 'ben', displayName: 'Ben' });
    const read = () => apiJson<Leaderboard>(hub.url, 'GET', '/api/v1/campaigns/sprint/leaderboard?limit=2', { token: tokens.accessToken });
    // Polled slowly enough to stay inside the member's own rate limit (a 429 has no entries).
    const board = await until(
      async () => (await new Promise((resolve) => setTimeout(resolve, 150)), read()),
      (answer) => answer.status === 200 && answer.body.entries.length === 2 && answer.body.entries[0]?.points === 30 && answer.body.me?.points === 11,
    );
    expect(board.body).toEqual({
      campaign: 'sprint',
      entries: [
        { rank: 1, userId: 'ana', displayName: null, points: 30 },
        { rank: 2, userId: 'ben', displayName: 'Ben', points: 11 },
      ],
      me: { rank: 2, userId: 'ben', displayName: 'Ben', points: 11 },
    });
    await until(async () => (await apiJson<Leaderboard>(hub.url, 'GET', '/api/v1/campaigns/sprint/leaderboard?limit=5', { token: tenant.apiKey })).body.entries.length, (n) => n === 3);

    await hub.context.redis.del(`${hub.config.REDIS_PREFIX}:leaderboard:${tenant.tenantId}:sprint`);
    expect((await read()).body).toEqual(board.body);
    expect((await apiJson(hub.url, 'GET', '/api/v1/campaigns/sprint/leaderboard?limit=0', { token: tenant.apiKey })).status).toBe(400);
    expect((await apiJson(hub.url, 'GET', '/api/v1/campaigns/nope/leaderboard', { token: tenant.apiKey })).status).toBe(404);
  });

  it('deletes a campaign with its leaderboard', async () => {
    expect((await apiJson(hub.url, 'DELETE', '/api/v1/admin/campaigns/sprint', { token: tenant.apiKey })).status).toBe(204);
    expect((await apiJson(hub.url, 'GET', '/api/v1/campaigns/sprint', { token: tenant.apiKey })).status).toBe(404);
    expect(await hub.context.redis.exists(`${hub.config.REDIS_PREFIX}:leaderboard:${tenant.tenantId}:sprint`)).toBe(0);
    expect((await apiJson(hub.url, 'DELETE', '/api/v1/admin/campaigns/sprint', { token: tenant.apiKey })).status).toBe(404);
  });
});
