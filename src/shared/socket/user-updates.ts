import { z } from 'zod';

/**
 * Per-user updates: each carries `seq`, which increases by exactly 1 per update of that user,
 * and `at`. They are stored before they are sent, so a client that saw seq N can always ask
 * for everything after N.
 */
export const userUpdatePayloadSchemas = {
  'activity:recorded': z.object({ eventId: z.uuid(), type: z.string(), value: z.number().optional() }),
};

export type UserUpdatePayloads = { [N in keyof typeof userUpdatePayloadSchemas]: z.infer<(typeof userUpdatePayloadSchemas)[N]> };
export type UserUpdateName = keyof UserUpdatePayloads;
export type UserUpdateMessage<N extends UserUpdateName = UserUpdateName> = UserUpdatePayloads[N] & { seq: number; at: string };

/** One stored update as `sync` returns it: the event name and exactly what was (or would have been) emitted. */
export type UserUpdate = { [N in UserUpdateName]: { event: N; data: UserUpdateMessage<N> } }[UserUpdateName];

export const userUpdateNames = Object.keys(userUpdatePayloadSchemas) as UserUpdateName[];

export const userUpdateSchema = z.object({
  event: z.enum(userUpdateNames as [UserUpdateName, ...UserUpdateName[]]),
  data: z.looseObject({ seq: z.number().int().positive(), at: z.string() }),
});
