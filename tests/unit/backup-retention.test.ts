import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { decideRetention, describeRetention, type BackupInfo, type RetentionDecision, type Verification } from '../../src/domain/backup-retention.js';

// Failures report the counterexample only, not every shrink step.
const quiet = { numRuns: 300, verbose: 0 } as const;

const backup = (iso: string, verified: Verification = 'verified', id = iso): BackupInfo => ({ id, takenAt: new Date(iso), verified });
const keptIds = (decisions: RetentionDecision[]) => decisions.filter((decision) => decision.keep).map((decision) => decision.id);
const idsBy = (decisions: RetentionDecision[], reason: RetentionDecision['reasons'][number]) =>
  decisions.filter((decision) => decision.reasons.includes(reason)).map((decision) => decision.id);

/** November 2026 at 02:00 UTC, one backup a day, id = the date. */
const november = Array.from({ length: 30 }, (_, index) => backup(`2026-11-${String(index + 1).padStart(2, '0')}T02:00:00Z`, 'verified', `2026-11-${String(index + 1).padStart(2, '0')}`));

describe('decideRetention', () => {
  it('keeps exactly the generations of 7 daily, 4 weekly, 6 monthly from a month of daily backups', () => {
    const decisions = decideRetention(november, { daily: 7, weekly: 4, monthly: 6 });
    // 2026-11-30 is a Monday: ISO weeks end on Sundays 29, 22 and 15.
    expect(idsBy(decisions, 'daily')).toEqual(['2026-11-30', '2026-11-29', '2026-11-28', '2026-11-27', '2026-11-26', '2026-11-25', '2026-11-24']);
    expect(idsBy(decisions, 'weekly')).toEqual(['2026-11-30', '2026-11-29', '2026-11-22', '2026-11-15']);
    expect(idsBy(decisions, 'monthly')).toEqual(['2026-11-30']);
    expect(idsBy(decisions, 'last')).toEqual(['2026-11-30']);
    expect(keptIds(decisions)).toEqual(['2026-11-30', '2026-11-29', '2026-11-28', '2026-11-27', '2026-11-26', '2026-11-25', '2026-11-24', '2026-11-22', '2026-11-15']);
    expect(decisions.find((decision) => decision.id === '2026-11-29')?.why).toBe('daily 2026-11-29, weekly 2026-W48');
    expect(describeRetention(decisions)).toBe('keeps 9 of 30 backups (last 1, daily 7, weekly 4, monthly 1); deletes 21');
  });

  it('never counts failed backups, keeps them for inspection, and lets the next verified one fill the slot', () => {
    const withFailures = november.map((entry) => (entry.id === '2026-11-30' || entry.id === '2026-11-29' ? { ...entry, verified: 'failed' as const } : entry));
    const decisions = decideRetention(withFailures, { daily: 2, weekly: 0, monthly: 0 });
    expect(idsBy(decisions, 'last')).toEqual(['2026-11-28']);
    expect(idsBy(decisions, 'daily')).toEqual(['2026-11-28', '2026-11-27']);
    expect(keptIds(decisions)).toEqual(['2026-11-30', '2026-11-29', '2026-11-28', '2026-11-27']);
    expect(decisions[0]).toEqual({ id: '2026-11-30', verified: 'failed', keep: true, reasons: [], why: 'failed verification: kept for inspection, never counted' });
    expect(describeRetention(decisions)).toBe('keeps 4 of 30 backups (last 1, daily 2, weekly 0, monthly 0; 2 failed kept for inspection); deletes 26');
  });

  it('keeps unverified backups, saying which may still be verifying', () => {
    const decisions = decideRetention(
      [backup('2026-11-01T02:00:00Z', 'unverified', 'old'), backup('2026-11-02T02:00:00Z', 'verified', 'good'), backup('2026-11-03T02:00:00Z', 'unverified', 'new')],
      { daily: 0, weekly: 0, monthly: 0 },
    );
    expect(decisions.map(({ id, keep, reasons }) => ({ id, keep, reasons }))).toEqual([
      { id: 'new', keep: true, reasons: [] },
      { id: 'good', keep: true, reasons: ['last'] },
      { id: 'old', keep: true, reasons: [] },
    ]);
    expect(decisions[0]?.why).toMatch(/not verified yet/);
    expect(decisions[2]?.why).toMatch(/never verified/);
  });

  it('keeps the newest verified backup even when every count is zero', () => {
    const decisions = decideRetention(november, { last: 0, daily: 0, weekly: 0, monthly: 0 });
    expect(keptIds(decisions)).toEqual(['2026-11-30']);
  });

  it('buckets days in the given zone: two backups an hour apart around UTC midnight', () => {
    const pair = [backup('2026-11-10T23:30:00Z', 'verified', 'before'), backup('2026-11-11T00:30:00Z', 'verified', 'after')];
    const policy = { daily: 2, weekly: 0, monthly: 0 };
    // Different UTC days, both kept; in New York (UTC-5) both fall on 2026-11-10, so only the newer counts.
    expect(idsBy(decideRetention(pair, policy), 'daily')).toEqual(['after', 'before']);
    expect(idsBy(decideRetention(pair, policy, 'America/New_York'), 'daily')).toEqual(['after']);
    // In Tokyo (UTC+9) both fall on 2026-11-11.
    expect(idsBy(decideRetention(pair, policy, 'Asia/Tokyo'), 'daily')).toEqual(['after']);
  });

  it('counts only days that have a backup, so a gap does not eat generations', () => {
    const sparse = [backup('2026-11-01T02:00:00Z'), backup('2026-11-10T02:00:00Z'), backup('2026-11-20T02:00:00Z')];
    expect(keptIds(decideRetention(sparse, { daily: 3, weekly: 0, monthly: 0 }))).toHaveLength(3);
  });

  it('refuses a bad policy, zone, date or a repeated id', () => {
    const policy = { daily: 1, weekly: 1, monthly: 1 };
    expect(() => decideRetention(november, { ...policy, daily: -1 })).toThrow(RangeError);
    expect(() => decideRetention(november, { ...policy, weekly: 1.5 })).toThrow(RangeError);
    expect(() => decideRetention(november, policy, 'Mars/Olympus')).toThrow(RangeError);
    expect(() => decideRetention([backup('not a date')], policy)).toThrow(RangeError);
    expect(() => decideRetention([backup('2026-11-01T00:00:00Z', 'verified', 'a'), backup('2026-11-02T00:00:00Z', 'verified', 'a')], policy)).toThrow(RangeError);
  });
});

describe('decideRetention properties', () => {
  const start = Date.parse('2026-01-01T00:00:00Z');
  const zones = fc.constantFrom('UTC', 'America/New_York', 'Asia/Kolkata', 'Pacific/Apia', 'Europe/London');
  // Anywhere in ~400 days, or a nightly 02:00 slot of the first 60, where equal instants exercise the id tie-break.
  const offsetMinutes = fc.oneof(fc.integer({ min: 0, max: 400 * 24 * 60 }), fc.integer({ min: 0, max: 60 }).map((day) => day * 24 * 60 + 120));
  const backups = fc
    .array(fc.record({ offsetMinutes, verified: fc.constantFrom<Verification>('verified', 'verified', 'failed', 'unverified') }), { maxLength: 60 })
    .map((entries) => entries.map(({ offsetMinutes, verified }, index): BackupInfo => ({ id: `b${index}`, takenAt: new Date(start + offsetMinutes * 60_000), verified })));
  const count = fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constant(Infinity));
  const policies = fc.record({ last: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }), daily: count, weekly: count, monthly: count });
  const keyOf = { daily: 'yyyy-MM-dd', weekly: "kkkk-'W'WW", monthly: 'yyyy-MM' } as const;
  const newest = (list: BackupInfo[]) => [...list].sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime() || (a.id < b.id ? 1 : -1))[0];

  it('never deletes the newest verified backup, nor any failed or unverified one', () => {
    fc.assert(
      fc.property(backups, policies, zones, (list, policy, zone) => {
        const decisions = decideRetention(list, policy, zone);
        const top = newest(list.filter((entry) => entry.verified === 'verified'));
        if (top) expect(decisions.find((decision) => decision.id === top.id)).toMatchObject({ keep: true, reasons: expect.arrayContaining(['last']) });
        for (const decision of decisions) if (decision.verified !== 'verified') expect(decision).toMatchObject({ keep: true, reasons: [] });
      }),
      quiet,
    );
  });

  it('keeps exactly min(N, buckets) per rule: the newest verified of each of the N most recent buckets', () => {
    fc.assert(
      fc.property(backups, policies, zones, (list, policy, zone) => {
        const decisions = decideRetention(list, policy, zone);
        const verified = list.filter((entry) => entry.verified === 'verified');
        for (const rule of ['daily', 'weekly', 'monthly'] as const) {
          const byBucket = new Map<string, BackupInfo[]>();
          for (const entry of verified) {
            const key = DateTime.fromJSDate(entry.takenAt, { zone }).toFormat(keyOf[rule]);
            byBucket.set(key, [...(byBucket.get(key) ?? []), entry]);
          }
          const recent = [...byBucket.keys()].sort().reverse().slice(0, policy[rule]);
          const expected = recent.map((key) => newest(byBucket.get(key) ?? [])?.id).sort();
          const kept = idsBy(decisions, rule);
          expect(kept.length).toBe(Math.min(policy[rule], byBucket.size));
          expect([...kept].sort()).toEqual(expected);
        }
        const last = Math.max(1, policy.last ?? 1);
        expect(idsBy(decisions, 'last')).toHaveLength(Math.min(last, verified.length));
      }),
      quiet,
    );
  });

  it('answers one decision per input backup, kept exactly when a rule (or a failed/unverified state) holds it', () => {
    fc.assert(
      fc.property(backups, policies, zones, (list, policy, zone) => {
        const decisions = decideRetention(list, policy, zone);
        expect(decisions.map((decision) => decision.id).sort()).toEqual(list.map((entry) => entry.id).sort());
        for (const decision of decisions) if (decision.verified === 'verified') expect(decision.keep).toBe(decision.reasons.length > 0);
      }),
      quiet,
    );
  });

  it('does not depend on input order', () => {
    fc.assert(
      fc.property(
        backups.chain((list) => fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length }))),
        policies,
        zones,
        ([list, shuffled], policy, zone) => {
          expect(decideRetention(shuffled, policy, zone)).toEqual(decideRetention(list, policy, zone));
        },
      ),
      quiet,
    );
  });
});
