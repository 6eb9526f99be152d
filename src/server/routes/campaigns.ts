import { z } from 'zod';
import {
  CAMPAIGN_KEY,
  campaignInputSchema,
  campaignListSchema,
  campaignSchema,
  leaderboardQuerySchema,
  leaderboardSchema,
  type CampaignInput,
  type Leaderboard,
} from '../../contracts/api/campaigns.js';
import { pgArrayType, type Database, type Sql } from '../../repositories/db/client.js';
import { CampaignStore, campaignView } from '../../repositories/campaigns.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import type { LeaderboardEntry, Leaderboards } from '../../repositories/leaderboards.js';
import { actorOf } from '../auth/admin.js';
import type { CredentialVerifiers } from '../auth/authenticate.js';
import { defineRoute, json, limited, mountRoutes, problems } from '../http/define-route.js';
import { httpErrors } from '../http/errors.js';
import type { RateLimits } from '../rate-limits.js';
import { adminWithinBudget, withinBudget } from './guards.js';

export interface CampaignRouteDeps {
  db: Database;
  sql: Sql;
  verifiers: CredentialVerifiers;
  limits: RateLimits;
  rules: RulesCache;
  leaderboards: Leaderboards;
}

const keyParams = z.object({ key: z.string().regex(CAMPAIGN_KEY, { message: `must match ${CAMPAIGN_KEY.source}` }).meta({ example: 'winter-2026' }) });

/** Tier rewards may name only box tables the tenant's rules define. */
async function checkRewards(deps: CampaignRouteDeps, tenantId: string, input: CampaignInput): Promise<void> {
  const { rules } = await deps.rules.get(tenantId);
  const tables = new Set(rules.boxTables.map((table) => table.key));
  const errors = input.tiers.flatMap((tier, i) =>
    tier.reward.kind === 'box' && !tables.has(tier.reward.table) ? [{ path: `tiers.${i}.reward.table`, message: `box table "${tier.reward.table}" is not defined` }] : [],
  );
  if (errors.length > 0) throw httpErrors.validation(errors);
}

/** The campaign, or the 404 the campaign routes answer for a key the tenant does not have. */
function found<T>(campaign: T | null | undefined): T {
  if (!campaign) throw httpErrors.notFound('No such campaign');
  return campaign;
}

// Campaigns: anyone in the tenant reads them and their leaderboards; the API key and admins manage them.

export const listCampaigns = defineRoute({
  method: 'get',
  path: '/api/v1/campaigns',
  operationId: 'listCampaigns',
  tags: ['campaigns'],
  summary: "The tenant's campaigns",
  auth: 'either',
  guard: withinBudget,
  responses: { 200: json('Every campaign, by start', campaignListSchema, limited), ...problems(401, 429) },
  handler: (deps: CampaignRouteDeps) => {
    const store = new CampaignStore(deps.db);
    return async ({ res, principal }) => {
      res.json({ campaigns: (await store.list(principal.tenantId)).map(campaignView) });
    };
  },
});

export const getCampaign = defineRoute({
  method: 'get',
  path: '/api/v1/campaigns/{key}',
  operationId: 'getCampaign',
  tags: ['campaigns'],
  summary: 'One campaign',
  auth: 'either',
  request: { params: keyParams },
  guard: withinBudget,
  responses: { 200: json('The campaign', campaignSchema, limited), ...problems(400, 401, 404, 429) },
  handler: (deps: CampaignRouteDeps) => {
    const store = new CampaignStore(deps.db);
    return async ({ res, principal, params: { key } }) => {
      res.json(campaignView(found(await store.find(principal.tenantId, key))));
    };
  },
});

export const getLeaderboard = defineRoute({
  method: 'get',
  path: '/api/v1/campaigns/{key}/leaderboard',
  operationId: 'getLeaderboard',
  tags: ['campaigns'],
  summary: "A campaign's leaderboard, with the caller's own rank",
  description: 'From a Redis sorted set kept by the engine; rebuilt from Postgres when missing. `me` is null for the API key and for users without points.',
  auth: 'either',
  request: { params: keyParams, query: leaderboardQuerySchema },
  guard: withinBudget,
  responses: { 200: json('The top entries and the caller', leaderboardSchema, limited), ...problems(400, 401, 404, 429) },
  handler: (deps: CampaignRouteDeps) => {
    const store = new CampaignStore(deps.db);
    return async ({ res, principal, params: { key }, query: { limit } }) => {
      const campaign = found(await store.find(principal.tenantId, key));
      // Postgres is the truth: a set lost with Redis (or never built) is rebuilt on first read.
      if (!(await deps.leaderboards.exists(principal.tenantId, key))) await deps.leaderboards.rebuild(deps.sql, campaign);
      const entries = await deps.leaderboards.top(principal.tenantId, key, limit);
      const mine = principal.kind === 'user' ? await deps.leaderboards.rankOf(principal.tenantId, key, principal.userId) : null;
      res.json(await withExternalIds(deps.sql, key, entries, mine));
    };
  },
});

export const createCampaign = defineRoute({
  method: 'post',
  path: '/api/v1/admin/campaigns',
  operationId: 'createCampaign',
  tags: ['admin'],
  summary: 'Create a campaign (API key or admin)',
  description: 'Events inside [startsAt, endsAt) earn the points of their type (or of `*`); reaching a tier grants its reward once. Audited.',
  auth: 'either',
  request: { body: campaignInputSchema },
  guard: adminWithinBudget('create campaigns'),
  responses: { 201: json('Created', campaignSchema, limited), ...problems(400, 401, 403, 409, 413, 415, 429) },
  handler: (deps: CampaignRouteDeps) => {
    const store = new CampaignStore(deps.db);
    return async ({ res, principal, body: input }) => {
      await checkRewards(deps, principal.tenantId, input);
      const created = await store.create(principal.tenantId, input, actorOf(principal));
      if (!created) throw httpErrors.conflict(`A campaign "${input.key}" already exists: PUT /api/v1/admin/campaigns/${input.key} replaces it`);
      res.status(201).json(campaignView(created));
    };
  },
});

export const replaceCampaign = defineRoute({
  method: 'put',
  path: '/api/v1/admin/campaigns/{key}',
  operationId: 'replaceCampaign',
  tags: ['admin'],
  summary: 'Replace a campaign (API key or admin)',
  description: 'Points and tiers already earned are kept. Audited.',
  auth: 'either',
  request: { params: keyParams, body: campaignInputSchema },
  guard: adminWithinBudget('change campaigns'),
  responses: { 200: json('Replaced', campaignSchema, limited), ...problems(400, 401, 403, 404, 413, 415, 429) },
  handler: (deps: CampaignRouteDeps) => {
    const store = new CampaignStore(deps.db);
    return async ({ res, principal, params: { key }, body: input }) => {
      if (input.key !== key) throw httpErrors.validation([{ path: 'key', message: `must be "${key}", the campaign in the path` }]);
      await checkRewards(deps, principal.tenantId, input);
      res.json(campaignView(found(await store.replace(principal.tenantId, input, actorOf(principal)))));
    };
  },
});

export const deleteCampaign = defineRoute({
  method: 'delete',
  path: '/api/v1/admin/campaigns/{key}',
  operationId: 'deleteCampaign',
  tags: ['admin'],
  summary: 'Delete a campaign and its progress (API key or admin)',
  description: 'Rewards already granted stay in the ledger. Audited.',
  auth: 'either',
  request: { params: keyParams },
  guard: adminWithinBudget('delete campaigns'),
  responses: { 204: { description: 'Deleted' }, ...problems(400, 401, 403, 404, 429) },
  handler: (deps: CampaignRouteDeps) => {
    const store = new CampaignStore(deps.db);
    return async ({ res, principal, params: { key } }) => {
      if (!(await store.remove(principal.tenantId, key, actorOf(principal)))) throw httpErrors.notFound('No such campaign');
      await deps.leaderboards.remove(principal.tenantId, key);
      res.status(204).end();
    };
  },
});

export const campaignRoutes = [listCampaigns, getCampaign, getLeaderboard, createCampaign, replaceCampaign, deleteCampaign];

export function campaignsRouter(deps: CampaignRouteDeps) {
  return mountRoutes(campaignRoutes, deps);
}

/** Leaderboards hold internal ids; clients know users by the tenant's own ids. */
async function withExternalIds(sql: Sql, campaign: string, entries: LeaderboardEntry[], mine: LeaderboardEntry | null): Promise<Leaderboard> {
  const ids = [...new Set([...entries, ...(mine ? [mine] : [])].map((entry) => entry.userId))];
  const rows = ids.length
    ? await sql<{ id: string; external_id: string; display_name: string | null }[]>`
        select id, external_id, display_name from users where id = any(${sql.array(ids, pgArrayType.uuid)})`
    : [];
  const byId = new Map(rows.map((row) => [row.id, row]));
  const view = (entry: LeaderboardEntry) => ({
    rank: entry.rank,
    userId: byId.get(entry.userId)?.external_id ?? entry.userId,
    displayName: byId.get(entry.userId)?.display_name ?? null,
    points: entry.points,
  });
  return { campaign, entries: entries.map(view), me: mine ? view(mine) : null };
}
