import { z } from 'zod';
import { EVENT_TYPE_PATTERN } from './events.js';
import { feedRulesSchema } from './feed-rules.js';
import { fusionRuleSchema, signalKey, type FusionRule } from './signals.js';

/**
 * A tenant's engagement rules: what counts for streaks, which personal records are kept, the
 * daily mission templates, the mystery box tables. Every field has a default, so a new tenant
 * works at once and an admin changes only what differs. Campaigns have their own endpoints.
 */

const key = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,39}$/, { message: 'must be 1 to 40 lowercase letters, digits, _ or -, starting with a letter' })
  .meta({ example: 'daily' });
/** The key naming a streak, metric, template or box table. */
export { key as ruleKey };

/** An event type, or `*` for any event. */
export const ANY_EVENT = '*';
export const matchesEventType = (matcher: string, eventType: string): boolean => matcher === ANY_EVENT || matcher === eventType;
const eventTypeMatcher = z
  .string()
  .refine((value) => value === ANY_EVENT || EVENT_TYPE_PATTERN.test(value), { message: `must be an event type or "${ANY_EVENT}"` })
  .meta({ example: 'workout.completed' });

export const rarities = ['common', 'rare', 'epic', 'legendary'] as const;
export type Rarity = (typeof rarities)[number];

export const rewardSpecSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('points'), amount: z.int().min(1).max(1_000_000) }).strict(),
    z.object({ kind: z.literal('box'), table: key }).strict(),
    z.object({ kind: z.literal('badge'), badge: key }).strict(),
  ])
  .meta({ id: 'RewardSpec', example: { kind: 'points', amount: 50 } });
export type RewardSpec = z.infer<typeof rewardSpecSchema>;

const uniqueKeys = <T extends { key: string }>(items: T[]) => new Set(items.map((item) => item.key)).size === items.length;
const UNIQUE_KEYS = { message: 'keys must be unique' };

export const streakRuleSchema = z
  .object({
    key,
    /** Event types that count; empty means any event. */
    eventTypes: z.array(eventTypeMatcher).max(50).default([]),
    /** One freeze is earned for each run of this many consecutive days... */
    freezeEveryDays: z.int().min(1).max(365).default(7),
    /** ...up to this many held at once. */
    maxFreezes: z.int().min(0).max(10).default(2),
    milestones: z
      .array(z.object({ days: z.int().min(1).max(10_000), reward: rewardSpecSchema }).strict())
      .max(50)
      .refine((items) => new Set(items.map((item) => item.days)).size === items.length, { message: 'milestone days must be unique' })
      .default([]),
  })
  .strict();
export type StreakRule = z.infer<typeof streakRuleSchema>;

export const recordAggregations = ['max_value', 'min_value', 'daily_count', 'daily_sum'] as const;
export type RecordAggregation = (typeof recordAggregations)[number];

export const recordMetricSchema = z.object({ key, eventType: eventTypeMatcher, aggregation: z.enum(recordAggregations) }).strict();
export type RecordMetric = z.infer<typeof recordMetricSchema>;

export const missionTemplateSchema = z
  .object({
    key,
    eventType: eventTypeMatcher,
    targetMin: z.int().min(1).max(10_000),
    targetMax: z.int().min(1).max(10_000),
    reward: rewardSpecSchema,
    weight: z.number().positive().max(1_000).default(1),
  })
  .strict()
  .refine((template) => template.targetMax >= template.targetMin, { message: 'targetMax must be at least targetMin', path: ['targetMax'] });
export type MissionTemplate = z.infer<typeof missionTemplateSchema>;

const percent = z.number().min(0).max(100);
export const boxTableSchema = z
  .object({
    key,
    /** Published odds per rarity, in percent; they must add up to 100. */
    odds: z.object({ common: percent, rare: percent, epic: percent, legendary: percent }).strict(),
    /** After this many opens in a row without epic or better, the next is epic or better. */
    pityOpens: z.int().min(1).max(1_000).default(10),
    /** Points a box of each rarity holds. */
    points: z.object({ common: z.int().min(0), rare: z.int().min(0), epic: z.int().min(0), legendary: z.int().min(0) }).strict(),
  })
  .strict()
  .refine((table) => Math.abs(rarities.reduce((sum, rarity) => sum + table.odds[rarity], 0) - 100) < 1e-9, { message: 'odds must add up to 100', path: ['odds'] })
  .refine((table) => table.odds.epic + table.odds.legendary > 0, { message: 'epic or legendary must be possible (the pity rule grants one)', path: ['odds'] });
export type BoxTable = z.infer<typeof boxTableSchema>;

export const DEFAULT_BOX_TABLE: BoxTable = {
  key: 'standard',
  odds: { common: 70, rare: 20, epic: 8, legendary: 2 },
  pityOpens: 10,
  points: { common: 10, rare: 50, epic: 200, legendary: 1_000 },
};

const DEFAULT_STREAK: StreakRule = {
  key: 'daily',
  eventTypes: [],
  freezeEveryDays: 7,
  maxFreezes: 2,
  milestones: [
    { days: 3, reward: { kind: 'points', amount: 30 } },
    { days: 7, reward: { kind: 'box', table: 'standard' } },
    { days: 14, reward: { kind: 'points', amount: 150 } },
    { days: 30, reward: { kind: 'badge', badge: 'streak-30' } },
    { days: 60, reward: { kind: 'box', table: 'standard' } },
    { days: 100, reward: { kind: 'badge', badge: 'streak-100' } },
    { days: 365, reward: { kind: 'badge', badge: 'streak-365' } },
  ],
};

export const engineRulesSchema = z
  .object({
    streaks: z.array(streakRuleSchema).max(20).refine(uniqueKeys, UNIQUE_KEYS).default([DEFAULT_STREAK]),
    records: z
      .array(recordMetricSchema)
      .max(50)
      .refine(uniqueKeys, UNIQUE_KEYS)
      .default([
        { key: 'most-active-day', eventType: ANY_EVENT, aggregation: 'daily_count' },
        { key: 'best-value', eventType: ANY_EVENT, aggregation: 'max_value' },
      ]),
    missions: z
      .object({
        perDay: z.int().min(0).max(10).default(3),
        templates: z
          .array(missionTemplateSchema)
          .max(100)
          .refine(uniqueKeys, UNIQUE_KEYS)
          .default([
            { key: 'warm-up', eventType: ANY_EVENT, targetMin: 1, targetMax: 2, reward: { kind: 'points', amount: 10 }, weight: 3 },
            { key: 'steady', eventType: ANY_EVENT, targetMin: 3, targetMax: 5, reward: { kind: 'points', amount: 25 }, weight: 2 },
            { key: 'marathon', eventType: ANY_EVENT, targetMin: 8, targetMax: 12, reward: { kind: 'box', table: 'standard' }, weight: 1 },
          ]),
      })
      .strict()
      .prefault({}),
    boxTables: z.array(boxTableSchema).min(1).max(20).refine(uniqueKeys, UNIQUE_KEYS).default([DEFAULT_BOX_TABLE]),
    /** An event this much older than its processing still counts for its own day; older ones only for records and campaigns. */
    lateEventGraceHours: z.int().min(0).max(24 * 14).default(48),
    /** Local wall-clock hour at which a streak with nothing yet today is reported at risk. */
    atRiskHour: z.int().min(0).max(23).default(20),
    /** How signals are fused: `default` for any key, `keys` for particular ones (each a whole rule; omitted fields take the defaults). */
    signals: z
      .object({
        default: fusionRuleSchema.prefault({}),
        keys: z
          .record(signalKey, fusionRuleSchema)
          .refine((keys) => Object.keys(keys).length <= 200, { message: 'at most 200 signal rules' })
          .default({}),
      })
      .strict()
      .prefault({}),
    /** How feeds are ranked and when their updates are pushed (README "Feeds"). */
    feed: feedRulesSchema.prefault({}),
  })
  .strict()
  .superRefine((rules, context) => {
    const tables = new Set(rules.boxTables.map((table) => table.key));
    const check = (reward: RewardSpec, path: (string | number)[]) => {
      if (reward.kind === 'box' && !tables.has(reward.table)) context.addIssue({ code: 'custom', path, message: `box table "${reward.table}" is not defined` });
    };
    rules.streaks.forEach((streak, s) => streak.milestones.forEach((milestone, m) => check(milestone.reward, ['streaks', s, 'milestones', m, 'reward'])));
    rules.missions.templates.forEach((template, t) => check(template.reward, ['missions', 'templates', t, 'reward']));
    if (rules.missions.perDay > rules.missions.templates.length) {
      context.addIssue({ code: 'custom', path: ['missions', 'perDay'], message: 'cannot exceed the number of templates' });
    }
  })
  .meta({ id: 'EngineRules' });

export type EngineRules = z.infer<typeof engineRulesSchema>;

/** The fusion rule of one signal key. */
export const fusionRuleFor = (rules: Pick<EngineRules, 'signals'>, key: string): FusionRule => rules.signals.keys[key] ?? rules.signals.default;

export const DEFAULT_ENGINE_RULES: EngineRules = engineRulesSchema.parse({});

export const engineRulesResponseSchema = z
  .object({ rules: engineRulesSchema, version: z.int().min(0), updatedAt: z.iso.datetime().nullable() })
  .meta({ id: 'EngineRulesResponse', example: { rules: DEFAULT_ENGINE_RULES, version: 1, updatedAt: '2026-11-22T08:30:00.000Z' } });
