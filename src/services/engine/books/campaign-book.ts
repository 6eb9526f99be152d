import type { Transaction } from '../../../repositories/db/client.js';
import { campaignsRunningBetween, saveStandings, standingsBetween, type CampaignStanding, type ScoredCampaign } from '../../../repositories/campaign-progress.js';
import { keyOf } from '../../../repositories/pairs.js';
import type { BatchScope } from './scope.js';

/** The campaigns running during the batch and its users' standings: read once, scored in memory, written once. */
export class CampaignBook {
  private readonly campaigns: ScoredCampaign[] = [];
  private readonly standings = new Map<string, CampaignStanding>();
  private readonly changed = new Set<string>();

  private constructor(private readonly tx: Transaction) {}

  static async load(tx: Transaction, scope: BatchScope): Promise<CampaignBook> {
    const book = new CampaignBook(tx);
    const [campaigns, standings] = await Promise.all([
      campaignsRunningBetween(tx, scope.tenantIds, scope.from, scope.to),
      standingsBetween(tx, scope.userIds, scope.tenantIds, scope.from, scope.to),
    ]);
    book.campaigns.push(...campaigns);
    for (const standing of standings) book.standings.set(keyOf(standing.campaignId, standing.userId), standing);
    return book;
  }

  /** The tenant's campaigns running at an instant. */
  runningAt(tenantId: string, at: Date): ScoredCampaign[] {
    return this.campaigns.filter((campaign) => campaign.tenantId === tenantId && campaign.startsAt <= at && campaign.endsAt > at);
  }

  standing(campaign: ScoredCampaign, userId: string): CampaignStanding {
    return this.standings.get(keyOf(campaign.id, userId)) ?? { campaignId: campaign.id, userId, tenantId: campaign.tenantId, points: 0, tier: 0 };
  }

  save(standing: CampaignStanding): void {
    const key = keyOf(standing.campaignId, standing.userId);
    this.standings.set(key, standing);
    this.changed.add(key);
  }

  writes(): Promise<unknown>[] {
    return [saveStandings(this.tx, [...this.changed].map((key) => this.standings.get(key) as CampaignStanding))];
  }
}
