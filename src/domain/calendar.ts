import { DateTime } from 'luxon';

/**
 * Local calendar days in IANA time zones, through luxon (the tz database, not fixed offsets), so
 * DST shifts of an hour or of thirty minutes and days a zone skipped entirely (Pacific/Apia's
 * 2011-12-30) come out right. A day is an ISO date string, `YYYY-MM-DD`.
 */

export type LocalDay = string;

/** The local date of an instant in a zone. */
export function localDay(at: Date, zone: string): LocalDay {
  return DateTime.fromJSDate(at, { zone }).toISODate() as LocalDay;
}

/** Whether a zone had this date at all (Pacific/Apia never had 2011-12-30). */
export function dayExistsIn(day: LocalDay, zone: string): boolean {
  return localDay(startOfLocalDay(day, zone), zone) === day;
}

/** The first instant of a local day (not always 00:00: some zones start DST at midnight). */
export function startOfLocalDay(day: LocalDay, zone: string): Date {
  return DateTime.fromISO(day, { zone }).startOf('day').toJSDate();
}

/** The first instant after a local day: when the next existing local day begins. */
export function endOfLocalDay(day: LocalDay, zone: string): Date {
  return DateTime.fromISO(day, { zone }).endOf('day').plus({ milliseconds: 1 }).toJSDate();
}

/** The local day that follows `day` in `zone`, skipping dates the zone never had. */
export function nextLocalDay(day: LocalDay, zone: string): LocalDay {
  return localDay(endOfLocalDay(day, zone), zone);
}

/**
 * How many local days of `zone` lie strictly between two days (0 for consecutive days). Dates a
 * zone skipped do not count: in Pacific/Apia 2011-12-29 and 2011-12-31 are consecutive. Counting
 * stops at `cap`, which is all a caller comparing against a small number needs.
 */
export function daysBetween(earlier: LocalDay, later: LocalDay, zone: string, cap = 366): number {
  if (later <= earlier) return 0;
  const calendarGap = DateTime.fromISO(later, { zone: 'UTC' }).diff(DateTime.fromISO(earlier, { zone: 'UTC' }), 'days').days - 1;
  if (calendarGap > cap) return cap;
  let missed = 0;
  for (let day = nextLocalDay(earlier, zone); day < later && missed < cap; day = nextLocalDay(day, zone)) missed += 1;
  return missed;
}

/** The instant a local wall-clock time occurs on a day; a time the zone skipped moves forward (luxon's rule). */
export function atLocalTime(day: LocalDay, zone: string, hour: number, minute = 0): Date {
  return DateTime.fromISO(day, { zone }).set({ hour, minute, second: 0, millisecond: 0 }).toJSDate();
}

/** A date `count` calendar days after `day` (plain date arithmetic, zone-free). */
export function addCalendarDays(day: LocalDay, count: number): LocalDay {
  return DateTime.fromISO(day, { zone: 'UTC' }).plus({ days: count }).toISODate() as LocalDay;
}
