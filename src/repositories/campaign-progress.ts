import type { SqlPick } from './db/rows.js';
import type { campaignProgress, campaigns, CampaignTier } from './db/schema.js';
import { pgArrayType, type Transaction } from './db/client.js';
import type { PointRules } from '../domain/campaigns.js';

/** A campaign as the engine scores it: tiers in ascending order of points. */
export interface ScoredCampaign {
  id: string;
  tenantId: string;
  key: string;
  pointRules: PointRules;
  tiers: CampaignTier[];
  startsAt: Date;
  endsAt: Date;
}

export interface CampaignStanding {
  campaignId: string;
  userId: string;
  tenantId: string;
  points: number;
  tier: number;
}

/** The tenants' campaigns running at some instant between `from` and `to`. */
export async function campaignsRunningBetween(tx: Transaction, tenantIds: readonly string[], from: Date, to: Date): Promise<ScoredCampaign[]> {
  const rows = await tx<SqlPick<typeof campaigns, 'id' | 'tenant_id' | 'key' | 'point_rules' | 'tiers' | 'starts_at' | 'ends_at'>[]>`
    select id, tenant_id, key, point_rules, tiers, starts_at, ends_at from campaigns
    where tenant_id = any(${tx.array([...tenantIds], pgArrayType.uuid)}::uuid[]) and starts_at <= ${to.toISOString()} and ends_at > ${from.toISOString()}`;
  return rows.map((row) => ({
    id: row.id,
    tenantId: row.tenant_id,
    key: row.key,
    pointRules: row.point_rules,
    tiers: [...row.tiers].sort((a, b) => a.points - b.points),
    startsAt: new Date(row.starts_at),
    endsAt: new Date(row.ends_at),
  }));
}

/** The users' standings in the campaigns running between `from` and `to` (one round trip, with the campaigns read beside it). */
export async function standingsBetween(tx: Transaction, userIds: readonly string[], tenantIds: readonly string[], from: Date, to: Date): Promise<CampaignStanding[]> {
  const rows = await tx<SqlPick<typeof campaignProgress, 'campaign_id' | 'user_id' | 'tenant_id' | 'points' | 'tier'>[]>`
    select p.campaign_id, p.user_id, p.tenant_id, p.points, p.tier from campaign_progress p join campaigns c on c.id = p.campaign_id
    where p.user_id = any(${tx.array([...userIds], pgArrayType.uuid)}::uuid[]) and c.tenant_id = any(${tx.array([...tenantIds], pgArrayType.uuid)}::uuid[])
      and c.starts_at <= ${to.toISOString()} and c.ends_at > ${from.toISOString()}`;
  return rows.map((row) => ({ campaignId: row.campaign_id, userId: row.user_id, tenantId: row.tenant_id, points: row.points, tier: row.tier }));
}

/** Stores standings as absolute values (computed under the users' row locks). */
export async function saveStandings(tx: Transaction, standings: readonly CampaignStanding[]): Promise<void> {
  if (standings.length === 0) return;
  const column = <T>(pick: (standing: CampaignStanding) => T) => standings.map(pick);
  await tx`
    insert into campaign_progress (campaign_id, user_id, tenant_id, points, tier)
    select * from unnest(
      ${tx.array(column((s) => s.campaignId), pgArrayType.uuid)}::uuid[], ${tx.array(column((s) => s.userId), pgArrayType.uuid)}::uuid[],
      ${tx.array(column((s) => s.tenantId), pgArrayType.uuid)}::uuid[], ${tx.array(column((s) => String(s.points)), pgArrayType.int8)}::int4[],
      ${tx.array(column((s) => String(s.tier)), pgArrayType.int8)}::int4[])
    on conflict (campaign_id, user_id) do update set points = excluded.points, tier = excluded.tier, updated_at = now()`;
}
