import { campaignPoints, tierFor } from '../../domain/campaigns.js';
import type { EffectContext } from './context.js';

/**
 * Adds the event's points to every campaign running at its instant, granting each tier's reward
 * once as the user's points reach it. Campaign windows are instants, not local days, so a late
 * event counts whenever it happened inside the window.
 */
export function applyCampaigns(context: EffectContext): void {
  const { books, event } = context;
  for (const campaign of books.campaigns.runningAt(event.tenantId, event.occurredAt)) {
    const earned = campaignPoints(campaign.pointRules, event.type);
    if (earned <= 0) continue;
    const before = books.campaigns.standing(campaign, event.userId);
    const points = before.points + earned;
    const tier = Math.max(before.tier, tierFor(points, campaign.tiers));
    books.campaigns.save({ ...before, points, tier });
    campaign.tiers.slice(before.tier, tier).forEach((reached, index) => {
      const level = before.tier + index + 1;
      context.grants.push({ tenantId: event.tenantId, userId: event.userId, source: 'campaign', sourceKey: `${campaign.key}:tier-${level}`, spec: reached.reward });
    });
    context.updates.push({ event: 'campaign:progressed', payload: { key: campaign.key, points, tier, tierReached: tier > before.tier } });
    context.leaderboard.push({ tenantId: event.tenantId, campaignKey: campaign.key, userId: event.userId, points });
  }
}
