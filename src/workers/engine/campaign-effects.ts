import type { CampaignTier } from '../../shared/db/schema.js';
import { campaignPoints, tierFor, type PointRules } from '../../shared/engine/campaigns.js';
import { inParallel, type EffectContext } from './context.js';

interface ActiveCampaign {
  id: string;
  key: string;
  point_rules: PointRules;
  tiers: CampaignTier[];
}

/**
 * Adds the event's points to every campaign running at its instant, granting each tier's reward
 * once as the user's points reach it. Campaign windows are instants, not local days, so a late
 * event counts whenever it happened inside the window.
 */
export async function applyCampaigns(context: EffectContext): Promise<void> {
  const { tx, event } = context;
  const running = await tx<ActiveCampaign[]>`
    select id, key, point_rules, tiers from campaigns
    where tenant_id = ${event.tenantId} and starts_at <= ${event.occurredAt.toISOString()} and ends_at > ${event.occurredAt.toISOString()}`;
  await inParallel(
    context,
    running.map((campaign) => (part) => applyCampaign(part, campaign)),
  );
}

async function applyCampaign(context: EffectContext, campaign: ActiveCampaign): Promise<void> {
  const { tx, event } = context;
  const earned = campaignPoints(campaign.point_rules, event.type);
  if (earned <= 0) return;
  const [progress] = await tx<{ points: number; tier: number }[]>`
    insert into campaign_progress (campaign_id, user_id, tenant_id, points) values (${campaign.id}, ${event.userId}, ${event.tenantId}, ${earned})
    on conflict (campaign_id, user_id) do update set points = campaign_progress.points + excluded.points, updated_at = now()
    returning points, tier`;
  if (!progress) return;
  const tiers = [...campaign.tiers].sort((a, b) => a.points - b.points);
  const tier = tierFor(progress.points, tiers);
  if (tier > progress.tier) {
    await tx`update campaign_progress set tier = ${tier} where campaign_id = ${campaign.id} and user_id = ${event.userId}`;
    tiers.slice(progress.tier, tier).forEach((reached, index) => {
      const level = progress.tier + index + 1;
      context.grants.push({ tenantId: event.tenantId, userId: event.userId, source: 'campaign', sourceKey: `${campaign.key}:tier-${level}`, spec: reached.reward });
    });
  }
  context.updates.push({ event: 'campaign:progressed', payload: { key: campaign.key, points: progress.points, tier: Math.max(tier, progress.tier), tierReached: tier > progress.tier } });
  context.leaderboard.push({ tenantId: event.tenantId, campaignKey: campaign.key, userId: event.userId, points: progress.points });
}
