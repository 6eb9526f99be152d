import { describe, expect, it } from 'vitest';
import * as format from '../../src/server/dashboard/public/format.js';

/** A hand-driven clock and timer list for the conflator. */
function fakeTime() {
  let now = 0;
  const timers: { at: number; run: () => void; cleared: boolean }[] = [];
  return {
    now: () => now,
    setTimer: (run: () => void, ms: number) => {
      const timer = { at: now + ms, run, cleared: false };
      timers.push(timer);
      return timer;
    },
    clearTimer: (timer: unknown) => void ((timer as { cleared: boolean }).cleared = true),
    advance(ms: number) {
      now += ms;
      for (const timer of timers.splice(0)) {
        if (timer.cleared) continue;
        if (timer.at <= now) timer.run();
        else timers.push(timer);
      }
    },
  };
}

describe('dashboard repaint conflation', () => {
  it('paints a tile at once, then at most once per interval with the latest state', () => {
    const time = fakeTime();
    const conflator = format.createConflator({ intervalMs: 1000, ...time });
    const painted: string[] = [];
    conflator.schedule('users', () => painted.push('a'));
    expect(painted).toEqual(['a']);
    time.advance(100);
    conflator.schedule('users', () => painted.push('b'));
    conflator.schedule('users', () => painted.push('c'));
    expect(painted).toEqual(['a']);
    time.advance(899);
    expect(painted).toEqual(['a']);
    time.advance(1);
    expect(painted).toEqual(['a', 'c']);
    // A quiet tile paints at once again.
    time.advance(5000);
    conflator.schedule('users', () => painted.push('d'));
    expect(painted).toEqual(['a', 'c', 'd']);
  });

  it('keeps tiles independent and drops pending paints on clear', () => {
    const time = fakeTime();
    const conflator = format.createConflator({ intervalMs: 1000, ...time });
    const painted: string[] = [];
    conflator.schedule('a', () => painted.push('a1'));
    conflator.schedule('b', () => painted.push('b1'));
    conflator.schedule('a', () => painted.push('a2'));
    expect(painted).toEqual(['a1', 'b1']);
    conflator.clear();
    time.advance(2000);
    expect(painted).toEqual(['a1', 'b1']);
  });

  it('never paints one tile more than once per interval under a flood of updates', () => {
    const time = fakeTime();
    const conflator = format.createConflator({ intervalMs: 1000, ...time });
    const paintTimes: number[] = [];
    for (let t = 0; t < 10_000; t += 10) {
      conflator.schedule('queue:engagement', () => paintTimes.push(time.now()));
      time.advance(10);
    }
    expect(paintTimes.length).toBeLessThanOrEqual(11);
    for (let i = 1; i < paintTimes.length; i += 1) expect((paintTimes[i] as number) - (paintTimes[i - 1] as number)).toBeGreaterThanOrEqual(1000);
  });
});

describe('dashboard chart buffers', () => {
  it('appends rows column by column and keeps the newest', () => {
    const columns: number[][] = [[], [], []];
    for (let i = 0; i < 5; i += 1) format.appendRow(columns, [i, i * 10, i * 100], 3);
    expect(columns).toEqual([
      [2, 3, 4],
      [20, 30, 40],
      [200, 300, 400],
    ]);
    expect(() => format.appendRow(columns, [1, 2], 3)).toThrow(/2 values/);
  });
});

describe('dashboard formatting', () => {
  it('gives counts their unit, singular or plural', () => {
    expect(format.formatWithUnit(1, 'user', 'users', 'en-US')).toBe('1 user');
    expect(format.formatWithUnit(0, 'event', 'events', 'en-US')).toBe('0 events');
    expect(format.formatWithUnit(12345, 'event', 'events', 'en-US')).toBe('12,345 events');
  });

  it('shows a measurement to two significant digits of its uncertainty, with its unit', () => {
    expect(format.decimalsFor(0.3)).toBe(2);
    expect(format.decimalsFor(2.5)).toBe(1);
    expect(format.decimalsFor(12)).toBe(0);
    expect(format.decimalsFor(0)).toBe(2);
    expect(format.decimalsFor(1e-12)).toBe(6);
    expect(format.formatMeasurement(21.0004, 0.5 / Math.sqrt(3), '°C', 'en-US')).toBe('21.00 ± 0.29 °C');
    expect(format.formatMeasurement(72.8, 1.789, 'bpm', 'en-US')).toBe('72.8 ± 1.8 bpm');
    expect(format.formatMeasurement(1234.5, 12, null, 'en-US')).toBe('1,235 ± 12');
    expect(format.formatMeasurement(5, null, 'kg', 'en-US')).toBe('5.00 kg');
    expect(format.formatInterval(19.9342, 21.0658, 0.29, '°C', 'en-US')).toBe('19.93 to 21.07 °C');
    expect(format.formatInterval(69.294, 76.306, 1.789, undefined, 'en-US')).toBe('69.3 to 76.3');
  });

  it('writes percentages, ages and exclusion reasons in words', () => {
    expect(format.formatPercent(33.3333, 'en-US')).toBe('33.3 %');
    expect(format.formatPercent(100, 'en-US')).toBe('100.0 %');
    expect(format.formatAge(12.4)).toBe('12 s ago');
    expect(format.formatAge(600)).toBe('10 min ago');
    expect(format.formatAge(7200)).toBe('2 h ago');
    expect(format.formatAge(-1)).toBe('just now');
    expect(format.describeExclusion('stale')).toBe('excluded: too old (stale)');
    expect(format.describeExclusion('outlier')).toMatch(/outlier/);
    expect(format.describeExclusion('unknown-reason')).toBe('excluded: unknown-reason');
    expect(format.describeExclusion(undefined)).toBe('');
  });
});

describe('dashboard sign-in helpers', () => {
  const jwt = (claims: object) => `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

  it('tells an access token from an API key', () => {
    expect(format.credentialKind('  ')).toBe('empty');
    expect(format.credentialKind('phk_0190c1a2b3c47d8e9f00112233445566_secret')).toBe('apiKey');
    expect(format.credentialKind(jwt({ sub: 'u' }))).toBe('accessToken');
  });

  it('reads a token claims for display and scheduling, and nothing from garbage', () => {
    expect(format.readTokenClaims(jwt({ tid: 't-1', role: 'admin', exp: 1_900_000_000, note: 'ünïcödé?' }))).toMatchObject({ tid: 't-1', role: 'admin', exp: 1_900_000_000, note: 'ünïcödé?' });
    expect(format.readTokenClaims('not-a-token')).toBeUndefined();
    expect(format.readTokenClaims('a.%%%.c')).toBeUndefined();
  });

  it('refreshes a minute before expiry, or a quarter of the life before for short tokens', () => {
    expect(format.refreshDelayMs(900)).toBe(840_000);
    expect(format.refreshDelayMs(20)).toBe(15_000);
    expect(format.refreshDelayMs(0.5)).toBe(1000);
  });

  it('says plainly why a sign-in failed', () => {
    expect(format.signInError(401, { detail: 'Invalid API key' })).toBe('That API key or token was not accepted (Invalid API key). Check it and try again.');
    expect(format.signInError(403, undefined)).toMatch(/may not open the dashboard/);
    expect(format.signInError(429, undefined)).toMatch(/Too many attempts/);
    expect(format.signInError(500, { title: 'x' })).toBe('Sign-in failed: the hub answered 500.');
  });
});
