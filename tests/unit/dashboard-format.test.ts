import { describe, expect, it } from 'vitest';
import type { ConnectionView, SyncProgress } from '../../src/contracts/api/connections.js';
import type { BackupStatus } from '../../src/contracts/backups.js';
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

describe('dashboard Feeds tile helpers', () => {
  it('writes durations at a useful precision', () => {
    expect(format.formatMs(0.844, 'en-US')).toBe('0.84 ms');
    expect(format.formatMs(4.25, 'en-US')).toBe('4.3 ms');
    expect(format.formatMs(120.4, 'en-US')).toBe('120 ms');
    expect(format.formatMs(1_520, 'en-US')).toBe('1.5 s');
  });

  it('shows the five figures in order, per minute, and says when no recompute has been timed yet', () => {
    const figures = { recomputesLastMinute: 1234, medianRecomputeMs: 6.42, pushesLastMinute: 7, heldByQuietHoursLastMinute: 2, heldByBudgetLastMinute: 0 };
    expect(format.describeFeeds(figures, 'en-US')).toEqual([
      { key: 'recomputes', label: 'Recomputations', value: '1,234 / min' },
      { key: 'median', label: 'Median recompute time', value: '6.4 ms' },
      { key: 'pushes', label: 'Pushes (feed:updated)', value: '7 / min' },
      { key: 'held-quiet', label: 'Held by quiet hours', value: '2 / min' },
      { key: 'held-budget', label: 'Held by the daily budget', value: '0 / min' },
    ]);
    expect(format.describeFeeds({ ...figures, recomputesLastMinute: 0, medianRecomputeMs: null }, 'en-US').slice(0, 2).map((figure) => figure.value)).toEqual(['0 / min', 'none yet']);
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

describe('dashboard Syncs tile helpers', () => {
  const now = Date.parse('2026-12-01T10:00:00.000Z');
  const at = (ms: number) => new Date(now + ms).toISOString();
  const view = (sync: Partial<ConnectionView['sync']> = {}, extra: Partial<ConnectionView> = {}): ConnectionView => ({
    id: '0b9e4a4e-4f7c-4a53-9d7a-2f1b1f0c9a11',
    provider: 'shopify',
    name: 'Main store',
    settings: {},
    scheduleMinutes: 60,
    mapping: { userField: 'email', eventTypes: { 'order.paid': 'order.paid' } },
    status: 'active',
    credentials: [],
    sync: {
      cursor: {},
      lastStartedAt: null,
      lastFinishedAt: null,
      lastError: null,
      lastErrorAt: null,
      counts: { records: 0, events: 0, unmatched: 0 },
      state: 'idle',
      lastRun: null,
      rateLimitedUntil: null,
      nextRunAt: null,
      circuit: 'closed',
      ...sync,
    },
    createdAt: at(-86_400_000),
    updatedAt: at(-60_000),
    ...extra,
  });
  const progress = (fields: Partial<SyncProgress>): SyncProgress => ({
    connectionId: '0b9e4a4e-4f7c-4a53-9d7a-2f1b1f0c9a11',
    provider: 'shopify',
    state: 'running',
    pages: 0,
    records: 0,
    events: 0,
    unmatched: 0,
    at: at(0),
    ...fields,
  });
  const time = (ms: number) => format.formatLocalTime(now + ms, 'en-US');

  it('names providers and states in words, and counts down', () => {
    expect(format.providerLabel('tiktok_shop')).toBe('TikTok Shop');
    expect(format.providerLabel('other')).toBe('other');
    expect(format.syncStateLabel('rate_limited')).toBe('Rate-limited');
    expect(format.syncStateLabel('needs_reauth')).toBe('Needs re-authorization');
    expect(format.formatCountdown(0)).toBe('now');
    expect(format.formatCountdown(-5)).toBe('now');
    expect(format.formatCountdown(41_200)).toBe('42 s');
    expect(format.formatCountdown(185_000)).toBe('3 min 05 s');
    expect(format.formatCountdown(2 * 3_600_000 + 4 * 60_000)).toBe('2 h 04 min');
    expect(format.formatSyncFigures({ pages: 3, records: 30, events: 1, unmatched: 1234 }, 'en-US')).toBe('3 pages · 30 records · 1 event · 1,234 unmatched');
    expect(format.formatSyncFigures({ records: 1, events: 0, unmatched: 0 }, 'en-US')).toBe('1 record · 0 events · 0 unmatched');
  });

  it('shows a connection as the API gives it: last run, next run, circuit, no alert', () => {
    const model = format.describeSync(
      view({ lastFinishedAt: at(-120_000), lastRun: { pages: 5, records: 120, events: 60, unmatched: 60, durationMs: 900 }, nextRunAt: at(1_800_000), circuit: 'half_open' }),
      null,
      now,
      'en-US',
    );
    expect(model).toMatchObject({
      name: 'Main store',
      provider: 'Shopify',
      state: 'idle',
      stateLabel: 'Idle',
      status: 'active',
      alert: null,
      alertText: null,
      live: null,
      lastRun: `${time(-120_000)} · 120 records, 60 events`,
      nextRun: `${time(1_800_000)} (in 30 min 00 s)`,
      rateLimitedUntil: null,
      circuit: 'half open',
      circuitOpen: false,
      counting: true,
    });
    expect(format.describeSync(view({}, { scheduleMinutes: null }), null, now, 'en-US')).toMatchObject({ lastRun: 'Never', nextRun: 'Manual only', counting: false });
  });

  it('overlays live progress: figures while running, the countdown while throttled, the end of the run', () => {
    const base = view({ lastFinishedAt: at(-3_600_000), lastRun: { pages: 1, records: 4, events: 2, unmatched: 2, durationMs: 100 } });
    const running = format.describeSync(base, progress({ pages: 3, records: 30, events: 12, unmatched: 18 }), now, 'en-US');
    expect(running).toMatchObject({ state: 'running', stateLabel: 'Running', live: '3 pages · 30 records · 12 events · 18 unmatched', lastRun: `${time(-3_600_000)} · 4 records, 2 events` });
    const throttled = format.describeSync(base, progress({ state: 'rate_limited', pages: 3, records: 30, rateLimitedUntil: at(12_000), circuit: 'open' }), now, 'en-US');
    expect(throttled).toMatchObject({ stateLabel: 'Rate-limited', rateLimitedUntil: `${time(12_000)} (in 12 s)`, counting: true, circuit: 'open', circuitOpen: true });
    const done = format.describeSync(base, progress({ state: 'completed', pages: 5, records: 120, events: 60, unmatched: 60, at: at(-1000) }), now, 'en-US');
    expect(done).toMatchObject({ stateLabel: 'Completed', live: null, lastRun: `${time(-1000)} · 120 records, 60 events`, alert: null });
    // A throttle that has run out shows no more.
    expect(format.describeSync(view({ state: 'rate_limited', rateLimitedUntil: at(-1) }), null, now).rateLimitedUntil).toBeNull();
    // Read from the API mid-run: the stored figures are the run's so far.
    expect(format.describeSync(view({ state: 'running', lastFinishedAt: at(-60_000), lastRun: { pages: 2, records: 20, events: 5, unmatched: 15, durationMs: 10 } }), null, now, 'en-US')).toMatchObject({
      live: '2 pages · 20 records · 5 events · 15 unmatched',
      lastRun: time(-60_000),
    });
  });

  it('flags refused or unreadable credentials and failed runs, with the reason', () => {
    const reauth = format.describeSync(view(), progress({ state: 'needs_reauth', error: 'shopify refused the credentials (401)' }), now, 'en-US');
    expect(reauth).toMatchObject({ status: 'needs_reauth', statusLabel: 'Needs re-authorization', alert: 'needs_reauth', lastRun: `${time(0)} · 0 records, 0 events · failed` });
    expect(reauth.alertText).toMatch(/^Needs re-authorization: shopify refused the credentials \(401\)\. PUT new credentials/);
    // As the API shows it afterwards: the run failed, the connection needs re-authorization.
    const stored = format.describeSync(view({ state: 'failed', lastError: 'refused' }, { status: 'needs_reauth' }), null, now, 'en-US');
    expect(stored).toMatchObject({ stateLabel: 'Failed', alert: 'needs_reauth', lastRun: 'Never' });
    expect(stored.alertText).toContain('refused');
    expect(format.describeSync(view({}, { status: 'broken' }), null, now).alertText).toMatch(/^Stored credentials cannot be read: no reason given/);
    expect(format.describeSync(view(), progress({ state: 'failed', error: 'circuit is open' }), now).alertText).toBe('Last run failed: circuit is open.');
    // A run that goes on proves the credentials work again.
    expect(format.describeSync(view({}, { status: 'needs_reauth' }), progress({ state: 'running' }), now)).toMatchObject({ status: 'active', alert: null });
  });

  it('shows a progress for a connection not read yet', () => {
    expect(format.describeSync(null, progress({ provider: 'etsy', state: 'queued' }), now)).toMatchObject({ id: '0b9e4a4e-4f7c-4a53-9d7a-2f1b1f0c9a11', name: 'Connection 0b9e4a4e', provider: 'Etsy', stateLabel: 'Queued', nextRun: '–' });
  });
});

describe('dashboard Backups tile helpers', () => {
  const now = Date.parse('2026-03-10T12:00:00Z');
  const hoursAgo = (hours: number) => new Date(now - hours * 3_600_000).toISOString();
  const none: BackupStatus = {
    lastBackupAt: null, lastBackupFile: null, lastBackupBytes: null, lastVerifiedAt: null, lastVerificationMs: null, lastResult: null, lastReason: null, lastFinishedAt: null, nextRunAt: null,
  };
  const verified: BackupStatus = {
    ...none,
    lastBackupAt: hoursAgo(3),
    lastBackupFile: 'pulse-hub-20260310T090000Z.dump',
    lastBackupBytes: 3_565_158,
    lastVerifiedAt: hoursAgo(2.9),
    lastVerificationMs: 4_200,
    lastResult: 'verified',
    lastFinishedAt: hoursAgo(2.9),
    nextRunAt: new Date(now + 5 * 3_600_000 + 4 * 60_000).toISOString(),
  };

  it('formats sizes with binary units', () => {
    expect(format.formatBytes(512, 'en-US')).toBe('512 B');
    expect(format.formatBytes(3_565_158, 'en-US')).toBe('3.4 MiB');
    expect(format.formatBytes(1.25 * 1024 ** 3, 'en-US')).toBe('1.3 GiB');
    expect(format.formatBytes(200 * 1024, 'en-US')).toBe('200 KiB');
  });

  it('describes a verified backup: time and size, age, last verification, next run', () => {
    const model = format.describeBackups(verified, now, 'en-US');
    expect(model).toMatchObject({ result: 'verified', resultLabel: 'Verified', alertText: null, age: '3 h ago', stale: false });
    expect(model.lastBackup).toBe(`${format.formatLocalDateTime(verified.lastBackupAt!, 'en-US')} · 3.4 MiB`);
    expect(model.lastVerified).toBe(`${format.formatLocalDateTime(verified.lastVerifiedAt!, 'en-US')} · restore checked in 4.2 s`);
    expect(model.nextRun).toMatch(/\(in 5 h 04 min\)$/);
  });

  it('highlights a failed run with its reason, keeping the last verified backup', () => {
    const failed = { ...verified, lastResult: 'failed' as const, lastReason: 'row counts differ: events 10 ≠ 9', lastFinishedAt: hoursAgo(1) };
    const model = format.describeBackups(failed, now, 'en-US');
    expect(model).toMatchObject({ result: 'failed', resultLabel: 'Failed', alertText: 'The last backup run failed: row counts differ: events 10 ≠ 9.' });
    expect(model.lastVerified).not.toBe('Never');
    expect(format.describeBackups({ ...failed, lastReason: null }, now).alertText).toBe('The last backup run failed: no reason given.');
  });

  it('warns when the last backup is older than 26 hours, or there is none; says when nothing is scheduled', () => {
    expect(format.describeBackups({ ...verified, lastBackupAt: hoursAgo(25.9) }, now).stale).toBe(false);
    expect(format.describeBackups({ ...verified, lastBackupAt: hoursAgo(26.1) }, now)).toMatchObject({ stale: true, age: '26 h ago' });
    expect(format.describeBackups(none, now)).toEqual({
      result: 'none',
      resultLabel: 'No backup run yet',
      alertText: null,
      lastBackup: 'Never',
      age: 'No backup yet',
      stale: true,
      lastVerified: 'Never',
      nextRun: 'Not scheduled (BACKUP_CRON is off)',
    });
    expect(format.describeBackups({ ...verified, nextRunAt: hoursAgo(0.01) }, now).nextRun).toMatch(/\(due\)$/);
  });

  it('keeps the status about the later run, whichever arrives last (a tick read before the run ended, or its event)', () => {
    const later = { ...verified, lastResult: 'failed' as const, lastFinishedAt: hoursAgo(1) };
    expect(format.newerBackupStatus(null, verified)).toBe(verified);
    expect(format.newerBackupStatus(verified, later)).toBe(later);
    expect(format.newerBackupStatus(later, verified)).toBe(later);
    // The same run read again (a new next run, say) replaces it.
    const reread = { ...later, nextRunAt: hoursAgo(-30) };
    expect(format.newerBackupStatus(later, reread)).toBe(reread);
    expect(format.newerBackupStatus(verified, none)).toBe(verified);
  });
});
