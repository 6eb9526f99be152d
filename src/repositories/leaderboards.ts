import type { Redis } from 'ioredis';
import type { Sql } from './db/client.js';
import type { SqlPick } from './db/rows.js';
import type { campaignProgress } from './db/schema.js';

export interface LeaderboardEntry {
  rank: number;
  userId: string;
  points: number;
}

/**
 * Campaign leaderboards as Redis sorted sets of internal user ids. Postgres
 * (`campaign_progress`) is the truth: scores are written as absolute values after the engine's
 * transaction commits, and only ever raised, so neither a retry nor a late hand-off lowers one;
 * a missing set is rebuilt.
 */
export class Leaderboards {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(tenantId: string, campaignKey: string): string {
    return `${this.prefix}:leaderboard:${tenantId}:${campaignKey}`;
  }

  async setScores(scores: readonly { tenantId: string; campaignKey: string; userId: string; points: number }[]): Promise<void> {
    if (scores.length === 0) return;
    const pipeline = this.redis.pipeline();
    // GT: campaign points only grow, and two engine commits' hand-offs may land in either order; without it the
    // older (lower) score could arrive last and stay until the set is rebuilt.
    for (const score of scores) pipeline.zadd(this.key(score.tenantId, score.campaignKey), 'GT', score.points, score.userId);
    await pipeline.exec();
  }

  /** Rebuilds a campaign's set from Postgres, replacing whatever Redis held. */
  async rebuild(sql: Sql, campaign: { id: string; tenantId: string; key: string }): Promise<number> {
    const rows = await sql<SqlPick<typeof campaignProgress, 'user_id' | 'points'>[]>`select user_id, points from campaign_progress where campaign_id = ${campaign.id}`;
    const key = this.key(campaign.tenantId, campaign.key);
    const pipeline = this.redis.multi().del(key);
    for (const row of rows) pipeline.zadd(key, row.points, row.user_id);
    await pipeline.exec();
    return rows.length;
  }

  async remove(tenantId: string, campaignKey: string): Promise<void> {
    await this.redis.del(this.key(tenantId, campaignKey));
  }

  async exists(tenantId: string, campaignKey: string): Promise<boolean> {
    return (await this.redis.exists(this.key(tenantId, campaignKey))) === 1;
  }

  /** The top `limit` (ties share the order Redis gives them: by user id). */
  async top(tenantId: string, campaignKey: string, limit: number): Promise<LeaderboardEntry[]> {
    const flat = await this.redis.zrevrange(this.key(tenantId, campaignKey), 0, limit - 1, 'WITHSCORES');
    const entries: LeaderboardEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) entries.push({ rank: i / 2 + 1, userId: flat[i] as string, points: Number(flat[i + 1]) });
    return entries;
  }

  async rankOf(tenantId: string, campaignKey: string, userId: string): Promise<LeaderboardEntry | null> {
    const key = this.key(tenantId, campaignKey);
    const [rank, score] = await Promise.all([this.redis.zrevrank(key, userId), this.redis.zscore(key, userId)]);
    if (rank === null || score === null) return null;
    return { rank: rank + 1, userId, points: Number(score) };
  }
}
