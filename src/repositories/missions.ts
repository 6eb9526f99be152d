import { randomUUID } from 'node:crypto';
import type { EngineRules } from '../contracts/api/rules.js';
import { pgArrayType, type Sql, type Transaction } from './db/client.js';
import { sqlColumns, type SqlPick } from './db/rows.js';
import { userMissions } from './db/schema.js';
import { endOfLocalDay, type LocalDay } from '../domain/calendar.js';
import { selectMissions } from '../domain/missions.js';
import { distinct, isRequestedPair } from './pairs.js';
import type { MissionView } from '../contracts/socket/user-updates.js';

const MISSION_COLUMNS = sqlColumns(userMissions, 'id', 'slot', 'template_key', 'event_type', 'target', 'progress', 'reward', 'completed_at');

export type MissionRow = SqlPick<typeof userMissions, (typeof MISSION_COLUMNS)[number]>;

/** A stored mission with whose day it is. */
type MissionOfDay = MissionRow & SqlPick<typeof userMissions, 'user_id' | 'day'>;

const MISSION_OF_DAY_COLUMNS = sqlColumns(userMissions, 'user_id', 'day', ...MISSION_COLUMNS);

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

/** Whose missions: a user's local day, in the zone that day is counted in. */
export interface MissionDay {
  tenantId: string;
  userId: string;
  day: LocalDay;
  zone: string;
}

/** A mission to store: its row (id made here, so callers can use it before the insert answers) and whose it is. */
export interface NewMission {
  owner: MissionDay;
  row: MissionRow;
}

/** The day's missions, chosen deterministically from (user, day), not stored yet. */
export function plannedMissions(owner: MissionDay, rules: EngineRules): NewMission[] {
  return selectMissions(owner.userId, owner.day, rules.missions.templates, rules.missions.perDay).map((mission) => ({
    owner,
    row: { id: randomUUID(), slot: mission.slot, template_key: mission.templateKey, event_type: mission.eventType, target: mission.target, progress: 0, reward: mission.reward, completed_at: null },
  }));
}

/**
 * Stores missions, any users' and days', in one statement; the unique (user, day, slot) makes a
 * second assignment (the sweep racing the user's first event, a re-run after a crash) insert
 * nothing. Answers the ids inserted.
 */
export async function insertMissions(tx: Transaction, missions: readonly NewMission[]): Promise<Set<string>> {
  if (missions.length === 0) return new Set();
  const column = <T>(pick: (mission: NewMission) => T) => missions.map(pick);
  const rows = await tx<SqlPick<typeof userMissions, 'id'>[]>`
    insert into user_missions (id, tenant_id, user_id, day, slot, template_key, event_type, target, progress, reward, expires_at, completed_at)
    select * from unnest(
      ${tx.array(column((m) => m.row.id), pgArrayType.uuid)}::uuid[], ${tx.array(column((m) => m.owner.tenantId), pgArrayType.uuid)}::uuid[],
      ${tx.array(column((m) => m.owner.userId), pgArrayType.uuid)}::uuid[], ${tx.array(column((m) => m.owner.day), pgArrayType.text)}::date[],
      ${tx.array(column((m) => String(m.row.slot)), pgArrayType.int8)}::int4[], ${tx.array(column((m) => m.row.template_key), pgArrayType.text)}::text[],
      ${tx.array(column((m) => m.row.event_type), pgArrayType.text)}::text[], ${tx.array(column((m) => String(m.row.target)), pgArrayType.int8)}::int4[],
      ${tx.array(column((m) => String(m.row.progress)), pgArrayType.int8)}::int4[], ${tx.array(column((m) => JSON.stringify(m.row.reward)), pgArrayType.text)}::jsonb[],
      ${tx.array(column((m) => endOfLocalDay(m.owner.day, m.owner.zone).toISOString()), pgArrayType.text)}::timestamptz[],
      ${tx.array(column((m) => m.row.completed_at), pgArrayType.text)}::timestamptz[])
    on conflict (user_id, day, slot) do nothing
    returning id`;
  return new Set(rows.map((row) => row.id));
}

/** Assigns a user's missions for a local day; answers them when this call stored them, nothing when the day had them already. */
export async function assignMissions(tx: Transaction, owner: MissionDay, rules: EngineRules): Promise<MissionView[]> {
  const planned = plannedMissions(owner, rules);
  const inserted = await insertMissions(tx, planned);
  return planned.filter((mission) => inserted.has(mission.row.id)).map((mission) => missionView(mission.row));
}

/** Stores the progress of missions (the user and day let the update use the index). */
export async function saveMissionProgress(tx: Transaction, missions: readonly { owner: { userId: string; day: LocalDay }; row: MissionRow }[]): Promise<void> {
  if (missions.length === 0) return;
  const column = <T>(pick: (mission: (typeof missions)[number]) => T) => missions.map(pick);
  await tx`
    update user_missions m set progress = t.progress, completed_at = t.completed_at
    from unnest(${tx.array(column((m) => m.row.id), pgArrayType.uuid)}::uuid[], ${tx.array(column((m) => m.owner.userId), pgArrayType.uuid)}::uuid[],
                ${tx.array(column((m) => m.owner.day), pgArrayType.text)}::date[], ${tx.array(column((m) => String(m.row.progress)), pgArrayType.int8)}::int4[],
                ${tx.array(column((m) => m.row.completed_at), pgArrayType.text)}::timestamptz[]) as t(id, user_id, day, progress, completed_at)
    where m.id = any(${tx.array(column((m) => m.row.id), pgArrayType.uuid)}::uuid[]) and m.id = t.id`;
}

/** Stored missions of several users' days, by slot. */
export async function missionRowsOfDays(sql: Sql | Transaction, userDays: readonly { userId: string; day: LocalDay }[]): Promise<MissionOfDay[]> {
  if (userDays.length === 0) return [];
  const rows = await sql<MissionOfDay[]>`
    select ${sql(MISSION_OF_DAY_COLUMNS)} from user_missions
    where user_id = any(${sql.array(distinct(userDays.map((d) => d.userId)), pgArrayType.uuid)}::uuid[]) and day = any(${sql.array(distinct(userDays.map((d) => d.day)), pgArrayType.text)}::date[])
    order by user_id, day, slot`;
  return rows.filter(isRequestedPair(userDays));
}

export async function missionsOfDay(sql: Sql | Transaction, userId: string, day: LocalDay): Promise<MissionView[]> {
  return (await missionRowsOfDays(sql, [{ userId, day }])).map(missionView);
}
