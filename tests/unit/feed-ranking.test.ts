import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { explain } from '../../src/domain/feed-explain.js';
import {
  caughtUp,
  DEFAULT_FEED_RANKING,
  FEED_TOP_WINDOW,
  feedRankingProblems,
  rankFeed,
  scoreCandidate,
  wilsonLowerBound,
  type FeedCandidate,
  type FeedEntry,
  type FeedProfile,
  type FeedRankingRules,
} from '../../src/domain/feed-ranking.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const HOUR = 3_600_000;
const TOPICS = ['algebra', 'geometry', 'music', 'art', 'chess'] as const;
const AUTHORS = ['ada', 'bo', 'cy', 'di', 'ed'] as const;

const EMPTY_PROFILE: FeedProfile = { topicAffinity: new Map(), authorAffinity: new Map(), seen: new Set(), opened: new Set(), hidden: new Set() };

function candidate(itemId: string, overrides: Partial<FeedCandidate> = {}): FeedCandidate {
  return { itemId, kind: 'post', authorId: null, topics: [], publishedAt: new Date(NOW.getTime() - HOUR), expiresAt: null, stats: { views: 0, opens: 0, likes: 0 }, ...overrides };
}

const affinity = fc.double({ min: -5, max: 5, noNaN: true });
const statsArb = fc
  .integer({ min: 0, max: 5_000 })
  .chain((views) => fc.record({ views: fc.constant(views), opens: fc.integer({ min: 0, max: views }), likes: fc.integer({ min: 0, max: views }) }));

/** A candidate without its id: ids are given by position so they are unique. */
const candidateBody = fc.record({
  kind: fc.constantFrom('post', 'video', 'event'),
  authorId: fc.option(fc.constantFrom(...AUTHORS), { nil: null }),
  topics: fc.subarray([...TOPICS]),
  publishedAt: fc.integer({ min: -2 * HOUR, max: 30 * 24 * HOUR }).map((age) => new Date(NOW.getTime() - age)),
  expiresAt: fc.option(fc.integer({ min: -48 * HOUR, max: 48 * HOUR }).map((offset) => new Date(NOW.getTime() + offset)), { nil: null }),
  stats: statsArb,
});

const candidatesArb = (maxLength = 40) =>
  fc.array(candidateBody, { maxLength }).map((bodies) => bodies.map((body, index): FeedCandidate => ({ itemId: `i${index}`, ...body })));

const idSet = fc.uniqueArray(fc.integer({ min: 0, max: 59 }), { maxLength: 20 }).map((indexes) => new Set(indexes.map((index) => `i${index}`)));

const profileArb: fc.Arbitrary<FeedProfile> = fc.record({
  topicAffinity: fc.dictionary(fc.constantFrom(...TOPICS), affinity).map((entries) => new Map(Object.entries(entries))),
  authorAffinity: fc.dictionary(fc.constantFrom(...AUTHORS), affinity).map((entries) => new Map(Object.entries(entries))),
  seen: idSet,
  opened: idSet,
  hidden: idSet,
});

const rulesArb: fc.Arbitrary<FeedRankingRules> = fc.record({
  weights: fc.record({ recency: fc.double({ min: 0, max: 3, noNaN: true }), topic: fc.double({ min: 0, max: 3, noNaN: true }), author: fc.double({ min: 0, max: 3, noNaN: true }), quality: fc.double({ min: 0, max: 3, noNaN: true }), novelty: fc.double({ min: 0, max: 3, noNaN: true }) }),
  halfLifeHours: fc.record({ default: fc.double({ min: 1, max: 500, noNaN: true }), byKind: fc.dictionary(fc.constantFrom('video', 'event'), fc.double({ min: 1, max: 500, noNaN: true })) }),
  diversity: fc.record({ floor: fc.double({ min: 0, max: 1, noNaN: true }), decay: fc.double({ min: 0, max: 1, noNaN: true }), authorCapInTop: fc.integer({ min: 0, max: 6 }) }),
  qualityZ: fc.double({ min: 0.5, max: 3, noNaN: true }),
});

const ids = (entries: FeedEntry[]) => entries.map((entry) => entry.candidate.itemId);
const RUNS = { numRuns: 200 };

describe('feedRankingProblems', () => {
  it('accepts the defaults and names what is wrong', () => {
    expect(feedRankingProblems(DEFAULT_FEED_RANKING)).toEqual([]);
    const bad = { ...DEFAULT_FEED_RANKING, halfLifeHours: { default: 0, byKind: { video: -1 } }, diversity: { floor: 1.5, decay: 0.5, authorCapInTop: 2.5 } };
    expect(feedRankingProblems(bad)).toEqual([
      'halfLifeHours default must be above 0',
      'halfLifeHours video must be above 0',
      'diversity.floor must be within [0, 1]',
      'diversity.authorCapInTop must be a whole number, 0 or more',
    ]);
  });
});

describe('wilsonLowerBound', () => {
  it('ranks 3 likes of 3 views below 2,400 of 3,000, and is 0 without views', () => {
    expect(wilsonLowerBound(3, 3, 1.96)).toBeLessThan(wilsonLowerBound(2_400, 3_000, 1.96));
    expect(wilsonLowerBound(3, 3, 1.96)).toBeCloseTo(0.4385, 3);
    expect(wilsonLowerBound(0, 0, 1.96)).toBe(0);
  });

  it('stays in [0, 1] and grows with the positives', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }).chain((trials) => fc.tuple(fc.constant(trials), fc.integer({ min: 0, max: trials - 1 }))), fc.double({ min: 0.1, max: 4, noNaN: true }), ([trials, positives], z) => {
        const lower = wilsonLowerBound(positives, trials, z);
        const higher = wilsonLowerBound(positives + 1, trials, z);
        expect(lower).toBeGreaterThanOrEqual(0);
        expect(higher).toBeLessThanOrEqual(1);
        expect(higher).toBeGreaterThan(lower);
      }),
      { numRuns: 500 },
    );
  });
});

describe('scoreCandidate', () => {
  it('halves recency at the half-life of the kind, and counts the future as new', () => {
    const rules = { ...DEFAULT_FEED_RANKING, halfLifeHours: { default: 48, byKind: { event: 6 } } };
    const recency = (c: FeedCandidate) => scoreCandidate(c, EMPTY_PROFILE, rules, NOW).components.find((x) => x.name === 'recency')!.raw;
    expect(recency(candidate('a', { publishedAt: new Date(NOW.getTime() - 48 * HOUR) }))).toBeCloseTo(0.5, 12);
    expect(recency(candidate('b', { kind: 'event', publishedAt: new Date(NOW.getTime() - 12 * HOUR) }))).toBeCloseTo(0.25, 12);
    // A kind named like an Object.prototype member still gets the default.
    expect(recency(candidate('c', { kind: 'constructor', publishedAt: new Date(NOW.getTime() - 48 * HOUR) }))).toBeCloseTo(0.5, 12);
    expect(recency(candidate('d', { publishedAt: new Date(NOW.getTime() + HOUR) }))).toBe(1);
  });

  it('keeps every raw value in its documented range and the contributions adding up to the score', () => {
    fc.assert(
      fc.property(candidatesArb(12), profileArb, rulesArb, (candidates, profile, rules) => {
        for (const c of candidates) {
          const { components, score } = scoreCandidate(c, profile, rules, NOW);
          const raw = Object.fromEntries(components.map((x) => [x.name, x.raw]));
          expect(raw['recency']).toBeGreaterThan(0);
          expect(raw['recency']).toBeLessThanOrEqual(1);
          for (const name of ['topic', 'author']) expect(Math.abs(raw[name]!)).toBeLessThanOrEqual(1);
          expect(raw['quality']).toBeGreaterThanOrEqual(0);
          expect(raw['quality']).toBeLessThanOrEqual(1);
          expect([0, 1]).toContain(raw['novelty']);
          for (const x of components) expect(x.contribution).toBe(x.weight * x.raw);
          expect(Math.abs(components.reduce((sum, x) => sum + x.contribution, 0) - score)).toBeLessThanOrEqual(1e-9);
        }
      }),
      RUNS,
    );
  });
});

describe('rankFeed: properties', () => {
  it('is deterministic and does not depend on the order of the candidates', () => {
    fc.assert(
      fc.property(
        candidatesArb().chain((candidates) => fc.tuple(fc.constant(candidates), fc.shuffledSubarray(candidates, { minLength: candidates.length }))),
        profileArb,
        rulesArb,
        fc.integer({ min: 0, max: 50 }),
        ([candidates, shuffled], profile, rules, limit) => {
          const ranked = rankFeed(candidates, profile, rules, NOW, limit);
          expect(rankFeed(candidates, profile, rules, NOW, limit)).toEqual(ranked);
          expect(rankFeed(shuffled, profile, rules, NOW, limit)).toEqual(ranked);
        },
      ),
      RUNS,
    );
  });

  it('never shows hidden or expired items, drops nothing else, and numbers positions from 1', () => {
    fc.assert(
      fc.property(candidatesArb(), profileArb, rulesArb, (candidates, profile, rules) => {
        const ranked = rankFeed(candidates, profile, rules, NOW, Number.POSITIVE_INFINITY);
        for (const entry of ranked) {
          expect(profile.hidden.has(entry.candidate.itemId)).toBe(false);
          expect(entry.candidate.expiresAt === null || entry.candidate.expiresAt > NOW).toBe(true);
        }
        const eligible = candidates.filter((c) => !profile.hidden.has(c.itemId) && (c.expiresAt === null || c.expiresAt > NOW));
        expect(new Set(ids(ranked))).toEqual(new Set(eligible.map((c) => c.itemId)));
        expect(ranked.map((entry) => entry.position)).toEqual(ranked.map((_, index) => index + 1));
      }),
      RUNS,
    );
  });

  it('records contributions adding up to the score, and a final score no higher than it', () => {
    fc.assert(
      fc.property(candidatesArb(), profileArb, rulesArb, (candidates, profile, rules) => {
        for (const entry of rankFeed(candidates, profile, rules, NOW, 100)) {
          expect(Math.abs(entry.components.reduce((sum, x) => sum + x.contribution, 0) - entry.score)).toBeLessThanOrEqual(1e-9);
          expect(entry.diversityMultiplier).toBeGreaterThanOrEqual(rules.diversity.floor - 1e-12);
          expect(entry.diversityMultiplier).toBeLessThanOrEqual(1);
          expect(entry.finalScore).toBeLessThanOrEqual(entry.score);
        }
      }),
      RUNS,
    );
  });

  it('keeps every author to the cap in the top 20 while items of others remain', () => {
    // Enough items without an author that the cap can always be met.
    const many = fc.array(candidateBody, { minLength: 30, maxLength: 60 }).map((bodies) =>
      bodies.map((body, index): FeedCandidate => ({ ...body, itemId: `i${index}`, authorId: index % 3 === 0 ? body.authorId : null, expiresAt: null })),
    );
    fc.assert(
      fc.property(many, profileArb, rulesArb, (candidates, profile, rules) => {
        const top = rankFeed(candidates, { ...profile, hidden: new Set() }, rules, NOW, 100).slice(0, FEED_TOP_WINDOW);
        const perAuthor = new Map<string, number>();
        for (const { candidate: c } of top) if (c.authorId !== null) perAuthor.set(c.authorId, (perAuthor.get(c.authorId) ?? 0) + 1);
        for (const count of perAuthor.values()) expect(count).toBeLessThanOrEqual(rules.diversity.authorCapInTop);
      }),
      RUNS,
    );
  });

  it('lets capped items into the top 20 only after every other item', () => {
    fc.assert(
      fc.property(candidatesArb(), profileArb, rulesArb, (candidates, profile, rules) => {
        const placed = new Map<string, number>();
        let overSeen = false;
        for (const { candidate: c } of rankFeed(candidates, profile, rules, NOW, 100).slice(0, FEED_TOP_WINDOW)) {
          const before = c.authorId === null ? 0 : (placed.get(c.authorId) ?? 0);
          const over = c.authorId !== null && before >= rules.diversity.authorCapInTop;
          // Once an item over the cap is let in, nothing else was left: only items over the cap follow.
          if (overSeen) expect(over).toBe(true);
          overSeen ||= over;
          if (c.authorId !== null) placed.set(c.authorId, before + 1);
        }
      }),
      RUNS,
    );
  });
});

describe('rankFeed: monotone', () => {
  /** Two extra items a and b, equal in all but one respect in which a is better. */
  const pairRun = (makePair: (base: FeedCandidate) => [FeedCandidate, FeedCandidate], profileFor: (profile: FeedProfile) => FeedProfile = (p) => p) =>
    fc.assert(
      fc.property(candidatesArb(20), candidateBody, profileArb, rulesArb, (others, body, profile, anyRules) => {
        // Weighted at all, so the difference counts (with weight 0 the id tie-break decides, by design).
        const rules = { ...anyRules, weights: { ...anyRules.weights, topic: anyRules.weights.topic + 0.1, author: anyRules.weights.author + 0.1 } };
        const [a, b] = makePair({ ...body, itemId: 'x', expiresAt: null });
        const visible = { ...profileFor(profile), hidden: new Set<string>() };
        const order = ids(rankFeed([...others, a, b], visible, rules, NOW, 100));
        expect(order.indexOf(a.itemId)).toBeLessThan(order.indexOf(b.itemId));
      }),
      RUNS,
    );

  it('never ranks a newer item below an otherwise equal older one', () => {
    pairRun((base) => [
      { ...base, itemId: 'z-newer', publishedAt: new Date(base.publishedAt.getTime() + 1) },
      { ...base, itemId: 'a-older' },
    ]);
  });

  it("never ranks an item below one whose topic the user likes less (topics no other item has)", () => {
    pairRun(
      (base) => [
        { ...base, itemId: 'z-liked', topics: ['liked-topic'] },
        { ...base, itemId: 'a-other', topics: ['other-topic'] },
      ],
      (profile) => ({ ...profile, topicAffinity: new Map([...profile.topicAffinity, ['liked-topic', 2], ['other-topic', 0.5]]) }),
    );
  });

  it('never ranks an item below one whose author the user likes less (authors with no other item)', () => {
    pairRun(
      (base) => [
        { ...base, itemId: 'z-liked', authorId: 'liked-author' },
        { ...base, itemId: 'a-other', authorId: 'other-author' },
      ],
      (profile) => ({ ...profile, authorAffinity: new Map([...profile.authorAffinity, ['liked-author', 1], ['other-author', -1]]) }),
    );
  });
});

describe('rankFeed: examples', () => {
  it('interleaves a prolific author with others and caps them in the top 20', () => {
    const rules = { ...DEFAULT_FEED_RANKING, diversity: { floor: 0.3, decay: 0.5, authorCapInTop: 2 } };
    const prolific = Array.from({ length: 5 }, (_, i) => candidate(`p${i}`, { authorId: 'ada', publishedAt: new Date(NOW.getTime() - i * 60_000) }));
    const others = Array.from({ length: 3 }, (_, i) => candidate(`o${i}`, { authorId: `other${i}`, publishedAt: new Date(NOW.getTime() - 10 * HOUR) }));
    const ranked = rankFeed([...prolific, ...others], EMPTY_PROFILE, rules, NOW, 10);
    expect(ids(ranked)).toEqual(['p0', 'o0', 'o1', 'o2', 'p1', 'p2', 'p3', 'p4']);
    expect(ranked[1]!.diversityMultiplier).toBe(1);
    expect(ranked.slice(0, 5).filter((entry) => entry.candidate.authorId === 'ada')).toHaveLength(2);
  });

  it('penalises a repeat with a negative score too', () => {
    const profile = { ...EMPTY_PROFILE, authorAffinity: new Map([['ada', -5]]) };
    const rules = { ...DEFAULT_FEED_RANKING, weights: { recency: 0, topic: 0, author: 1, quality: 0, novelty: 0 } };
    const [first, second] = rankFeed([candidate('a', { authorId: 'ada' }), candidate('b', { authorId: 'ada' })], profile, rules, NOW, 2);
    expect(first!.finalScore).toBe(first!.score);
    expect(second!.finalScore).toBeLessThan(second!.score);
  });

  it('honours the limit', () => {
    expect(rankFeed([candidate('a'), candidate('b')], EMPTY_PROFILE, DEFAULT_FEED_RANKING, NOW, 1)).toHaveLength(1);
    expect(rankFeed([candidate('a')], EMPTY_PROFILE, DEFAULT_FEED_RANKING, NOW, 0)).toEqual([]);
  });
});

describe('caughtUp', () => {
  const fresh = candidate('fresh', { publishedAt: new Date(NOW.getTime() - 2 * HOUR) });
  const old = candidate('old', { publishedAt: new Date(NOW.getTime() - 72 * HOUR) });
  const expired = candidate('expired', { expiresAt: NOW });

  it('is true once every fresh, visible item was opened', () => {
    expect(caughtUp([fresh, old, expired], EMPTY_PROFILE, NOW, 24)).toBe(false);
    expect(caughtUp([fresh, old, expired], { ...EMPTY_PROFILE, opened: new Set(['fresh']) }, NOW, 24)).toBe(true);
    expect(caughtUp([fresh], { ...EMPTY_PROFILE, hidden: new Set(['fresh']) }, NOW, 24)).toBe(true);
    expect(caughtUp([], EMPTY_PROFILE, NOW, 24)).toBe(true);
  });

  it('takes ranked entries as well', () => {
    expect(caughtUp(rankFeed([fresh], EMPTY_PROFILE, DEFAULT_FEED_RANKING, NOW, 10), EMPTY_PROFILE, NOW, 24)).toBe(false);
  });
});

describe('explain', () => {
  it('lists only the components that helped, biggest first', () => {
    fc.assert(
      fc.property(candidatesArb(10), profileArb, rulesArb, (candidates, profile, rules) => {
        for (const entry of rankFeed(candidates, profile, rules, NOW, 10)) {
          const why = explain(entry, { now: NOW, profile });
          const helping = entry.components.filter((x) => x.contribution > 0);
          expect(why.map((reason) => reason.component).sort()).toEqual(helping.map((x) => x.name).sort());
          for (let i = 1; i < why.length; i += 1) expect(why[i]!.contribution).toBeLessThanOrEqual(why[i - 1]!.contribution);
          for (const reason of why) expect(reason.text).not.toBe('');
        }
      }),
      RUNS,
    );
  });

  it('says it in words and numbers', () => {
    const profile: FeedProfile = { ...EMPTY_PROFILE, topicAffinity: new Map([['algebra', 2], ['art', 0.1]]), authorAffinity: new Map([['ada', 1]]) };
    const item = candidate('a', { authorId: 'ada', topics: ['art', 'algebra'], publishedAt: new Date(NOW.getTime() - 2 * HOUR), stats: { views: 3_000, opens: 1_000, likes: 2_400 } });
    const [entry] = rankFeed([item], profile, DEFAULT_FEED_RANKING, NOW, 1);
    const why = explain(entry!, { now: NOW, profile, topicCounts: new Map([['algebra', 4]]), authorCounts: new Map([['ada', 1]]) });
    expect(Object.fromEntries(why.map((reason) => [reason.component, reason.text]))).toEqual({
      topic: 'because you engaged with algebra 4 times',
      author: 'from an author you engaged with once',
      quality: 'popular: 80% of 3,000 readers liked it',
      recency: 'published 2 hours ago',
      novelty: "you haven't seen it yet",
    });
    expect(why[0]!.component).toBe('topic');
  });
});
