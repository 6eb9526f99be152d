import { localDay } from '../../shared/engine/calendar.js';
import { advanceMission, missionMatches } from '../../shared/engine/missions.js';
import { assignMissions, MISSION_COLUMNS, missionView, type MissionRow } from '../../shared/repositories/missions.js';
import type { EffectContext } from './context.js';

/**
 * The event's local day gets its missions now if the sweep has not assigned them yet, then each
 * open mission of that day the event matches advances by one; completing one grants its reward.
 * A late event (within the grace) counts for the missions of its own day.
 */
export async function applyMissions(context: EffectContext): Promise<void> {
  if (!context.countsForItsDay) return;
  const { tx, event } = context;
  const day = localDay(event.occurredAt, context.zone);
  // Assigning and reading the open missions go out together; Postgres runs them in order, so the read sees the assignment.
  const [assigned, open] = await Promise.all([
    assignMissions(tx, { tenantId: event.tenantId, userId: event.userId, day, zone: context.zone }, context.rules),
    tx<MissionRow[]>`
      select ${tx.unsafe(MISSION_COLUMNS)} from user_missions
      where user_id = ${event.userId} and day = ${day} and completed_at is null order by slot`,
  ]);
  if (assigned.length > 0) context.updates.push({ event: 'missions:assigned', payload: { day, missions: assigned } });
  const matching = open.filter((row) => missionMatches({ eventType: row.event_type }, event.type));
  await Promise.all(
    matching.map((row) => {
      const step = advanceMission(row.progress, row.target);
      const completedAt = step.justCompleted ? event.occurredAt.toISOString() : null;
      const mission = missionView({ ...row, progress: step.progress, completed_at: completedAt });
      context.updates.push({ event: step.justCompleted ? 'mission:completed' : 'mission:progressed', payload: { day, mission } });
      if (step.justCompleted) context.grants.push({ tenantId: event.tenantId, userId: event.userId, source: 'mission', sourceKey: row.id, spec: row.reward });
      return tx`update user_missions set progress = ${step.progress}, completed_at = ${completedAt} where id = ${row.id}`;
    }),
  );
}
