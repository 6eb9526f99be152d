import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { streakRuleSchema } from '../../src/contracts/api/rules.js';
import { daysBetween, localDay, nextLocalDay, type LocalDay } from '../../src/domain/calendar.js';
import { creditDay, EMPTY_STREAK, foldStreak, guardAfterRepair, stepStreak, streakAsOf, type DayGuard, type StreakState } from '../../src/domain/streaks.js';
import { adoptZone, ZONE_CHANGE_COOLDOWN_MS, zoneAt, type ZoneState } from '../../src/domain/time-zones.js';

const ZONES = ['America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Pacific/Apia', 'Asia/Kolkata', 'UTC'] as const;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const rule = streakRuleSchema.parse({
  key: 'daily',
  freezeEveryDays: 7,
  maxFreezes: 2,
  milestones: [3, 7, 14, 30].map((days) => ({ days, reward: { kind: 'points', amount: days } })),
});

/** Instants from 2011 to 2026: covers Apia's skipped day and many DST changes in every zone above. */
const instant = fc.integer({ min: Date.UTC(2011, 0, 1), max: Date.UTC(2026, 0, 1) }).map((ms) => new Date(ms));

/**
 * The reference model, written independently of the implementation: walk every local day of
 * the zone from the first active day to the last, spending a freeze on each missed day while
 * any are held and restarting otherwise.
 */
function referenceStreak(activeDays: LocalDay[], zone: string): StreakState {
  const active = new Set(activeDays);
  const sorted = [...active].sort();
  const first = sorted[0];
  const last = sorted.at(-1);
  if (first === undefined || last === undefined) return EMPTY_STREAK;
  let current = 0;
  let longest = 0;
  let freezes = 0;
  let runStart: LocalDay = first;
  let broken = false;
  for (let day = first; day <= last; day = nextLocalDay(day, zone)) {
    if (active.has(day)) {
      if (broken) {
        current = 0;
        runStart = day;
        broken = false;
      }
      current += 1;
      if (current % rule.freezeEveryDays === 0 && freezes < rule.maxFreezes) freezes += 1;
      longest = Math.max(longest, current);
    } else if (freezes > 0 && !broken) {
      freezes -= 1;
    } else {
      broken = true;
      freezes = 0;
    }
  }
  return { current, longest, lastDay: last, runStart, freezes };
}

/** Local days of a zone starting at an instant's day, each active or not. */
const activityPattern = fc.record({
  zone: fc.constantFrom(...ZONES),
  start: instant,
  pattern: fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }),
});

function activeDaysOf({ zone, start, pattern }: { zone: string; start: Date; pattern: boolean[] }): LocalDay[] {
  const days: LocalDay[] = [];
  let day = localDay(start, zone);
  for (const active of pattern) {
    if (active) days.push(day);
    day = nextLocalDay(day, zone);
  }
  return days;
}

describe('calendar', () => {
  it('treats days a zone skipped as non-existent and DST days as whole days', () => {
    expect(nextLocalDay('2011-12-29', 'Pacific/Apia')).toBe('2011-12-31');
    expect(daysBetween('2011-12-29', '2011-12-31', 'Pacific/Apia')).toBe(0);
    expect(daysBetween('2011-12-29', '2011-12-31', 'UTC')).toBe(1);
    // Lord Howe moves by 30 minutes: 2024-10-06 is 23.5 hours long and still one day.
    expect(nextLocalDay('2024-10-06', 'Australia/Lord_Howe')).toBe('2024-10-07');
    expect(localDay(new Date('2024-03-10T06:59:00Z'), 'America/New_York')).toBe('2024-03-10');
    expect(localDay(new Date('2024-03-10T04:59:00Z'), 'America/New_York')).toBe('2024-03-09');
  });
});

describe('streak arithmetic', () => {
  it('matches the day-by-day reference model across zones, DST changes and gaps', () => {
    fc.assert(
      fc.property(activityPattern, (input) => {
        const days = activeDaysOf(input);
        const { state } = foldStreak(days, rule, input.zone);
        expect(state).toEqual(referenceStreak(days, input.zone));
      }),
      { numRuns: 300 },
    );
  });

  it('counts N consecutive local days as a streak of N, whatever the time of day of each event', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), instant, fc.array(fc.integer({ min: 0, max: DAY - 1 }), { minLength: 1, maxLength: 40 }), (zone, start, offsets) => {
        let day = localDay(start, zone);
        const days: LocalDay[] = [];
        for (const offset of offsets) {
          // An instant somewhere inside the local day, found from its start.
          const at = new Date(Date.parse(`${day}T00:00:00Z`) - 14 * HOUR + offset);
          const inDay = localDay(at, zone) === day ? day : localDay(at, zone);
          days.push(inDay);
          day = nextLocalDay(inDay, zone);
        }
        const { state } = foldStreak(days, rule, zone);
        expect(state.current).toBe(new Set(days).size);
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same streak whatever order the days arrive in (late events refold)', () => {
    fc.assert(
      fc.property(
        activityPattern.chain((input) => fc.record({ input: fc.constant(input), order: fc.shuffledSubarray(activeDaysOf(input), { minLength: activeDaysOf(input).length }) })),
        ({ input, order }) => {
          let state = EMPTY_STREAK;
          const seen: LocalDay[] = [];
          for (const day of order) {
            seen.push(day);
            state = state.lastDay !== null && day < state.lastDay ? foldStreak(seen, rule, input.zone).state : stepStreak(state, day, rule, input.zone).state;
          }
          expect(state).toEqual(foldStreak(order, rule, input.zone).state);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('earns a freeze every 7 days, holds at most 2, and spends them on missed days', () => {
    const zone = 'Europe/London';
    let day: LocalDay = '2026-03-20';
    const days: LocalDay[] = [];
    for (let i = 0; i < 21; i += 1, day = nextLocalDay(day, zone)) days.push(day);
    const after21 = foldStreak(days, rule, zone);
    expect(after21.state).toMatchObject({ current: 21, freezes: 2 });
    expect(after21.milestones.map((m) => m.days)).toEqual([3, 7, 14]);
    // 2026-03-29 is London's spring-forward day, inside the run: still one day.
    // Two missed days are covered by the two freezes; the streak continues without growing for them.
    const resumed = stepStreak(after21.state, '2026-04-12', rule, zone);
    expect(resumed).toMatchObject({ freezesSpent: 2, restarted: false, state: { current: 22, freezes: 0 } });
    // A third missed day breaks it.
    const broken = stepStreak(after21.state, '2026-04-13', rule, zone);
    expect(broken).toMatchObject({ restarted: true, state: { current: 1, longest: 21, freezes: 0, runStart: '2026-04-13' } });
  });

  it('reports a streak at risk today, spends freezes as days pass, and ends it after that', () => {
    const state: StreakState = { current: 10, longest: 10, lastDay: '2026-11-20', runStart: '2026-11-11', freezes: 1 };
    expect(streakAsOf(state, '2026-11-20', 'UTC')).toMatchObject({ alive: true, atRisk: false, current: 10 });
    expect(streakAsOf(state, '2026-11-21', 'UTC')).toMatchObject({ alive: true, atRisk: true, current: 10, freezes: 1 });
    expect(streakAsOf(state, '2026-11-22', 'UTC')).toMatchObject({ alive: true, atRisk: true, current: 10, freezes: 0 });
    expect(streakAsOf(state, '2026-11-23', 'UTC')).toMatchObject({ alive: false, current: 0 });
  });
});

describe('time-zone guard', () => {
  it('never changes the day of events in one fixed zone, DST included', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), fc.array(instant, { minLength: 1, maxLength: 40 }), (zone, instants) => {
        let guard: DayGuard | null = null;
        for (const at of [...instants].sort((a, b) => a.getTime() - b.getTime())) {
          const credited = creditDay(at, zone, guard);
          expect(credited.day).toBe(localDay(at, zone));
          guard = credited.guard;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the days of Apia around the date it skipped, and of a late event, as they are', () => {
    const eve = creditDay(new Date('2011-12-30T09:30:00Z'), 'Pacific/Apia', null);
    expect(eve.day).toBe('2011-12-29');
    // One hour later it is 2011-12-31 in Apia: the next day there, not an extra one.
    const next = creditDay(new Date('2011-12-30T10:30:00Z'), 'Pacific/Apia', eve.guard);
    expect(next.day).toBe('2011-12-31');
    expect(foldStreak([eve.day, next.day], rule, 'Pacific/Apia').state.current).toBe(2);
    expect(creditDay(new Date('2011-12-28T12:00:00Z'), 'Pacific/Apia', next.guard)).toEqual({ day: '2011-12-28', guard: next.guard });
  });

  it('cannot create an extra day by hopping zones: credited days advance no faster than a fixed zone allows', () => {
    const hops = fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 30 * HOUR }), zone: fc.constantFrom('Pacific/Kiritimati', 'Pacific/Pago_Pago', ...ZONES.filter((zone) => zone !== 'Pacific/Apia')) }), {
      minLength: 2,
      maxLength: 40,
    });
    fc.assert(
      fc.property(instant, hops, (start, steps) => {
        let at = start;
        let guard: DayGuard | null = null;
        const credited: { day: LocalDay; at: Date }[] = [];
        for (const step of steps) {
          at = new Date(at.getTime() + step.gapMs);
          const next = creditDay(at, step.zone, guard);
          guard = next.guard;
          credited.push({ day: next.day, at });
        }
        const first = credited[0] as { day: LocalDay; at: Date };
        const final = credited.at(-1) as { day: LocalDay; at: Date };
        const elapsedDays = (Date.parse(final.day) - Date.parse(first.day)) / DAY;
        expect(elapsedDays).toBeLessThanOrEqual(Math.floor((final.at.getTime() - first.at.getTime() + 3 * HOUR) / DAY) + 1);
        expect(new Set(credited.map((c) => c.day)).size).toBeLessThanOrEqual(elapsedDays + 1);
      }),
      { numRuns: 300 },
    );
    // The classic trick: 23:30 in Pago Pago, then "fly" to Kiritimati (25 h ahead, already 2026-06-02) a minute later.
    const before = new Date('2026-06-01T10:30:00Z');
    const first = creditDay(before, 'Pacific/Pago_Pago', null);
    expect(first.day).toBe('2026-05-31');
    const after = new Date(before.getTime() + 60_000);
    expect(localDay(after, 'Pacific/Kiritimati')).toBe('2026-06-02');
    // Still 2026-05-31 for the streak: the next day begins at Pago Pago's midnight, not two days on in a minute.
    const hopped = creditDay(after, 'Pacific/Kiritimati', first.guard);
    expect(hopped.day).toBe('2026-05-31');
    expect(creditDay(new Date('2026-06-01T10:59:59Z'), 'Pacific/Kiritimati', hopped.guard).day).toBe('2026-05-31');
    expect(creditDay(new Date('2026-06-01T11:00:01Z'), 'Pacific/Kiritimati', hopped.guard).day).toBe('2026-06-01');
  });

  it('after a repaired day, events in one zone still count for their own day: later ones on the repaired streak, earlier ones as late', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        instant,
        fc.boolean(),
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.integer({ min: -6 * DAY, max: 3 * DAY }), { maxLength: 20 }),
        (zone, now, hadEvents, daysBack, offsets) => {
          const earlier = hadEvents ? creditDay(new Date(now.getTime() - 8 * DAY), zone, null).guard : null;
          const repairedDay = localDay(new Date(now.getTime() - daysBack * DAY), zone);
          let guard = guardAfterRepair(earlier, repairedDay, zone);
          expect(guard.lastDay).toBe(repairedDay);
          for (const offset of [...offsets].sort((a, b) => a - b)) {
            const at = new Date(now.getTime() + offset);
            const credited = creditDay(at, zone, guard);
            expect(credited.day).toBe(localDay(at, zone));
            guard = credited.guard;
          }
        },
      ),
      { numRuns: 300 },
    );
    const guard = creditDay(new Date('2026-05-10T12:00:00Z'), 'UTC', null).guard;
    expect(guardAfterRepair(guard, '2026-05-09', 'UTC')).toBe(guard);
  });

  it('adopts a new zone at most once per 24 hours and counts earlier events in the zone held before', () => {
    fc.assert(
      fc.property(instant, fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 40 * HOUR }), zone: fc.constantFrom(...ZONES) }), { maxLength: 30 }), (start, reports) => {
        let state: ZoneState = { zone: 'UTC', previousZone: null, changedAt: null };
        let at = start;
        const changes: number[] = [];
        for (const report of reports) {
          at = new Date(at.getTime() + report.gapMs);
          const next = adoptZone(state, report.zone, at);
          if (next.changed) changes.push(at.getTime());
          state = next.state;
        }
        for (let i = 1; i < changes.length; i += 1) expect((changes[i] as number) - (changes[i - 1] as number)).toBeGreaterThanOrEqual(ZONE_CHANGE_COOLDOWN_MS);
      }),
      { numRuns: 200 },
    );
    const moved = adoptZone({ zone: 'Europe/London', previousZone: null, changedAt: null }, 'Asia/Kolkata', new Date('2026-05-01T12:00:00Z')).state;
    expect(zoneAt(moved, new Date('2026-05-01T11:00:00Z'))).toBe('Europe/London');
    expect(zoneAt(moved, new Date('2026-05-01T13:00:00Z'))).toBe('Asia/Kolkata');
    expect(adoptZone(moved, 'UTC', new Date('2026-05-02T11:59:00Z')).changed).toBe(false);
    expect(adoptZone(moved, 'UTC', new Date('2026-05-02T12:00:00Z')).changed).toBe(true);
  });
});
