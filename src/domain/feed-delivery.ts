import { atLocalTime, endOfLocalDay, localDay, nextLocalDay, startOfLocalDay, type LocalDay } from './calendar.js';

/**
 * When a `feed:updated` push may go to a user. Not during their quiet hours (local wall-clock
 * times in their IANA zone, possibly wrapping midnight; equal start and end mean none), and at
 * most `dailyBudget` a local day. Quiet hours are the instants from `start` to `end` as the tz
 * database maps them: a wall time the zone skipped is taken one offset later and a repeated one
 * at its first occurrence (luxon's rules, as in calendar.ts). Updates past the budget are folded
 * into the next day's first one: they are held until the next local day begins, or until the
 * quiet hours covering that moment end, whichever is later.
 */

export interface ClockTime {
  hour: number;
  minute: number;
}

export interface QuietHours {
  start: string;
  end: string;
}

export interface FeedPushState {
  /** The local day `pushesToday` counts, yyyy-mm-dd in the user's zone. */
  localDay: LocalDay | null;
  pushesToday: number;
}

export interface FeedPushInput {
  now: Date;
  zone: string;
  quietHours?: QuietHours | null;
  dailyBudget?: number;
  state: FeedPushState;
}

export type FeedPushDecision =
  | { kind: 'push'; localDay: LocalDay; pushesToday: number }
  | { kind: 'hold_quiet'; releaseAt: Date }
  | { kind: 'hold_budget'; releaseAt: Date };

export const DEFAULT_FEED_PUSH_BUDGET = 3;

/** 'HH:MM' on a 24-hour clock (00:00–23:59), or null; for config and rules validation. */
export function parseClockTime(text: string): ClockTime | null {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return match ? { hour: Number(match[1]), minute: Number(match[2]) } : null;
}

function clockTime(text: string): ClockTime {
  const parsed = parseClockTime(text);
  if (parsed === null) throw new RangeError(`quiet hours must be HH:MM, got ${JSON.stringify(text)}`);
  return parsed;
}

function previousLocalDay(day: LocalDay, zone: string): LocalDay {
  return localDay(new Date(startOfLocalDay(day, zone).getTime() - 1), zone);
}

/** The end of the quiet hours covering `instant`, or null when it is outside them. */
export function quietUntil(instant: Date, zone: string, quietHours: QuietHours | null | undefined): Date | null {
  if (!quietHours) return null;
  const start = clockTime(quietHours.start);
  const end = clockTime(quietHours.end);
  const startMinutes = start.hour * 60 + start.minute;
  const endMinutes = end.hour * 60 + end.minute;
  if (startMinutes === endMinutes) return null;
  const today = localDay(instant, zone);
  const wraps = startMinutes > endMinutes;
  // The windows that can cover an instant: one starting today, and with a wrap one starting yesterday.
  const starts = wraps ? [previousLocalDay(today, zone), today] : [today];
  for (const day of starts) {
    const from = atLocalTime(day, zone, start.hour, start.minute);
    const until = atLocalTime(wraps ? nextLocalDay(day, zone) : day, zone, end.hour, end.minute);
    if (from <= instant && instant < until) return until;
  }
  return null;
}

/** Push now, or hold until when. `push` carries the state to store after sending. */
export function decideFeedPush({ now, zone, quietHours, dailyBudget = DEFAULT_FEED_PUSH_BUDGET, state }: FeedPushInput): FeedPushDecision {
  if (!(dailyBudget >= 1) || !(Number.isInteger(dailyBudget) || dailyBudget === Number.POSITIVE_INFINITY)) {
    throw new RangeError(`dailyBudget must be a whole number of at least 1, got ${dailyBudget}`);
  }
  const today = localDay(now, zone);
  const pushesToday = state.localDay === today ? state.pushesToday : 0;
  if (pushesToday >= dailyBudget) {
    const tomorrow = endOfLocalDay(today, zone);
    return { kind: 'hold_budget', releaseAt: quietUntil(tomorrow, zone, quietHours) ?? tomorrow };
  }
  const releaseAt = quietUntil(now, zone, quietHours);
  if (releaseAt !== null) return { kind: 'hold_quiet', releaseAt };
  return { kind: 'push', localDay: today, pushesToday: pushesToday + 1 };
}
