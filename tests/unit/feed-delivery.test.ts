import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { localDay } from '../../src/domain/calendar.js';
import { decideFeedPush, parseClockTime, type FeedPushInput } from '../../src/domain/feed-delivery.js';

const QUIET = { start: '22:00', end: '07:00' };
const FRESH = { localDay: null, pushesToday: 0 };
const decide = (iso: string, zone: string, overrides: Partial<FeedPushInput> = {}) => decideFeedPush({ now: new Date(iso), zone, quietHours: QUIET, state: FRESH, ...overrides });

describe('parseClockTime', () => {
  it('reads HH:MM on a 24-hour clock and nothing else', () => {
    expect(parseClockTime('22:00')).toEqual({ hour: 22, minute: 0 });
    expect(parseClockTime('00:05')).toEqual({ hour: 0, minute: 5 });
    for (const bad of ['7:00', '24:00', '23:60', '22:00:00', ' 22:00', '', '2200']) expect(parseClockTime(bad)).toBeNull();
  });

  it('is refused in quiet hours and so is a budget below 1', () => {
    expect(() => decide('2026-01-15T12:00:00Z', 'UTC', { quietHours: { start: '10pm', end: '07:00' } })).toThrow(RangeError);
    expect(() => decide('2026-01-15T12:00:00Z', 'UTC', { dailyBudget: 0 })).toThrow(RangeError);
  });
});

describe('decideFeedPush: quiet hours', () => {
  it('holds across midnight until the end of the quiet hours', () => {
    // Berlin is UTC+1 in January.
    expect(decide('2026-01-15T20:59:00Z', 'Europe/Berlin')).toEqual({ kind: 'push', localDay: '2026-01-15', pushesToday: 1 });
    expect(decide('2026-01-15T21:00:00Z', 'Europe/Berlin')).toEqual({ kind: 'hold_quiet', releaseAt: new Date('2026-01-16T06:00:00Z') });
    expect(decide('2026-01-15T23:30:00Z', 'Europe/Berlin')).toEqual({ kind: 'hold_quiet', releaseAt: new Date('2026-01-16T06:00:00Z') });
    expect(decide('2026-01-16T05:59:00Z', 'Europe/Berlin')).toEqual({ kind: 'hold_quiet', releaseAt: new Date('2026-01-16T06:00:00Z') });
    expect(decide('2026-01-16T06:00:00Z', 'Europe/Berlin').kind).toBe('push');
  });

  it('holds within a day when the quiet hours do not wrap, and not at all when start equals end', () => {
    const lunch = { start: '12:00', end: '13:30' };
    expect(decide('2026-01-15T12:15:00Z', 'UTC', { quietHours: lunch })).toEqual({ kind: 'hold_quiet', releaseAt: new Date('2026-01-15T13:30:00Z') });
    expect(decide('2026-01-15T13:30:00Z', 'UTC', { quietHours: lunch }).kind).toBe('push');
    expect(decide('2026-01-15T23:00:00Z', 'UTC', { quietHours: { start: '07:00', end: '07:00' } }).kind).toBe('push');
    expect(decide('2026-01-15T23:00:00Z', 'UTC', { quietHours: null }).kind).toBe('push');
  });

  it('releases at 07:00 local on DST change days in Berlin', () => {
    // Spring forward (29 March): the night is an hour shorter, 07:00 is already CEST.
    expect(decide('2026-03-28T22:00:00Z', 'Europe/Berlin')).toEqual({ kind: 'hold_quiet', releaseAt: new Date('2026-03-29T05:00:00Z') });
    // Fall back (25 October): an hour longer, 07:00 is CET.
    expect(decide('2026-10-24T21:00:00Z', 'Europe/Berlin')).toEqual({ kind: 'hold_quiet', releaseAt: new Date('2026-10-25T06:00:00Z') });
    expect(decide('2026-10-25T05:30:00Z', 'Europe/Berlin')).toEqual({ kind: 'hold_quiet', releaseAt: new Date('2026-10-25T06:00:00Z') });
  });

  it('releases at 07:00 local on DST change days in New York, and handles skipped and repeated ends', () => {
    expect(decide('2026-03-08T04:00:00Z', 'America/New_York')).toEqual({ kind: 'hold_quiet', releaseAt: new Date('2026-03-08T11:00:00Z') });
    expect(decide('2026-11-01T04:00:00Z', 'America/New_York')).toEqual({ kind: 'hold_quiet', releaseAt: new Date('2026-11-01T12:00:00Z') });
    // 02:30 never happens on 8 March: it is taken one offset later, 03:30 EDT.
    const skipped = { start: '01:00', end: '02:30' };
    expect(decide('2026-03-08T06:30:00Z', 'America/New_York', { quietHours: skipped })).toEqual({ kind: 'hold_quiet', releaseAt: new Date('2026-03-08T07:30:00Z') });
    // 01:30 happens twice on 1 November: quiet ends at the first, the repeat is not quiet again.
    const repeated = { start: '22:00', end: '01:30' };
    expect(decide('2026-11-01T05:00:00Z', 'America/New_York', { quietHours: repeated })).toEqual({ kind: 'hold_quiet', releaseAt: new Date('2026-11-01T05:30:00Z') });
    expect(decide('2026-11-01T06:15:00Z', 'America/New_York', { quietHours: repeated }).kind).toBe('push');
  });
});

describe('decideFeedPush: daily budget', () => {
  it('counts pushes per local day and starts again on the next one', () => {
    const first = decide('2026-01-15T12:00:00Z', 'UTC', { state: { localDay: '2026-01-15', pushesToday: 2 } });
    expect(first).toEqual({ kind: 'push', localDay: '2026-01-15', pushesToday: 3 });
    expect(decide('2026-01-16T12:00:00Z', 'UTC', { state: { localDay: '2026-01-15', pushesToday: 3 } })).toEqual({ kind: 'push', localDay: '2026-01-16', pushesToday: 1 });
  });

  it("folds updates past the budget into the next day's first one, after that day's quiet hours", () => {
    const spent = { localDay: '2026-01-15', pushesToday: 3 };
    expect(decide('2026-01-15T12:00:00Z', 'Europe/Berlin', { state: spent })).toEqual({ kind: 'hold_budget', releaseAt: new Date('2026-01-16T06:00:00Z') });
    expect(decide('2026-01-15T12:00:00Z', 'Europe/Berlin', { state: spent, quietHours: null })).toEqual({ kind: 'hold_budget', releaseAt: new Date('2026-01-15T23:00:00Z') });
    // Quiet hours that do not cover midnight leave the release at midnight.
    expect(decide('2026-01-15T12:00:00Z', 'UTC', { state: spent, quietHours: { start: '01:00', end: '06:00' } })).toEqual({ kind: 'hold_budget', releaseAt: new Date('2026-01-16T00:00:00Z') });
    expect(decide('2026-01-15T12:00:00Z', 'UTC', { state: { localDay: '2026-01-15', pushesToday: 5 }, dailyBudget: 6 }).kind).toBe('push');
  });

  it('rolls the local day over in the user zone, not in UTC', () => {
    const spent = { localDay: '2026-01-15', pushesToday: 3 };
    // 15:30Z is already 00:30 on the 16th in Tokyo, still the 15th in New York.
    expect(decide('2026-01-15T15:30:00Z', 'Asia/Tokyo', { state: spent, quietHours: null })).toEqual({ kind: 'push', localDay: '2026-01-16', pushesToday: 1 });
    expect(decide('2026-01-15T15:30:00Z', 'America/New_York', { state: spent, quietHours: null })).toEqual({ kind: 'hold_budget', releaseAt: new Date('2026-01-16T05:00:00Z') });
  });
});

describe('decideFeedPush: properties', () => {
  const ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Pacific/Apia', 'Asia/Kolkata', 'UTC'] as const;
  const clock = fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })).map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
  const input = fc.record({
    now: fc.integer({ min: Date.UTC(2011, 0, 1), max: Date.UTC(2027, 0, 1) }).map((ms) => new Date(ms)),
    zone: fc.constantFrom(...ZONES),
    quietHours: fc.option(fc.record({ start: clock, end: clock }), { nil: null }),
    dailyBudget: fc.integer({ min: 1, max: 5 }),
    pushesToday: fc.integer({ min: 0, max: 6 }),
    sameDay: fc.boolean(),
  });

  it('releases later than now, into a moment that may push', () => {
    fc.assert(
      fc.property(input, ({ pushesToday, sameDay, ...rest }) => {
        const today = localDay(rest.now, rest.zone);
        const state = { localDay: sameDay ? today : null, pushesToday };
        const decision = decideFeedPush({ ...rest, state });
        if (decision.kind === 'push') {
          expect(decision.localDay).toBe(today);
          expect(decision.pushesToday).toBeLessThanOrEqual(rest.dailyBudget);
          return;
        }
        expect(decision.releaseAt.getTime()).toBeGreaterThan(rest.now.getTime());
        if (decision.kind === 'hold_budget') expect(localDay(decision.releaseAt, rest.zone)).not.toBe(today);
        // The same state at the release: a new day resets the count, and the quiet hours are over.
        expect(decideFeedPush({ ...rest, now: decision.releaseAt, state }).kind).toBe('push');
      }),
      { numRuns: 500 },
    );
  });
});
