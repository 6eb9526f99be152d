import { localDay } from '../../shared/engine/calendar.js';
import { advanceMission, missionMatches } from '../../shared/engine/missions.js';
import { pgArrayType } from '../../shared/db/client.js';
import { insertMissions, missionRowsOfDay, missionView, type MissionRow } from '../../shared/repositories/missions.js';
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
  const owner = { tenantId: event.tenantId, userId: event.userId, day, zone: context.zone };
  let missions: MissionRow[] = await missionRowsOfDay(tx, event.userId, day);
  if (missions.length === 0) {
    // The user's first event of the day, before the sweep: assign the day's missions now.
    missions = await insertMissions(tx, owner, context.rules);
    if (missions.length > 0) context.updates.push({ event: 'missions:assigned', payload: { day, missions: missions.map(missionView) } });
  }
  const advanced = missions
    .filter((row) => row.completed_at === null && missionMatches({ eventType: row.event_type }, event.type))
    .map((row) => {
      const step = advanceMission(row.progress, row.target);
      return { ...row, progress: step.progress, completed_at: step.justCompleted ? event.occurredAt.toISOString() : null, justCompleted: step.justCompleted };
    });
  if (advanced.length === 0) return;
  for (const row of advanced) {
    context.updates.push({ event: row.justCompleted ? 'mission:completed' : 'mission:progressed', payload: { day, mission: missionView(row) } });
    if (row.justCompleted) context.grants.push({ tenantId: event.tenantId, userId: event.userId, source: 'mission', sourceKey: row.id, spec: row.reward });
  }
  // Every advanced mission in one statement; the (user, day) condition lets it use the index rather than scan the table.
  await tx`
    update user_missions m set progress = t.progress, completed_at = t.completed_at::timestamptz
    from unnest(${tx.array(advanced.map((row) => row.id), pgArrayType.uuid)}::uuid[], ${tx.array(advanced.map((row) => String(row.progress)), pgArrayType.int8)}::int8[],
                ${tx.array(advanced.map((row) => row.completed_at), pgArrayType.text)}::text[]) as t(id, progress, completed_at)
    where m.user_id = ${event.userId} and m.day = ${day} and m.id = t.id`;
}
