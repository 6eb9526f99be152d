import type { StreakRule } from '../api/rules.js';
import { pgArrayType, type Transaction } from '../db/client.js';
import type { LocalDay } from '../engine/calendar.js';
import type { StreakView } from '../api/state.js';
import { streakAsOf, type DayGuard, type MilestoneReached, type StreakState } from '../engine/streaks.js';
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

interface StreakRow {
  current: number;
  longest: number;
  freezes: number;
  last_day: string;
  run_start: string;
  last_event_at: string;
  anchor_day: string;
  anchor_start: string;
}

// Timestamps and dates arrive as strings: drizzle replaces postgres.js's parsers on the shared client.
export async function readStreak(tx: Transaction, owner: StreakOwner): Promise<StoredStreak | null> {
  const [row] = await tx<StreakRow[]>`
    select current, longest, freezes, last_day, run_start, last_event_at, anchor_day, anchor_start
    from streaks where user_id = ${owner.userId} and streak_key = ${owner.key}`;
  if (!row) return null;
  return {
    state: { current: row.current, longest: row.longest, freezes: row.freezes, lastDay: row.last_day, runStart: row.run_start },
    guard: { lastDay: row.last_day, lastAt: new Date(row.last_event_at), anchorDay: row.anchor_day, anchorStart: new Date(row.anchor_start) },
  };
}

/** Credits days to a streak; returns those it did not hold yet. */
export async function creditDays(tx: Transaction, owner: StreakOwner, days: LocalDay[]): Promise<LocalDay[]> {
  const rows = await tx<{ day: string }[]>`
    insert into streak_days (user_id, streak_key, day) select ${owner.userId}, ${owner.key}, unnest(${tx.array(days, pgArrayType.text)}::date[])
    on conflict do nothing returning day`;
  return rows.map((row) => row.day).sort();
}

export async function creditedDays(tx: Transaction, owner: StreakOwner): Promise<LocalDay[]> {
  const rows = await tx<{ day: string }[]>`select day from streak_days where user_id = ${owner.userId} and streak_key = ${owner.key}`;
  return rows.map((row) => row.day);
}

/** Stores a streak's state; `state.lastDay` must be set (a streak is saved only once it has a day). */
export async function saveStreak(tx: Transaction, owner: StreakOwner, state: StreakState, guard: DayGuard): Promise<void> {
  await tx`
    insert into streaks (user_id, streak_key, tenant_id, current, longest, freezes, last_day, run_start, last_event_at, anchor_day, anchor_start)
    values (${owner.userId}, ${owner.key}, ${owner.tenantId}, ${state.current}, ${state.longest}, ${state.freezes}, ${state.lastDay}, ${state.runStart},
            ${guard.lastAt.toISOString()}, ${guard.anchorDay}, ${guard.anchorStart.toISOString()})
    on conflict (user_id, streak_key) do update set current = excluded.current, longest = excluded.longest, freezes = excluded.freezes,
      last_day = excluded.last_day, run_start = excluded.run_start, last_event_at = excluded.last_event_at,
      anchor_day = excluded.anchor_day, anchor_start = excluded.anchor_start, updated_at = now()`;
}

export async function saveGuard(tx: Transaction, owner: StreakOwner, guard: DayGuard): Promise<void> {
  await tx`
    update streaks set last_event_at = ${guard.lastAt.toISOString()}, anchor_day = ${guard.anchorDay}, anchor_start = ${guard.anchorStart.toISOString()}
    where user_id = ${owner.userId} and streak_key = ${owner.key}`;
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
