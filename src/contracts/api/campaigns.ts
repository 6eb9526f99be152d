import { z } from 'zod';
import { storableString } from './common.js';
import { EVENT_TYPE_PATTERN } from './events.js';
import { ANY_EVENT, rewardSpecSchema } from './rules.js';

export const CAMPAIGN_KEY = /^[a-z][a-z0-9_-]{0,39}$/;

export const campaignInputSchema = z
  .object({
    key: z.string().regex(CAMPAIGN_KEY, { message: 'must be 1 to 40 lowercase letters, digits, _ or -, starting with a letter' }),
    name: storableString(120),
    startsAt: z.iso.datetime({ offset: true }),
    endsAt: z.iso.datetime({ offset: true }),
    /** Points per event type; `*` for every other type. */
    pointRules: z
      .record(z.string().refine((type) => type === ANY_EVENT || EVENT_TYPE_PATTERN.test(type), { message: 'must be an event type or "*"' }), z.int().min(1).max(1_000_000))
      .refine((rules) => Object.keys(rules).length > 0, { message: 'needs at least one rule' }),
    tiers: z
      .array(z.object({ points: z.int().min(1), reward: rewardSpecSchema }).strict())
      .max(50)
      .refine((tiers) => tiers.every((tier, i) => i === 0 || tier.points > (tiers[i - 1] as { points: number }).points), { message: 'tier points must increase' })
      .default([]),
  })
  .strict()
  .refine((campaign) => Date.parse(campaign.endsAt) > Date.parse(campaign.startsAt), { message: 'must be after startsAt', path: ['endsAt'] })
  .meta({
    id: 'CampaignInput',
    example: {
      key: 'winter-2026',
      name: 'Winter Challenge',
      startsAt: '2026-12-01T00:00:00Z',
      endsAt: '2027-01-01T00:00:00Z',
      pointRules: { 'workout.completed': 10, '*': 1 },
      tiers: [
        { points: 100, reward: { kind: 'badge', badge: 'winter-100' } },
        { points: 500, reward: { kind: 'box', table: 'standard' } },
      ],
    },
  });
export type CampaignInput = z.infer<typeof campaignInputSchema>;

export const campaignSchema = z
  .object({
    key: z.string(),
    name: z.string(),
    startsAt: z.iso.datetime(),
    endsAt: z.iso.datetime(),
    pointRules: z.record(z.string(), z.int()),
    tiers: z.array(z.object({ points: z.int(), reward: rewardSpecSchema })),
  })
  .meta({ id: 'Campaign', example: campaignInputSchema.meta()?.example });

export const campaignListSchema = z.object({ campaigns: z.array(campaignSchema) }).meta({ id: 'CampaignList', example: { campaigns: [campaignInputSchema.meta()?.example] } });

export const leaderboardQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(100).default(10) }).strict();

const entry = z.object({ rank: z.int(), userId: z.string(), displayName: z.string().nullable(), points: z.int() });
export const leaderboardSchema = z
  .object({ campaign: z.string(), entries: z.array(entry), me: entry.nullable() })
  .meta({
    id: 'Leaderboard',
    example: {
      campaign: 'winter-2026',
      entries: [
        { rank: 1, userId: 'user-7', displayName: 'Grace', points: 640 },
        { rank: 2, userId: 'user-42', displayName: 'Ada', points: 515 },
      ],
      me: { rank: 2, userId: 'user-42', displayName: 'Ada', points: 515 },
    },
  });
export type Leaderboard = z.infer<typeof leaderboardSchema>;
