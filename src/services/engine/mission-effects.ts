import { localDay } from '../../domain/calendar.js';
import { advanceMission, missionMatches } from '../../domain/missions.js';
import { missionView } from '../../repositories/missions.js';
import type { EffectContext } from './context.js';

/**
 * The event's local day gets its missions now if the sweep has not assigned them yet, then each
 * open mission of that day the event matches advances by one; completing one grants its reward.
 * A late event (within the grace) counts for the missions of its own day.
 */
export function applyMissions(context: EffectContext): void {
  if (!context.countsForItsDay) return;
  const { books, event } = context;
  const day = localDay(event.occurredAt, context.zone);
  const owner = { tenantId: event.tenantId, userId: event.userId, day, zone: context.zone };
  let missions = books.missions.of(event.userId, day);
  if (missions.length === 0) {
    // The user's first event of the day, before the sweep: assign the day's missions now.
    missions = books.missions.assign(owner, context.rules);
    if (missions.length > 0) context.updates.push({ event: 'missions:assigned', payload: { day, missions: missions.map(missionView) } });
  }
  for (const row of missions) {
    if (row.completed_at !== null || !missionMatches({ eventType: row.event_type }, event.type)) continue;
    const step = advanceMission(row.progress, row.target);
    books.missions.advance(owner, row, step.progress, step.justCompleted ? event.occurredAt.toISOString() : null);
    context.updates.push({ event: step.justCompleted ? 'mission:completed' : 'mission:progressed', payload: { day, mission: missionView(row) } });
    if (step.justCompleted) context.grants.push({ tenantId: event.tenantId, userId: event.userId, source: 'mission', sourceKey: row.id, spec: row.reward });
  }
}
