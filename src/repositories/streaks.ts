import type { StreakRule } from '../contracts/api/rules.js';
import { pgArrayType, type Transaction } from './db/client.js';
import { sqlColumns, type SqlPick } from './db/rows.js';
import { streakDays as streakDaysTable, streaks as streaksTable } from './db/schema.js';
import type { LocalDay } from '../domain/calendar.js';
import type { StreakView } from '../contracts/api/state.js';
import { streakAsOf, type DayGuard, type MilestoneReached, type StreakState } from '../domain/streaks.js';
import { distinct, isRequestedPair } from './pairs.js';
import type { GrantRequest } from './rewards.js';

/** Whose streak: a user's streak of one rule. */
export interface StreakOwner {
  tenantId: string;
  userId: string;
  key: string;
}

export interface StoredStreak {
  state: StreakState;
  guard: DayGuard;
}

const STREAK_COLUMNS = sqlColumns(streaksTable, 'user_id', 'streak_key', 'current', 'longest', 'freezes', 'last_day', 'run_start', 'last_event_at', 'anchor_day', 'anchor_start');

const STREAK_DAY_COLUMNS = sqlColumns(streakDaysTable, 'user_id', 'streak_key', 'day');
type StreakDayRow = SqlPick<typeof streakDaysTable, (typeof STREAK_DAY_COLUMNS)[number]>;

/** A credited day of a user's streak. */
export interface StreakDay {
  userId: string;
  key: string;
  day: LocalDay;
}

/** A streak to store; `state.lastDay` must be set (a streak is saved only once it has a day). */
export interface StreakToSave {
  owner: StreakOwner;
  state: StreakState;
  guard: DayGuard;
}

// Timestamps and dates arrive as strings: drizzle replaces postgres.js's parsers on the shared client.
/** Every stored streak of the given users. */
export async function readStreaks(tx: Transaction, userIds: readonly string[]): Promise<{ userId: string; key: string; stored: StoredStreak }[]> {
  const rows = await tx<SqlPick<typeof streaksTable, (typeof STREAK_COLUMNS)[number]>[]>`
    select ${tx(STREAK_COLUMNS)}
    from streaks where user_id = any(${tx.array([...userIds], pgArrayType.uuid)}::uuid[])`;
  return rows.map((row) => ({
    userId: row.user_id,
    key: row.streak_key,
    stored: {
      state: { current: row.current, longest: row.longest, freezes: row.freezes, lastDay: row.last_day, runStart: row.run_start },
      guard: { lastDay: row.last_day, lastAt: new Date(row.last_event_at), anchorDay: row.anchor_day, anchorStart: new Date(row.anchor_start) },
    },
  }));
}

export async function readStreak(tx: Transaction, owner: StreakOwner): Promise<StoredStreak | null> {
  return (await readStreaks(tx, [owner.userId])).find((row) => row.key === owner.key)?.stored ?? null;
}

/** Credits days to streaks; returns those that were not credited yet. */
export async function creditDays(tx: Transaction, days: readonly StreakDay[]): Promise<StreakDay[]> {
  if (days.length === 0) return [];
  const rows = await tx<StreakDayRow[]>`
    insert into streak_days (user_id, streak_key, day)
    select * from unnest(${tx.array(days.map((d) => d.userId), pgArrayType.uuid)}::uuid[], ${tx.array(days.map((d) => d.key), pgArrayType.text)}::text[],
                         ${tx.array(days.map((d) => d.day), pgArrayType.text)}::date[])
    on conflict do nothing returning ${tx(STREAK_DAY_COLUMNS)}`;
  return rows.map((row) => ({ userId: row.user_id, key: row.streak_key, day: row.day }));
}

/** Which streaks of the given users hold the given days. */
export async function creditedDaysAmong(tx: Transaction, userDays: readonly { userId: string; day: LocalDay }[]): Promise<StreakDay[]> {
  if (userDays.length === 0) return [];
  const rows = await tx<StreakDayRow[]>`
    select ${tx(STREAK_DAY_COLUMNS)} from streak_days
    where user_id = any(${tx.array(distinct(userDays.map((d) => d.userId)), pgArrayType.uuid)}::uuid[]) and day = any(${tx.array(distinct(userDays.map((d) => d.day)), pgArrayType.text)}::date[])`;
  return rows.filter(isRequestedPair(userDays)).map((row) => ({ userId: row.user_id, key: row.streak_key, day: row.day }));
}

export async function creditedDays(tx: Transaction, owner: StreakOwner): Promise<LocalDay[]> {
  const rows = await tx<SqlPick<typeof streakDaysTable, 'day'>[]>`select day from streak_days where user_id = ${owner.userId} and streak_key = ${owner.key}`;
  return rows.map((row) => row.day);
}

/** Stores streaks, state and guard, in one statement. */
export async function saveStreaks(tx: Transaction, streaks: readonly StreakToSave[]): Promise<void> {
  if (streaks.length === 0) return;
  const column = <T>(pick: (streak: StreakToSave) => T) => streaks.map(pick);
  await tx`
    insert into streaks (user_id, streak_key, tenant_id, current, longest, freezes, last_day, run_start, last_event_at, anchor_day, anchor_start)
    select * from unnest(
      ${tx.array(column((s) => s.owner.userId), pgArrayType.uuid)}::uuid[], ${tx.array(column((s) => s.owner.key), pgArrayType.text)}::text[],
      ${tx.array(column((s) => s.owner.tenantId), pgArrayType.uuid)}::uuid[], ${tx.array(column((s) => String(s.state.current)), pgArrayType.int8)}::int4[],
      ${tx.array(column((s) => String(s.state.longest)), pgArrayType.int8)}::int4[], ${tx.array(column((s) => String(s.state.freezes)), pgArrayType.int8)}::int4[],
      ${tx.array(column((s) => s.state.lastDay), pgArrayType.text)}::date[], ${tx.array(column((s) => s.state.runStart), pgArrayType.text)}::date[],
      ${tx.array(column((s) => s.guard.lastAt.toISOString()), pgArrayType.text)}::timestamptz[], ${tx.array(column((s) => s.guard.anchorDay), pgArrayType.text)}::date[],
      ${tx.array(column((s) => s.guard.anchorStart.toISOString()), pgArrayType.text)}::timestamptz[])
    on conflict (user_id, streak_key) do update set current = excluded.current, longest = excluded.longest, freezes = excluded.freezes,
      last_day = excluded.last_day, run_start = excluded.run_start, last_event_at = excluded.last_event_at,
      anchor_day = excluded.anchor_day, anchor_start = excluded.anchor_start, updated_at = now()`;
}

/** The rewards of milestones reached; the source key names the run, so a milestone pays once per run however often it is refolded. */
export function milestoneGrants(owner: StreakOwner, rule: StreakRule, milestones: MilestoneReached[]): GrantRequest[] {
  return milestones.flatMap((milestone) => {
    const spec = rule.milestones.find((candidate) => candidate.days === milestone.days);
    return spec ? [{ tenantId: owner.tenantId, userId: owner.userId, source: 'streak', sourceKey: `${rule.key}:${milestone.runStart}:${milestone.days}`, spec: spec.reward }] : [];
  });
}

/** A stored streak as the API shows it: as of the user's today. */
export function streakViewOf(key: string, state: StreakState, today: LocalDay, zone: string): StreakView {
  const { current, longest, freezes, lastDay, alive, atRisk } = streakAsOf(state, today, zone);
  return { key, current, longest, freezes, lastDay, alive, atRisk };
}
