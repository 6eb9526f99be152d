import { z } from 'zod';
import { fusedSignalSchema } from './signals.js';
import { rewardSpecSchema } from './rules.js';

const day = z.iso.date();

export const missionStateSchema = z.object({
  id: z.uuid(),
  slot: z.int(),
  templateKey: z.string(),
  eventType: z.string(),
  target: z.int(),
  progress: z.int(),
  reward: rewardSpecSchema,
  completed: z.boolean(),
});

/** A streak as of the user's today: days missed since the last one have already used up freezes. */
export const streakViewSchema = z.object({
  key: z.string(),
  current: z.int(),
  longest: z.int(),
  freezes: z.int(),
  lastDay: day.nullable(),
  alive: z.boolean(),
  atRisk: z.boolean(),
});

export type StreakView = z.infer<typeof streakViewSchema>;

export const userStateSchema = z
  .object({
    /** The user's latest update seq: follow live updates after it, with no gap. */
    seq: z.int().min(0),
    timeZone: z.string(),
    today: day,
    streaks: z.array(streakViewSchema),
    records: z.array(z.object({ key: z.string(), best: z.number(), day, achievedAt: z.iso.datetime() })),
    missions: z.object({ day, items: z.array(missionStateSchema) }),
    points: z.int(),
    badges: z.array(z.string()),
    boxes: z.array(z.object({ id: z.uuid(), table: z.string(), grantedAt: z.iso.datetime(), openedAt: z.iso.datetime().nullable(), rarity: z.string().nullable() })),
    campaigns: z.array(z.object({ key: z.string(), name: z.string(), points: z.int(), tier: z.int(), endsAt: z.iso.datetime() })),
    /** The user's own signals with their latest fused value (tenant-wide ones: `GET /api/v1/signals`). */
    signals: z.array(fusedSignalSchema),
  })
  .meta({
    id: 'UserState',
    example: {
      seq: 42,
      timeZone: 'Europe/London',
      today: '2026-11-22',
      streaks: [{ key: 'daily', current: 5, longest: 12, freezes: 1, lastDay: '2026-11-21', alive: true, atRisk: true }],
      records: [{ key: 'most-active-day', best: 9, day: '2026-11-18', achievedAt: '2026-11-18T19:02:11.000Z' }],
      missions: {
        day: '2026-11-22',
        items: [
          {
            id: '0196f1c2-0000-7000-8000-000000000001',
            slot: 0,
            templateKey: 'steady',
            eventType: '*',
            target: 4,
            progress: 1,
            reward: { kind: 'points', amount: 25 },
            completed: false,
          },
        ],
      },
      points: 230,
      badges: [],
      boxes: [{ id: '0196f1c2-0000-7000-8000-000000000002', table: 'standard', grantedAt: '2026-11-20T10:00:00.000Z', openedAt: null, rarity: null }],
      campaigns: [{ key: 'winter-2026', name: 'Winter Challenge', points: 120, tier: 1, endsAt: '2026-12-31T23:59:59.000Z' }],
    },
  });

export type UserState = z.infer<typeof userStateSchema>;
