import { z } from 'zod';
import { rarities } from '../api/rules.js';
import { fusedSignalSchema } from '../api/signals.js';
import { missionStateSchema } from '../api/state.js';
import { userUpdateNames, type UserUpdateName } from './update-names.js';

export { userUpdateNames, type UserUpdateName };

/**
 * Per-user updates: each carries `seq`, which increases by exactly 1 per update of that user,
 * and `at`. They are stored before they are sent, so a client that saw seq N can always ask
 * for everything after N.
 */
const day = z.iso.date();
export type MissionView = z.infer<typeof missionStateSchema>;
export const grantedRewardSchema = z.object({ id: z.uuid(), kind: z.enum(['points', 'box', 'badge']), points: z.int(), badge: z.string().nullable(), boxId: z.uuid().nullable(), source: z.string(), sourceKey: z.string() });
export type GrantedReward = z.infer<typeof grantedRewardSchema>;

export const userUpdatePayloadSchemas = {
  'activity:recorded': z.object({ eventId: z.uuid(), type: z.string(), occurredAt: z.iso.datetime(), value: z.number().optional() }),
  'streak:updated': z.object({
    key: z.string(),
    current: z.int(),
    longest: z.int(),
    freezes: z.int(),
    lastDay: day,
    freezesSpent: z.int(),
    freezesEarned: z.int(),
    restarted: z.boolean(),
    /** Days an admin credited by a repair, when this update comes from one. */
    repairedDays: z.array(day).optional(),
  }),
  'streak:at_risk': z.object({ key: z.string(), current: z.int(), day, freezes: z.int() }),
  'record:broken': z.object({ key: z.string(), value: z.number(), previous: z.number().nullable(), day, eventId: z.uuid() }),
  'missions:assigned': z.object({ day, missions: z.array(missionStateSchema) }),
  'mission:progressed': z.object({ day, mission: missionStateSchema }),
  'mission:completed': z.object({ day, mission: missionStateSchema }),
  'reward:granted': z.object({ reward: grantedRewardSchema, points: z.int() }),
  'box:opened': z.object({ boxId: z.uuid(), rarity: z.enum(rarities), points: z.int(), pityApplied: z.boolean() }),
  'campaign:progressed': z.object({ key: z.string(), points: z.int(), tier: z.int(), tierReached: z.boolean() }),
  'signal:fused': fusedSignalSchema,
  'feed:updated': z.object({
    /** Items newly in the top since the last `feed:updated`. */
    changed: z.array(z.string()),
    top: z.array(z.object({ itemId: z.string(), title: z.string().nullable() })),
    caughtUp: z.boolean(),
    /** The computation it announces (GET /api/v1/me/feed reads it). */
    version: z.int(),
  }),
} satisfies Record<UserUpdateName, z.ZodType>;

export type UserUpdatePayloads = { [N in UserUpdateName]: z.infer<(typeof userUpdatePayloadSchemas)[N]> };
export type UserUpdateMessage<N extends UserUpdateName = UserUpdateName> = UserUpdatePayloads[N] & { seq: number; at: string };

/** One stored update as `sync` returns it: the event name and exactly what was (or would have been) emitted. */
export type UserUpdate = { [N in UserUpdateName]: { event: N; data: UserUpdateMessage<N> } }[UserUpdateName];

export const userUpdateSchema = z.object({
  event: z.enum(userUpdateNames),
  data: z.looseObject({ seq: z.number().int().positive(), at: z.string() }),
});
