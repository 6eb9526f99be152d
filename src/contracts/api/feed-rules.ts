import { z } from 'zod';
import { quietHoursSchema } from './feed.js';

const weight = (fallback: number) => z.number().min(-10).max(10).default(fallback);
const itemKind = z.string().regex(/^[a-z][a-z0-9_.-]{0,31}$/);

/**
 * A tenant's feed rules (engine rules `feed`): the ranking formula's weights and half-lives, the
 * diversity pass, affinities, and when `feed:updated` may be pushed. Every field has a default
 * that works; see README "Feeds" for the formula.
 */
export const feedRulesSchema = z
  .object({
    weights: z
      .object({ recency: weight(1), topic: weight(1.5), author: weight(1), quality: weight(1), novelty: weight(0.5) })
      .strict()
      .prefault({}),
    /** Recency halves every this many hours, per item kind. */
    halfLifeHours: z
      .object({
        default: z.number().min(0.1).max(24 * 365).default(48),
        byKind: z.record(itemKind, z.number().min(0.1).max(24 * 365)).refine((kinds) => Object.keys(kinds).length <= 50, { message: 'at most 50 kinds' }).default({}),
      })
      .strict()
      .prefault({}),
    diversity: z
      .object({
        floor: z.number().min(0).max(1).default(0.3),
        decay: z.number().min(0).max(1).default(0.5),
        /** No author holds more than this many of the top 20. */
        authorCapInTop: z.int().min(1).max(20).default(3),
      })
      .strict()
      .prefault({}),
    qualityZ: z.number().min(0.5).max(4).default(1.96),
    /** Topic and author affinities halve every this many days without interactions. */
    affinityHalfLifeDays: z.number().min(0.1).max(365).default(14),
    /** `caughtUp` once every item published within this many hours is opened. */
    freshnessHours: z.number().min(1).max(24 * 30).default(72),
    /** In the user's own zone; null: none. A user's own preference overrides it. */
    quietHours: quietHoursSchema.nullable().default({ start: '22:00', end: '07:00' }),
    /** `feed:updated` pushes per user per local day; past it they fold into the next day's first. */
    dailyPushBudget: z.int().min(1).max(100).default(3),
    /** A user's feed is recomputed at most once per this many seconds of their activity. */
    recomputeDebounceSeconds: z.int().min(1).max(3600).default(30),
    /** Recent items considered per recomputation (bounded work per user). */
    candidatePool: z.int().min(20).max(5000).default(500),
    /** Entries stored per computed feed. */
    length: z.int().min(10).max(200).default(50),
  })
  .strict();
export type FeedRules = z.infer<typeof feedRulesSchema>;
