import type { FeedRules } from '../contracts/api/feed-rules.js';
import type { UserUpdate } from '../contracts/socket/user-updates.js';
import { decayAffinity } from '../domain/feed-affinity.js';
import { decideFeedPush, type FeedPushDecision } from '../domain/feed-delivery.js';
import { explain } from '../domain/feed-explain.js';
import { caughtUp, FEED_FORMULA_VERSION, rankFeed, rankingRulesOf, type FeedEntry, type FeedProfile } from '../domain/feed-ranking.js';
import type { Sql } from '../repositories/db/client.js';
import type { RulesCache } from '../repositories/engine-rules.js';
import type { FeedStore, FeedStateRow } from '../repositories/feeds.js';
import { appendUpdates } from '../repositories/user-updates.js';
import { inUserTransaction } from './user-locks.js';

/** How many of the top entries define "the top" a `feed:updated` announces. */
export const FEED_TOP_SIZE = 5;
/** Strongest topics and authors whose older items join the candidate pool. */
const AFFINITY_POOL_KEYS = 10;

export interface FeedRecomputeResult {
  version: number;
  entries: number;
  caughtUp: boolean;
  /** What happened to the announcement: none (no material change), pushed, or held until `releaseAt`. */
  announcement: { kind: 'none' } | { kind: 'pushed'; update: UserUpdate } | { kind: 'held'; reason: 'quiet_hours' | 'budget'; releaseAt: Date };
  durationMs: number;
}

/** The user's profile for ranking: affinities decayed to now, and what it did with the candidates. */
async function profileOf(store: FeedStore, userId: string, rules: FeedRules, now: Date) {
  const affinities = await store.affinities(userId);
  const topicAffinity = new Map<string, number>();
  const authorAffinity = new Map<string, number>();
  const topicCounts = new Map<string, number>();
  const authorCounts = new Map<string, number>();
  for (const row of affinities) {
    const score = decayAffinity(row.score, row.updatedAt, now, rules.affinityHalfLifeDays);
    (row.dimension === 'topic' ? topicAffinity : authorAffinity).set(row.key, score);
    (row.dimension === 'topic' ? topicCounts : authorCounts).set(row.key, row.count);
  }
  const strongest = (map: Map<string, number>) => [...map].filter(([, score]) => score > 0).sort((a, b) => b[1] - a[1]).slice(0, AFFINITY_POOL_KEYS).map(([key]) => key);
  return { topicAffinity, authorAffinity, topicCounts, authorCounts, topTopics: strongest(topicAffinity), topAuthors: strongest(authorAffinity) };
}

/** The top's item ids that were not in the top last announced. */
const newInTop = (top: string[], announced: string[]) => top.filter((itemId) => !announced.includes(itemId));

/**
 * Recomputes one user's feed: ranks the candidate pool (domain/feed-ranking.ts) outside any lock,
 * then, under the user's row lock (the one the engine takes: seqs stay gap-free), stores the new
 * version with every entry's components and explanation, and announces a material change of the
 * top as a `feed:updated` user update, unless the user's quiet hours or daily budget hold it
 * (domain/feed-delivery.ts): then it is released by a later recomputation, coalesced, since the top
 * is compared with the last one announced.
 */
export class FeedRecomputer {
  constructor(
    private readonly deps: { sql: Sql; store: FeedStore; rules: RulesCache },
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async recompute(tenantId: string, userId: string): Promise<FeedRecomputeResult | undefined> {
    const started = performance.now();
    const now = this.clock();
    const { store } = this.deps;
    // Independent reads side by side (the pool holds several connections): fewer round trips in a row.
    const [zone, stored, sets] = await Promise.all([store.userZone(tenantId, userId), this.deps.rules.get(tenantId), store.interactions(userId)]);
    if (zone === undefined) return undefined;
    const rules = stored.rules.feed;
    const profileData = await profileOf(store, userId, rules, now);
    const candidates = await store.candidates(tenantId, rules.candidatePool, profileData.topTopics, profileData.topAuthors);
    const profile: FeedProfile = { topicAffinity: profileData.topicAffinity, authorAffinity: profileData.authorAffinity, ...sets };
    const ranked = rankFeed(candidates, profile, rankingRulesOf(rules), now, rules.length);
    const isCaughtUp = caughtUp(candidates, profile, now, rules.freshnessHours);
    const entries = ranked.map((entry) => this.stored(entry, profile, profileData, now));
    const titles = new Map(candidates.map((candidate) => [candidate.itemId, candidate]));
    const top = ranked.slice(0, FEED_TOP_SIZE).map((entry) => entry.candidate.itemId);

    const outcome = await inUserTransaction(
      this.deps.sql,
      [userId],
      async (tx, locked) => {
        if (locked.length === 0) return undefined;
        const state = await store.lockState(tx, tenantId, userId);
        const version = state.version + 1;
        await store.storeVersion(tx, userId, version, entries, FEED_FORMULA_VERSION, now);
        const changed = newInTop(top, state.top);
        if (changed.length === 0) {
          // Nothing new to announce; a hold whose release found nothing left is cleared.
          await store.updateState(tx, userId, { version, computedAt: now, caughtUp: isCaughtUp, ...(state.heldUntil && state.heldUntil <= now ? { held: null } : {}) });
          return { version, announcement: { kind: 'none' } as const };
        }
        const decision = this.decide(state, zone, rules, now);
        if (decision.kind !== 'push') {
          const reason = decision.kind === 'hold_quiet' ? ('quiet_hours' as const) : ('budget' as const);
          await store.updateState(tx, userId, { version, computedAt: now, caughtUp: isCaughtUp, held: { until: decision.releaseAt, reason } });
          return { version, announcement: { kind: 'held', reason, releaseAt: decision.releaseAt } as const };
        }
        const payload = { changed, top: top.map((itemId) => ({ itemId, title: titles.get(itemId)?.title ?? null })), caughtUp: isCaughtUp, version };
        const [stored] = await appendUpdates(tx, [{ tenantId, userId, updates: [{ event: 'feed:updated', payload }] }]);
        await store.updateState(tx, userId, { version, computedAt: now, caughtUp: isCaughtUp, top, push: { day: decision.localDay, pushesToday: decision.pushesToday }, held: null });
        return { version, announcement: { kind: 'pushed', update: stored?.[0] as UserUpdate } as const };
      },
      { tenantId },
    );
    if (!outcome) return undefined;
    return { version: outcome.version, entries: entries.length, caughtUp: isCaughtUp, announcement: outcome.announcement, durationMs: performance.now() - started };
  }

  private decide(state: FeedStateRow, zone: string, rules: FeedRules, now: Date): FeedPushDecision {
    const own = state.quietStart !== null && state.quietEnd !== null ? { start: state.quietStart, end: state.quietEnd } : undefined;
    return decideFeedPush({ now, zone, quietHours: own ?? rules.quietHours, dailyBudget: rules.dailyPushBudget, state: { localDay: state.pushDay, pushesToday: state.pushesToday } });
  }

  private stored(entry: FeedEntry, profile: FeedProfile, counts: { topicCounts: Map<string, number>; authorCounts: Map<string, number> }, now: Date) {
    return {
      position: entry.position,
      itemId: entry.candidate.itemId,
      score: entry.score,
      finalScore: entry.finalScore,
      diversityMultiplier: entry.diversityMultiplier,
      components: entry.components,
      why: explain(entry, { now, profile, topicCounts: counts.topicCounts, authorCounts: counts.authorCounts }),
    };
  }
}
