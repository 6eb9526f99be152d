import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { affinityUpdates, applyInteraction, decayAffinity, interactionWeights, type AffinityRecord } from '../../src/domain/feed-affinity.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const DAY = 86_400_000;
const daysLater = (days: number) => new Date(NOW.getTime() + days * DAY);

describe('decayAffinity', () => {
  it('halves at the half-life and quarters at two', () => {
    expect(decayAffinity(8, NOW, daysLater(14), 14)).toBeCloseTo(4, 12);
    expect(decayAffinity(-8, NOW, daysLater(28), 14)).toBeCloseTo(-2, 12);
    expect(decayAffinity(8, NOW, NOW, 14)).toBe(8);
  });

  it('never grows a score when time runs backwards', () => {
    expect(decayAffinity(8, NOW, daysLater(-3), 14)).toBe(8);
  });

  it('halves at the half-life, whatever the score and half-life', () => {
    fc.assert(
      // Whole minutes: a Date holds whole milliseconds.
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: 1, max: 365 * 1440 }), (score, minutes) => {
        const later = new Date(NOW.getTime() + minutes * 60_000);
        expect(Math.abs(decayAffinity(score, NOW, later, minutes / 1440) - score / 2)).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(score)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('applyInteraction', () => {
  it('decays the old score, adds the new weight and counts what raised it', () => {
    const first = applyInteraction(undefined, 2, NOW, 7);
    expect(first).toEqual({ score: 2, count: 1, updatedAt: NOW });
    const second = applyInteraction(first, 1, daysLater(7), 7);
    expect(second.score).toBeCloseTo(2, 12);
    expect(second.count).toBe(2);
    expect(second.updatedAt).toEqual(daysLater(7));
    expect(applyInteraction(second, interactionWeights['feed.hidden'], daysLater(7), 7)).toMatchObject({ score: -1, count: 2 });
  });

  it('does not depend on the order the interactions arrive in', () => {
    const interaction = fc.record({ delta: fc.double({ min: -3, max: 3, noNaN: true }), at: fc.integer({ min: 0, max: 60 * DAY }).map((ms) => new Date(NOW.getTime() + ms)) });
    fc.assert(
      fc.property(
        fc.array(interaction, { minLength: 1, maxLength: 12 }).chain((list) => fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length }))),
        fc.double({ min: 0.5, max: 60, noNaN: true }),
        ([inOrder, shuffled], halfLife) => {
          const fold = (list: typeof inOrder) => list.reduce<AffinityRecord | undefined>((record, { delta, at }) => applyInteraction(record, delta, at, halfLife), undefined)!;
          const expected = fold(inOrder);
          const actual = fold(shuffled);
          expect(actual.updatedAt).toEqual(expected.updatedAt);
          expect(actual.count).toBe(expected.count);
          expect(Math.abs(actual.score - expected.score)).toBeLessThanOrEqual(1e-9);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('affinityUpdates', () => {
  const item = { topics: ['algebra', 'geometry', 'algebra'], authorId: 'ada' };

  it("moves a feed item's topics and author by the interaction's weight", () => {
    expect(affinityUpdates({ type: 'feed.liked', data: { itemId: 'i1' } }, item)).toEqual([
      { dimension: 'topic', key: 'algebra', delta: 2 },
      { dimension: 'topic', key: 'geometry', delta: 2 },
      { dimension: 'author', key: 'ada', delta: 2 },
    ]);
    expect(affinityUpdates({ type: 'feed.hidden' }, { topics: ['art'], authorId: null })).toEqual([{ dimension: 'topic', key: 'art', delta: -3 }]);
  });

  it('falls back to the data of a feed event whose item is unknown', () => {
    expect(affinityUpdates({ type: 'feed.opened', data: { topics: ['art'], authorId: 'bo' } }, null)).toEqual([
      { dimension: 'topic', key: 'art', delta: 1 },
      { dimension: 'author', key: 'bo', delta: 1 },
    ]);
  });

  it('moves the topics of any other event by 1, and ignores what is not a topic', () => {
    expect(affinityUpdates({ type: 'lesson.completed', data: { topics: ['algebra', 7, '', 'algebra'] } })).toEqual([{ dimension: 'topic', key: 'algebra', delta: 1 }]);
    expect(affinityUpdates({ type: 'lesson.completed', data: { topics: 'algebra' } })).toEqual([]);
    expect(affinityUpdates({ type: 'constructor' })).toEqual([]);
  });
});
