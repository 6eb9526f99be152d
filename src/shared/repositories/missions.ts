import type { EngineRules, RewardSpec } from '../api/rules.js';
import { pgArrayType, type Sql, type Transaction } from '../db/client.js';
import { endOfLocalDay, type LocalDay } from '../engine/calendar.js';
import { selectMissions } from '../engine/missions.js';
import type { MissionView } from '../socket/user-updates.js';

export interface MissionRow {
  id: string;
  slot: number;
  template_key: string;
  event_type: string;
  target: number;
  progress: number;
  reward: RewardSpec;
  completed_at: string | null;
}

export const MISSION_COLUMNS = 'id, slot, template_key, event_type, target, progress, reward, completed_at';

export const missionView = (row: MissionRow): MissionView => ({
  id: row.id,
  slot: row.slot,
  templateKey: row.template_key,
  eventType: row.event_type,
  target: row.target,
  progress: row.progress,
  reward: row.reward,
  completed: row.completed_at !== null,
});

/**
 * Assigns a user's missions for a local day, deterministically from (user, day); the unique
 * (user, day, slot) makes a second assignment (the sweep racing the user's first event, a
 * re-run after a crash) insert nothing. Returns the day's missions when this call created them,
 * an empty list when they already existed.
 */
export async function assignMissions(
  tx: Transaction,
  target: { tenantId: string; userId: string; day: LocalDay; zone: string },
  rules: EngineRules,
): Promise<MissionView[]> {
  return (await insertMissions(tx, target, rules)).map(missionView);
}

/** assignMissions, answering the stored rows. */
export async function insertMissions(
  tx: Transaction,
  target: { tenantId: string; userId: string; day: LocalDay; zone: string },
  rules: EngineRules,
): Promise<MissionRow[]> {
  const chosen = selectMissions(target.userId, target.day, rules.missions.templates, rules.missions.perDay);
  if (chosen.length === 0) return [];
  const rows = await tx<MissionRow[]>`
    insert into user_missions (tenant_id, user_id, day, slot, template_key, event_type, target, reward, expires_at)
    select ${target.tenantId}, ${target.userId}, ${target.day}, slot, template_key, event_type, goal, reward::jsonb, ${endOfLocalDay(target.day, target.zone).toISOString()}
    from unnest(${tx.array(chosen.map((m) => String(m.slot)), pgArrayType.int8)}::int8[], ${tx.array(chosen.map((m) => m.templateKey), pgArrayType.text)},
                ${tx.array(chosen.map((m) => m.eventType), pgArrayType.text)}, ${tx.array(chosen.map((m) => String(m.target)), pgArrayType.int8)}::int8[],
                ${tx.array(chosen.map((m) => JSON.stringify(m.reward)), pgArrayType.text)}) as t(slot, template_key, event_type, goal, reward)
    on conflict (user_id, day, slot) do nothing
    returning ${tx.unsafe(MISSION_COLUMNS)}`;
  return rows.sort((a, b) => a.slot - b.slot);
}

/** A user's missions of a local day, stored rows, by slot. */
export async function missionRowsOfDay(sql: Sql | Transaction, userId: string, day: LocalDay): Promise<MissionRow[]> {
  return sql<MissionRow[]>`select ${sql.unsafe(MISSION_COLUMNS)} from user_missions where user_id = ${userId} and day = ${day} order by slot`;
}

export async function missionsOfDay(sql: Sql | Transaction, userId: string, day: LocalDay): Promise<MissionView[]> {
  return (await missionRowsOfDay(sql, userId, day)).map(missionView);
}
