import { z } from 'zod';
import { grantedRewardSchema } from '../socket/user-updates.js';
import { storableString } from './common.js';
import { streakViewSchema } from './state.js';

/** The most days one repair may credit: a repair mends a missed day or a short outage, not a history. */
export const MAX_REPAIR_DAYS = 30;

export const streakRepairRequestSchema = z
  .object({
    days: z
      .array(z.iso.date())
      .min(1)
      .max(MAX_REPAIR_DAYS)
      .refine((days) => new Set(days).size === days.length, { message: 'must not repeat a day' })
      .meta({ description: "Local days in the user's time zone to credit, none after the user's today" }),
    reason: storableString(500).meta({ description: 'Why: kept in the audit log' }),
  })
  .meta({ id: 'StreakRepairRequest', example: { days: ['2026-11-20'], reason: 'Ticket 4812: app outage on 20 November' } });

export const streakRepairResponseSchema = z
  .object({
    /** Days this repair credited. */
    repaired: z.array(z.iso.date()),
    /** Days that already counted: nothing changed for them. */
    alreadyCredited: z.array(z.iso.date()),
    streak: streakViewSchema,
    /** Milestone rewards the repaired streak reached for the first time. */
    rewards: z.array(grantedRewardSchema),
    /** The user's latest update seq after the repair. */
    seq: z.int().min(0),
  })
  .meta({
    id: 'StreakRepair',
    example: {
      repaired: ['2026-11-20'],
      alreadyCredited: [],
      streak: { key: 'daily', current: 7, longest: 7, freezes: 1, lastDay: '2026-11-22', alive: true, atRisk: false },
      rewards: [],
      seq: 57,
    },
  });

export type StreakRepairRequest = z.infer<typeof streakRepairRequestSchema>;
export type StreakRepair = z.infer<typeof streakRepairResponseSchema>;
