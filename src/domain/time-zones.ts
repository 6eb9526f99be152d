/**
 * Which IANA zone a user's calendar days are counted in. An event may carry the device's zone;
 * a different one is adopted at most once per 24 hours (more often, the event still counts, in
 * the zone already held), so hopping zones cannot be used to reshape days at will. Events that
 * happened before the last change are counted in the zone held before it.
 */

export const ZONE_CHANGE_COOLDOWN_MS = 24 * 60 * 60 * 1000;

export interface ZoneState {
  zone: string;
  previousZone: string | null;
  changedAt: Date | null;
}

/** The state after an event that reports `requested` at instant `at`; `changed` says whether it was adopted. */
export function adoptZone(state: ZoneState, requested: string | undefined, at: Date): { state: ZoneState; changed: boolean } {
  if (requested === undefined || requested === state.zone) return { state, changed: false };
  if (state.changedAt && at.getTime() - state.changedAt.getTime() < ZONE_CHANGE_COOLDOWN_MS) return { state, changed: false };
  // A report older than the last change is history, not a move.
  if (state.changedAt && at < state.changedAt) return { state, changed: false };
  return { state: { zone: requested, previousZone: state.zone, changedAt: at }, changed: true };
}

/** The zone an instant is counted in. */
export function zoneAt(state: ZoneState, at: Date): string {
  return state.changedAt && state.previousZone && at < state.changedAt ? state.previousZone : state.zone;
}
