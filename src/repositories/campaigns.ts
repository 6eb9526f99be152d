import { and, eq } from 'drizzle-orm';
import type { CampaignInput } from '../contracts/api/campaigns.js';
import type { Database } from './db/client.js';
import { campaigns } from './db/schema.js';
import { recordAudit } from './audit.js';

export type CampaignRow = typeof campaigns.$inferSelect;

export const campaignView = (row: CampaignRow) => ({
  key: row.key,
  name: row.name,
  startsAt: row.startsAt.toISOString(),
  endsAt: row.endsAt.toISOString(),
  pointRules: row.pointRules,
  tiers: row.tiers,
});

const columns = (input: CampaignInput) => ({
  name: input.name,
  startsAt: new Date(input.startsAt),
  endsAt: new Date(input.endsAt),
  pointRules: input.pointRules,
  tiers: input.tiers,
});

/** A tenant's campaigns, administered by its API key and admins; every change is audited. */
export class CampaignStore {
  constructor(private readonly db: Database) {}

  async list(tenantId: string): Promise<CampaignRow[]> {
    return this.db.select().from(campaigns).where(eq(campaigns.tenantId, tenantId)).orderBy(campaigns.startsAt);
  }

  async find(tenantId: string, key: string): Promise<CampaignRow | undefined> {
    const [row] = await this.db
      .select()
      .from(campaigns)
      .where(and(eq(campaigns.tenantId, tenantId), eq(campaigns.key, key)));
    return row;
  }

  /** Undefined when the key is taken. */
  async create(tenantId: string, input: CampaignInput, actor: string): Promise<CampaignRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(campaigns)
        .values({ tenantId, key: input.key, ...columns(input) })
        .onConflictDoNothing()
        .returning();
      if (row) await recordAudit(tx, { tenantId, actor, action: 'campaign.created', target: `campaign:${input.key}` });
      return row;
    });
  }

  /** Undefined when there is no such campaign. Progress already earned is kept. */
  async replace(tenantId: string, input: CampaignInput, actor: string): Promise<CampaignRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(campaigns)
        .set({ ...columns(input), updatedAt: new Date() })
        .where(and(eq(campaigns.tenantId, tenantId), eq(campaigns.key, input.key)))
        .returning();
      if (row) await recordAudit(tx, { tenantId, actor, action: 'campaign.updated', target: `campaign:${input.key}` });
      return row;
    });
  }

  async remove(tenantId: string, key: string, actor: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const removed = await tx
        .delete(campaigns)
        .where(and(eq(campaigns.tenantId, tenantId), eq(campaigns.key, key)))
        .returning({ key: campaigns.key });
      if (removed.length > 0) await recordAudit(tx, { tenantId, actor, action: 'campaign.deleted', target: `campaign:${key}` });
      return removed.length > 0;
    });
  }
}
