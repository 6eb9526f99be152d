import { Router } from 'express';
import { z } from 'zod';
import { CAMPAIGN_KEY, campaignInputSchema, leaderboardQuerySchema, type CampaignInput, type Leaderboard } from '../../contracts/api/campaigns.js';
import { pgArrayType, type Database, type Sql } from '../../repositories/db/client.js';
import { CampaignStore, campaignView } from '../../repositories/campaigns.js';
import type { RulesCache } from '../../repositories/engine-rules.js';
import type { LeaderboardEntry, Leaderboards } from '../../repositories/leaderboards.js';
import { actorOf, requireTenantAdmin } from '../auth/admin.js';
import { authenticate, principalOf, type CredentialVerifiers } from '../auth/authenticate.js';
import { httpErrors, parseOrThrow } from '../http/errors.js';
import { requireJson } from '../middleware/require-json.js';
import type { RateLimits } from '../rate-limits.js';
import { consumeApiBudget } from './events.js';

export interface CampaignRouteDeps {
  db: Database;
  sql: Sql;
  verifiers: CredentialVerifiers;
  limits: RateLimits;
  rules: RulesCache;
  leaderboards: Leaderboards;
}

const keyParams = z.object({ key: z.string().regex(CAMPAIGN_KEY, { message: `must match ${CAMPAIGN_KEY.source}` }) });

/** Campaigns: anyone in the tenant reads them and their leaderboards; the API key and admins manage them. */
export function campaignsRouter(deps: CampaignRouteDeps): Router {
  const router = Router();
  const auth = authenticate(deps.verifiers, deps.limits);
  const store = new CampaignStore(deps.db);

  /** Tier rewards may name only box tables the tenant's rules define. */
  const checkRewards = async (tenantId: string, input: CampaignInput) => {
    const { rules } = await deps.rules.get(tenantId);
    const tables = new Set(rules.boxTables.map((table) => table.key));
    const errors = input.tiers.flatMap((tier, i) =>
      tier.reward.kind === 'box' && !tables.has(tier.reward.table) ? [{ path: `tiers.${i}.reward.table`, message: `box table "${tier.reward.table}" is not defined` }] : [],
    );
    if (errors.length > 0) throw httpErrors.validation(errors);
  };

  router.get('/api/v1/campaigns', auth, async (_req, res) => {
    const principal = principalOf(res);
    await consumeApiBudget(deps.limits, principal, res);
    res.json({ campaigns: (await store.list(principal.tenantId)).map(campaignView) });
  });

  router.get('/api/v1/campaigns/:key', auth, async (req, res) => {
    const principal = principalOf(res);
    await consumeApiBudget(deps.limits, principal, res);
    const { key } = parseOrThrow(keyParams, req.params);
    const campaign = await store.find(principal.tenantId, key);
    if (!campaign) throw httpErrors.notFound('No such campaign');
    res.json(campaignView(campaign));
  });

  router.post('/api/v1/admin/campaigns', auth, requireJson, async (req, res) => {
    const principal = principalOf(res);
    requireTenantAdmin(principal, 'create campaigns');
    await consumeApiBudget(deps.limits, principal, res);
    const input = parseOrThrow(campaignInputSchema, req.body);
    await checkRewards(principal.tenantId, input);
    const created = await store.create(principal.tenantId, input, actorOf(principal));
    if (!created) throw httpErrors.conflict(`A campaign "${input.key}" already exists: PUT /api/v1/admin/campaigns/${input.key} replaces it`);
    res.status(201).json(campaignView(created));
  });

  router.put('/api/v1/admin/campaigns/:key', auth, requireJson, async (req, res) => {
    const principal = principalOf(res);
    requireTenantAdmin(principal, 'change campaigns');
    await consumeApiBudget(deps.limits, principal, res);
    const { key } = parseOrThrow(keyParams, req.params);
    const input = parseOrThrow(campaignInputSchema, req.body);
    if (input.key !== key) throw httpErrors.validation([{ path: 'key', message: `must be "${key}", the campaign in the path` }]);
    await checkRewards(principal.tenantId, input);
    const replaced = await store.replace(principal.tenantId, input, actorOf(principal));
    if (!replaced) throw httpErrors.notFound('No such campaign');
    res.json(campaignView(replaced));
  });

  router.delete('/api/v1/admin/campaigns/:key', auth, async (req, res) => {
    const principal = principalOf(res);
    requireTenantAdmin(principal, 'delete campaigns');
    await consumeApiBudget(deps.limits, principal, res);
    const { key } = parseOrThrow(keyParams, req.params);
    if (!(await store.remove(principal.tenantId, key, actorOf(principal)))) throw httpErrors.notFound('No such campaign');
    await deps.leaderboards.remove(principal.tenantId, key);
    res.status(204).end();
  });

  router.get('/api/v1/campaigns/:key/leaderboard', auth, async (req, res) => {
    const principal = principalOf(res);
    await consumeApiBudget(deps.limits, principal, res);
    const { key } = parseOrThrow(keyParams, req.params);
    const { limit } = parseOrThrow(leaderboardQuerySchema, req.query);
    const campaign = await store.find(principal.tenantId, key);
    if (!campaign) throw httpErrors.notFound('No such campaign');
    // Postgres is the truth: a set lost with Redis (or never built) is rebuilt on first read.
    if (!(await deps.leaderboards.exists(principal.tenantId, key))) await deps.leaderboards.rebuild(deps.sql, campaign);
    const entries = await deps.leaderboards.top(principal.tenantId, key, limit);
    const mine = principal.kind === 'user' ? await deps.leaderboards.rankOf(principal.tenantId, key, principal.userId) : null;
    res.json(await withExternalIds(deps.sql, key, entries, mine));
  });
  return router;
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
