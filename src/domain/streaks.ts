import type { StreakRule } from '../contracts/api/rules.js';
import { DateTime } from 'luxon';
import { addCalendarDays, daysBetween, localDay, startOfLocalDay, type LocalDay } from './calendar.js';

/**
 * Streak arithmetic over local days. A streak grows by one for each local day with a qualifying
 * event; missed days are covered by freezes while any are held (a covered day keeps the streak
 * but does not add to it), otherwise the streak restarts. A freeze is earned every
 * `freezeEveryDays` consecutive days, up to `maxFreezes` held. Applying days in order
 * (`stepStreak`) and folding the sorted set of days (`foldStreak`) are the same function, so a
 * late event for an earlier day is handled by refolding.
 */

export interface StreakState {
  current: number;
  longest: number;
  lastDay: LocalDay | null;
  /** First day of the current run: milestones are granted once per run. */
  runStart: LocalDay | null;
  freezes: number;
}

export interface MilestoneReached {
  days: number;
  runStart: LocalDay;
}

export interface StreakStep {
  state: StreakState;
  /** Days a freeze covered on the way to this day. */
  freezesSpent: number;
  /** Freezes earned on this day. */
  freezesEarned: number;
  milestones: MilestoneReached[];
  restarted: boolean;
}

export const EMPTY_STREAK: StreakState = { current: 0, longest: 0, lastDay: null, runStart: null, freezes: 0 };

/** The streak after one more qualifying day, later than `state.lastDay`. */
export function stepStreak(state: StreakState, day: LocalDay, rule: StreakRule, zone: string): StreakStep {
  if (state.lastDay !== null && day <= state.lastDay) return { state, freezesSpent: 0, freezesEarned: 0, milestones: [], restarted: false };
  const missed = state.lastDay === null ? Number.POSITIVE_INFINITY : daysBetween(state.lastDay, day, zone, state.freezes + 1);
  let { freezes } = state;
  let freezesSpent: number;
  let current: number;
  let runStart: LocalDay;
  const restarted = missed > freezes;
  if (restarted) {
    // Freezes are spent day by day, so a gap longer than the freezes held uses them all up.
    freezesSpent = state.lastDay === null ? 0 : freezes;
    freezes = 0;
    current = 1;
    runStart = day;
  } else {
    freezesSpent = missed;
    freezes -= missed;
    current = state.current + 1;
    runStart = state.runStart ?? day;
  }
  const earned = current % rule.freezeEveryDays === 0 && freezes < rule.maxFreezes ? 1 : 0;
  const next: StreakState = { current, longest: Math.max(state.longest, current), lastDay: day, runStart, freezes: freezes + earned };
  const milestones = rule.milestones.filter((milestone) => milestone.days === current).map((milestone) => ({ days: milestone.days, runStart }));
  return { state: next, freezesSpent, freezesEarned: earned, milestones, restarted };
}

/** The streak over a set of qualifying days (any order, duplicates ignored), with every milestone reached on the way. */
export function foldStreak(days: Iterable<LocalDay>, rule: StreakRule, zone: string): { state: StreakState; milestones: MilestoneReached[] } {
  let state = EMPTY_STREAK;
  const milestones: MilestoneReached[] = [];
  for (const day of [...new Set(days)].sort()) {
    const step = stepStreak(state, day, rule, zone);
    state = step.state;
    milestones.push(...step.milestones);
  }
  return { state, milestones };
}

export interface StreakView extends StreakState {
  /** Alive today: it can still grow without restarting. */
  alive: boolean;
  /** Alive, but today has no qualifying day yet. */
  atRisk: boolean;
}

/**
 * The streak as of `today`: days missed since the last one use up freezes as they pass; once
 * more days are missed than freezes held, the streak is over (current 0).
 */
export function streakAsOf(state: StreakState, today: LocalDay, zone: string): StreakView {
  if (state.lastDay === null) return { ...state, alive: false, atRisk: false };
  if (state.lastDay >= today) return { ...state, alive: true, atRisk: false };
  const missed = daysBetween(state.lastDay, today, zone, state.freezes + 1);
  if (missed > state.freezes) return { ...state, current: 0, freezes: 0, alive: false, atRisk: false };
  return { ...state, freezes: state.freezes - missed, alive: true, atRisk: true };
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** A calendar may start a day up to this much later than the wall clock's midnight (DST at midnight) before it counts as zone hopping. */
const WALL_CLOCK_TOLERANCE_MS = 3 * 60 * 60 * 1000;

/**
 * What a streak remembers of past events to credit the next one: the latest event (its day and
 * instant), and the anchor: the instant the latest credited day began on the user's calendar.
 */
export interface DayGuard {
  lastDay: LocalDay;
  lastAt: Date;
  anchorDay: LocalDay;
  anchorStart: Date;
}

/** An instant as a zone's wall clock reads it, in ms since 1970-01-01T00:00 wall time. */
const wallClock = (at: Date, zone: string) => at.getTime() + DateTime.fromJSDate(at, { zone }).offset * 60_000;
const calendarDaysFrom = (from: LocalDay, to: LocalDay) => Math.round((Date.parse(to) - Date.parse(from)) / DAY_MS);

/**
 * The local day an event is credited to. The anchor's day start, read on the wall clock of the
 * zone the user is in now, says how many days can have begun since: in one zone that is exactly
 * the zone's own date (DST and skipped dates included, so nothing is clamped), while a zone
 * change that would jump ahead (a day in a minute over the date line) is clamped to the calendar
 * the user was on. So a zone change never creates an extra day, and moving west cannot reopen a
 * day before the last one. An event older than the last one is late: it counts for its own day.
 */
export function creditDay(at: Date, zone: string, guard: DayGuard | null): { day: LocalDay; guard: DayGuard } {
  const zoneDay = localDay(at, zone);
  if (guard === null) return { day: zoneDay, guard: { lastDay: zoneDay, lastAt: at, anchorDay: zoneDay, anchorStart: startOfLocalDay(zoneDay, zone) } };
  if (at < guard.lastAt) return { day: zoneDay, guard };
  const anchorWall = wallClock(guard.anchorStart, zone);
  const latest = addCalendarDays(guard.anchorDay, Math.floor((wallClock(at, zone) - anchorWall) / DAY_MS));
  const day = zoneDay > latest ? latest : zoneDay < guard.lastDay ? guard.lastDay : zoneDay;
  if (day === guard.lastDay) return { day, guard: { ...guard, lastAt: at } };
  // The new day begins at the zone's own start of it, unless the old calendar starts it later.
  const elapsed = calendarDaysFrom(guard.anchorDay, day) * DAY_MS;
  const ownStart = startOfLocalDay(day, zone);
  const onOldCalendar = anchorWall + elapsed > wallClock(ownStart, zone) + WALL_CLOCK_TOLERANCE_MS;
  const anchorStart = onOldCalendar ? new Date(guard.anchorStart.getTime() + elapsed) : ownStart;
  return { day, guard: { lastDay: day, lastAt: at, anchorDay: day, anchorStart } };
}

/**
 * The guard after an admin credited days without events. A repaired day later than the anchor
 * becomes the anchor, starting at its own start of day, and the latest event is taken to be no
 * earlier than that start: an event from before it then counts as late, for its own day, instead
 * of being clamped forward onto the repaired day.
 */
export function guardAfterRepair(guard: DayGuard | null, lastDay: LocalDay, zone: string): DayGuard {
  if (guard && guard.anchorDay >= lastDay) return guard;
  const start = startOfLocalDay(lastDay, zone);
  const lastAt = guard && guard.lastAt > start ? guard.lastAt : start;
  return { lastDay, lastAt, anchorDay: lastDay, anchorStart: start };
}
