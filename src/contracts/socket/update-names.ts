/**
 * The names of the per-user updates, as plain data: the SDK needs the list at run time, and
 * importing it from the zod schemas would put zod in every browser bundle. `user-updates.ts`
 * checks at compile time that its schemas cover exactly these names.
 */
export const userUpdateNames = [
  'activity:recorded',
  'streak:updated',
  'streak:at_risk',
  'record:broken',
  'missions:assigned',
  'mission:progressed',
  'mission:completed',
  'reward:granted',
  'box:opened',
  'campaign:progressed',
  /** A user-scoped signal's new fused value (tenant-wide signals go to `signal:<key>` subscribers, without seq). */
  'signal:fused',
  /** The top of the user's feed changed materially (held during quiet hours and past the daily budget, then coalesced). */
  'feed:updated',
] as const;

export type UserUpdateName = (typeof userUpdateNames)[number];
