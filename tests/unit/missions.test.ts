import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ANY_EVENT, engineRulesSchema, type MissionTemplate } from '../../src/contracts/api/rules.js';
import type { LocalDay } from '../../src/domain/calendar.js';
import { advanceMission, missionDaysToAssign, missionMatches, selectMissions } from '../../src/domain/missions.js';

const DEFAULT_TEMPLATES = engineRulesSchema.parse({}).missions.templates;

const template = (key: string, weight: number, targetMin = 1, targetMax = 1): MissionTemplate => ({
  key,
  eventType: ANY_EVENT,
  targetMin,
  targetMax,
  reward: { kind: 'points', amount: 10 },
  weight,
});

const TEN_TEMPLATES = Array.from({ length: 10 }, (_, i) => template(`t${String(i)}`, 1 + (i % 4), 1 + i, 1 + 3 * i));

const userId = fc.string({ minLength: 1, maxLength: 40 });
const day = fc
  .integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) })
  .map((ms): LocalDay => new Date(ms).toISOString().slice(0, 10));

/** Valid template sets: unique keys, targetMin <= targetMax, positive weights. */
const templates = fc
  .uniqueArray(
    fc.record({
      key: fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/),
      eventType: fc.constantFrom(ANY_EVENT, 'workout.completed', 'lesson.finished'),
      bounds: fc.tuple(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000 })),
      reward: fc.constant({ kind: 'points' as const, amount: 5 }),
      weight: fc.double({ min: 0.01, max: 1_000, noNaN: true }),
    }),
    { selector: (item) => item.key, minLength: 0, maxLength: 12 },
  )
  .map((items) =>
    items.map(({ bounds: [a, b], ...rest }): MissionTemplate => ({ ...rest, targetMin: Math.min(a, b), targetMax: Math.max(a, b) })),
  );

const dayNumber = (n: number): LocalDay => new Date(Date.UTC(2025, 0, 1) + n * 86_400_000).toISOString().slice(0, 10);

describe('selectMissions', () => {
  it('is a function of (user, day, templates) and ignores the order templates are listed in', () => {
    const withShuffle = templates.chain((list) => fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length })));
    fc.assert(
      fc.property(userId, day, withShuffle, fc.integer({ min: 0, max: 10 }), (user, date, [list, shuffled], perDay) => {
        const first = selectMissions(user, date, list, perDay);
        expect(selectMissions(user, date, list, perDay)).toEqual(first);
        expect(selectMissions(user, date, shuffled, perDay)).toEqual(first);
      }),
      { numRuns: 300 },
    );
  });

  it('draws min(perDay, templates) distinct templates into slots 0..n-1 with targets in range', () => {
    fc.assert(
      fc.property(userId, day, templates, fc.integer({ min: 0, max: 15 }), (user, date, list, perDay) => {
        const missions = selectMissions(user, date, list, perDay);
        expect(missions).toHaveLength(Math.min(perDay, list.length));
        expect(new Set(missions.map((mission) => mission.templateKey)).size).toBe(missions.length);
        expect(missions.map((mission) => mission.slot)).toEqual(missions.map((_, i) => i));
        for (const mission of missions) {
          const source = list.find((item) => item.key === mission.templateKey);
          expect(source).toBeDefined();
          if (source === undefined) continue;
          expect(mission.eventType).toBe(source.eventType);
          expect(mission.reward).toEqual(source.reward);
          expect(Number.isInteger(mission.target)).toBe(true);
          expect(mission.target).toBeGreaterThanOrEqual(source.targetMin);
          expect(mission.target).toBeLessThanOrEqual(source.targetMax);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('does not reorder the caller’s templates', () => {
    const list = [...DEFAULT_TEMPLATES].reverse();
    const before = list.map((item) => item.key);
    selectMissions('user-1', '2025-03-01', list, 3);
    expect(list.map((item) => item.key)).toEqual(before);
  });

  it('honours the weights, first slot and (without replacement) second slot', () => {
    // Weights 3/2/1 under shuffled keys, so a draw that ignored weights or keys would show.
    const list = [template('zeta', 3), template('alpha', 2), template('mid', 1)];
    const first = new Map<string, number>();
    const secondAfterZeta = new Map<string, number>();
    let zetaFirst = 0;
    const samples = 20_000;
    for (let i = 0; i < samples; i += 1) {
      const [a, b] = selectMissions(`user-${String(i % 500)}`, dayNumber(Math.floor(i / 500)), list, 2);
      if (a === undefined || b === undefined) throw new Error('expected two missions');
      first.set(a.templateKey, (first.get(a.templateKey) ?? 0) + 1);
      if (a.templateKey === 'zeta') {
        zetaFirst += 1;
        secondAfterZeta.set(b.templateKey, (secondAfterZeta.get(b.templateKey) ?? 0) + 1);
      }
    }
    const expected = { zeta: 1 / 2, alpha: 1 / 3, mid: 1 / 6 };
    let chiSquare = 0;
    for (const [key, p] of Object.entries(expected)) {
      const observed = first.get(key) ?? 0;
      expect(Math.abs(observed / samples - p)).toBeLessThan(0.02);
      chiSquare += (observed - p * samples) ** 2 / (p * samples);
    }
    // df = 2, p = 0.001.
    expect(chiSquare).toBeLessThan(13.82);
    // Once zeta is drawn, alpha and mid share the rest 2:1.
    expect(Math.abs((secondAfterZeta.get('alpha') ?? 0) / zetaFirst - 2 / 3)).toBeLessThan(0.03);
    expect(secondAfterZeta.get('zeta')).toBeUndefined();
  });

  it('draws targets uniformly over the whole range', () => {
    const counts = new Map<number, number>();
    const samples = 5_000;
    for (let i = 0; i < samples; i += 1) {
      const [mission] = selectMissions(`user-${String(i)}`, '2025-06-01', [template('only', 1, 8, 12)], 1);
      if (mission === undefined) throw new Error('expected a mission');
      counts.set(mission.target, (counts.get(mission.target) ?? 0) + 1);
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([8, 9, 10, 11, 12]);
    for (const count of counts.values()) expect(Math.abs(count / samples - 1 / 5)).toBeLessThan(0.03);
  });

  it('gives most users different missions on different days, and different users different missions', () => {
    const users = Array.from({ length: 200 }, (_, i) => `user-${String(i)}`);
    const key = (user: string, date: LocalDay) => JSON.stringify(selectMissions(user, date, TEN_TEMPLATES, 3));
    const changedByDay = users.filter((user) => key(user, '2025-05-01') !== key(user, '2025-05-02')).length;
    expect(changedByDay).toBeGreaterThan(users.length * 0.9);
    const distinctAcrossUsers = new Set(users.map((user) => key(user, '2025-05-01'))).size;
    expect(distinctAcrossUsers).toBeGreaterThan(users.length * 0.9);
  });

  it('keeps the user and day apart in the seed', () => {
    // Plain concatenation would make ("ab", "c…") and ("a", "bc…") the same seed.
    const list = TEN_TEMPLATES;
    const same = Array.from({ length: 50 }, (_, i) => {
      const user = `u${String(i)}`;
      return JSON.stringify(selectMissions(`${user}2`, '025-01-01', list, 3)) === JSON.stringify(selectMissions(user, '2025-01-01', list, 3));
    }).filter(Boolean).length;
    expect(same).toBeLessThan(5);
  });

  it('handles no templates and perDay 0', () => {
    expect(selectMissions('user-1', '2025-01-01', [], 3)).toEqual([]);
    expect(selectMissions('user-1', '2025-01-01', DEFAULT_TEMPLATES, 0)).toEqual([]);
  });
});

describe('missionMatches', () => {
  it('matches its own event type, and any type for "*"', () => {
    expect(missionMatches({ eventType: 'workout.completed' }, 'workout.completed')).toBe(true);
    expect(missionMatches({ eventType: 'workout.completed' }, 'lesson.finished')).toBe(false);
    expect(missionMatches({ eventType: ANY_EVENT }, 'lesson.finished')).toBe(true);
    expect(missionMatches({ eventType: ANY_EVENT }, ANY_EVENT)).toBe(true);
  });
});

describe('advanceMission', () => {
  it('counts up by one by default and completes exactly at the target', () => {
    expect(advanceMission(0, 3)).toEqual({ progress: 1, completed: false, justCompleted: false });
    expect(advanceMission(1, 3)).toEqual({ progress: 2, completed: false, justCompleted: false });
    expect(advanceMission(2, 3)).toEqual({ progress: 3, completed: true, justCompleted: true });
    expect(advanceMission(3, 3)).toEqual({ progress: 3, completed: true, justCompleted: false });
  });

  it('caps progress at the target', () => {
    expect(advanceMission(1, 3, 10)).toEqual({ progress: 3, completed: true, justCompleted: true });
    expect(advanceMission(3, 3, 10)).toEqual({ progress: 3, completed: true, justCompleted: false });
  });

  it('reports justCompleted on exactly one step of any sequence of increments', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.integer({ min: 0, max: 10 }), { maxLength: 40 }), (target, increments) => {
        let progress = 0;
        let completions = 0;
        let completed = false;
        for (const increment of increments) {
          const step = advanceMission(progress, target, increment);
          expect(step.progress).toBeGreaterThanOrEqual(progress);
          expect(step.progress).toBeLessThanOrEqual(target);
          expect(step.completed).toBe(step.progress === target);
          if (completed) expect(step).toEqual({ progress: target, completed: true, justCompleted: false });
          if (step.justCompleted) completions += 1;
          progress = step.progress;
          completed = step.completed;
        }
        const total = increments.reduce((sum, increment) => sum + increment, 0);
        expect(progress).toBe(Math.min(total, target));
        expect(completions).toBe(total >= target ? 1 : 0);
      }),
    );
  });

  it('never moves progress backwards', () => {
    expect(advanceMission(2, 5, -3)).toEqual({ progress: 2, completed: false, justCompleted: false });
  });
});

describe('missionDaysToAssign', () => {
  const now = new Date('2026-11-22T12:00:00Z');

  it('assigns the days since the last assignment, back to the late-event grace at most', () => {
    expect(missionDaysToAssign('2026-11-22', now, 'UTC', 48)).toEqual([]);
    expect(missionDaysToAssign('2026-11-21', now, 'UTC', 48)).toEqual(['2026-11-22']);
    // Down for a week: only the days whose events can still count.
    expect(missionDaysToAssign('2026-11-15', now, 'UTC', 48)).toEqual(['2026-11-20', '2026-11-21', '2026-11-22']);
    expect(missionDaysToAssign(null, now, 'UTC', 0)).toEqual(['2026-11-22']);
    // Local days: in Kiritimati (UTC+14) it is already the 23rd.
    expect(missionDaysToAssign('2026-11-22', now, 'Pacific/Kiritimati', 24)).toEqual(['2026-11-23']);
  });

  it('skips dates a zone never had', () => {
    expect(missionDaysToAssign('2011-12-29', new Date('2011-12-31T12:00:00Z'), 'Pacific/Apia', 72)).toEqual(['2011-12-31', '2012-01-01']);
    expect(missionDaysToAssign('2011-12-28', new Date('2011-12-30T12:00:00Z'), 'Pacific/Apia', 72)).toEqual(['2011-12-29', '2011-12-31']);
  });
});
