/**
 * The ranking of a personalised feed, version FEED_FORMULA_VERSION. Every candidate gets five
 * components, each a raw value in a fixed range times a weight:
 *
 * - recency ∈ (0, 1]: 0.5^(ageHours / halfLife(kind)); an item published in the future counts as new (1).
 * - topic ∈ (−1, 1): tanh of the mean of the user's topic affinities over the item's distinct topics
 *   (a topic the user never touched counts 0, no topics → 0). The mean, not the sum, so piling
 *   topics onto an item does not buy rank.
 * - author ∈ (−1, 1): tanh of the user's affinity to the author (no author → 0).
 * - quality ∈ [0, 1]: Wilson lower bound (z = qualityZ) of positives = min(views, max(opens, likes))
 *   out of views, 0 without views: 3 likes of 3 views ranks below 2,400 of 3,000.
 * - novelty ∈ {0, 1}: 1 unless the user has seen (or opened) the item.
 *
 * score = Σ weight·raw, recorded per component so the contributions add up to the score exactly.
 * A greedy diversity pass then picks, position by position, the remaining item with the best
 * finalScore = score − (1 − m)·|score|, where m = (1 − floor)·decay^k + floor and k is the larger of
 * (items of the same author already placed, placements of the item's most placed topic). The
 * |score| form keeps a penalty a penalty for negative scores (score·m would raise them) and is
 * increasing in score for a fixed m. min(m_author, m_topic) = m(max(k_author, k_topic)), so the
 * floor stays a floor. While filling the top FEED_TOP_WINDOW positions, an author with
 * authorCapInTop items already placed waits; such items follow once no other item is left (they
 * are never dropped). Ties break on publishedAt (newer first), then itemId.
 */

/** Bumped whenever the formula changes, so stored rankings and explanations can say which one they used. */
import { feedRulesSchema, type FeedRules } from '../contracts/api/feed-rules.js';
export const FEED_FORMULA_VERSION = 1;

/** The positions the author cap applies to. */
export const FEED_TOP_WINDOW = 20;

export const FEED_COMPONENTS = ['recency', 'topic', 'author', 'quality', 'novelty'] as const;
export type FeedComponentName = (typeof FEED_COMPONENTS)[number];

export interface FeedRankingRules {
  weights: Record<FeedComponentName, number>;
  /** Recency half-life per item kind, in hours. */
  halfLifeHours: { default: number; byKind: Record<string, number> };
  diversity: { floor: number; decay: number; authorCapInTop: number };
  /** z of the Wilson bound behind the quality component (1.96: 95 %). */
  qualityZ: number;
}

/** The ranking part of the tenant rules' defaults (contracts/api/feed-rules.ts). */
export const DEFAULT_FEED_RANKING: FeedRankingRules = rankingRulesOf(feedRulesSchema.parse({}));

/** The ranking part of a tenant's feed rules. */
export function rankingRulesOf(rules: FeedRules): FeedRankingRules {
  return { weights: rules.weights, halfLifeHours: rules.halfLifeHours, diversity: rules.diversity, qualityZ: rules.qualityZ };
}

/** What is wrong with a set of rules (empty when usable): for config and tenant rules validation. */
export function feedRankingProblems(rules: FeedRankingRules): string[] {
  const problems: string[] = [];
  for (const name of FEED_COMPONENTS) if (!Number.isFinite(rules.weights[name])) problems.push(`weights.${name} must be a finite number`);
  const halfLives = [['default', rules.halfLifeHours.default], ...Object.entries(rules.halfLifeHours.byKind)] as const;
  for (const [kind, hours] of halfLives) if (!(hours > 0)) problems.push(`halfLifeHours ${kind} must be above 0`);
  const { floor, decay, authorCapInTop } = rules.diversity;
  if (!(floor >= 0 && floor <= 1)) problems.push('diversity.floor must be within [0, 1]');
  if (!(decay >= 0 && decay <= 1)) problems.push('diversity.decay must be within [0, 1]');
  if (!(Number.isInteger(authorCapInTop) && authorCapInTop >= 0)) problems.push('diversity.authorCapInTop must be a whole number, 0 or more');
  if (!(rules.qualityZ > 0 && Number.isFinite(rules.qualityZ))) problems.push('qualityZ must be above 0');
  return problems;
}

export interface FeedCandidate {
  itemId: string;
  kind: string;
  authorId: string | null;
  topics: readonly string[];
  publishedAt: Date;
  expiresAt: Date | null;
  stats: { views: number; opens: number; likes: number };
}

/** What is known of one user; affinities may be negative (after hiding, for instance). */
export interface FeedProfile {
  topicAffinity: ReadonlyMap<string, number>;
  authorAffinity: ReadonlyMap<string, number>;
  seen: ReadonlySet<string>;
  opened: ReadonlySet<string>;
  hidden: ReadonlySet<string>;
}

export interface FeedComponent {
  name: FeedComponentName;
  raw: number;
  weight: number;
  contribution: number;
}

export interface FeedEntry {
  candidate: FeedCandidate;
  components: FeedComponent[];
  /** Σ contributions, before diversity. */
  score: number;
  diversityMultiplier: number;
  /** score − (1 − diversityMultiplier)·|score|. */
  finalScore: number;
  /** 1-based. */
  position: number;
}

const HOUR_MS = 3_600_000;

/** The lower end of the Wilson score interval of positives/trials; 0 without trials. Positives are clamped into [0, trials]. */
export function wilsonLowerBound(positives: number, trials: number, z: number): number {
  if (!(trials > 0)) return 0;
  const p = Math.min(Math.max(positives, 0), trials) / trials;
  const z2 = z * z;
  const centre = p + z2 / (2 * trials);
  const spread = z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  // Rounding can leave a hair below 0 at p = 0.
  return Math.min(1, Math.max(0, (centre - spread) / (1 + z2 / trials)));
}

/** The positives behind the quality component: the better of opens and likes, never more than the views. */
export function qualityPositives(stats: FeedCandidate['stats']): number {
  return Math.min(stats.views, Math.max(stats.opens, stats.likes));
}

function halfLifeOf(kind: string, rules: FeedRankingRules): number {
  // hasOwn: a kind named "constructor" must not find Object.prototype's.
  return Object.hasOwn(rules.halfLifeHours.byKind, kind) ? rules.halfLifeHours.byKind[kind]! : rules.halfLifeHours.default;
}

function rawComponents(candidate: FeedCandidate, profile: FeedProfile, rules: FeedRankingRules, now: Date): Record<FeedComponentName, number> {
  const ageHours = Math.max(0, now.getTime() - candidate.publishedAt.getTime()) / HOUR_MS;
  const topics = [...new Set(candidate.topics)];
  const topicMean = topics.length === 0 ? 0 : topics.reduce((sum, topic) => sum + (profile.topicAffinity.get(topic) ?? 0), 0) / topics.length;
  const authorAffinity = candidate.authorId === null ? 0 : (profile.authorAffinity.get(candidate.authorId) ?? 0);
  const seen = profile.seen.has(candidate.itemId) || profile.opened.has(candidate.itemId);
  return {
    recency: 0.5 ** (ageHours / halfLifeOf(candidate.kind, rules)),
    topic: Math.tanh(topicMean),
    author: Math.tanh(authorAffinity),
    quality: wilsonLowerBound(qualityPositives(candidate.stats), candidate.stats.views, rules.qualityZ),
    novelty: seen ? 0 : 1,
  };
}

/** The components of one candidate and their sum, before diversity. */
export function scoreCandidate(candidate: FeedCandidate, profile: FeedProfile, rules: FeedRankingRules, now: Date): { components: FeedComponent[]; score: number } {
  const raw = rawComponents(candidate, profile, rules, now);
  const components = FEED_COMPONENTS.map((name) => ({ name, raw: raw[name], weight: rules.weights[name], contribution: rules.weights[name] * raw[name] }));
  // Summed in the recorded order, so the recorded contributions add up to exactly this.
  const score = components.reduce((sum, component) => sum + component.contribution, 0);
  return { components, score };
}

/** Hidden and expired items are never shown. */
export function isEligible(candidate: FeedCandidate, profile: FeedProfile, now: Date): boolean {
  return !profile.hidden.has(candidate.itemId) && (candidate.expiresAt === null || candidate.expiresAt > now);
}

/** The diversity multiplier of the k-th repeat (k = 0: no penalty). */
export function diversityMultiplier(k: number, rules: FeedRankingRules): number {
  const { floor, decay } = rules.diversity;
  return (1 - floor) * decay ** k + floor;
}

/** Applies a multiplier so that it always lowers the score, negative ones included. */
export function diversified(score: number, multiplier: number): number {
  return score - (1 - multiplier) * Math.abs(score);
}

type Scored = Omit<FeedEntry, 'diversityMultiplier' | 'finalScore' | 'position'>;

function byScore(a: Scored, b: Scored): number {
  return b.score - a.score || b.candidate.publishedAt.getTime() - a.candidate.publishedAt.getTime() || (a.candidate.itemId < b.candidate.itemId ? -1 : a.candidate.itemId > b.candidate.itemId ? 1 : 0);
}

/** Counts of what has been placed so far, by author and by topic. */
class Placed {
  private readonly authors = new Map<string, number>();
  private readonly topics = new Map<string, number>();

  repeats({ authorId, topics }: FeedCandidate): number {
    const byAuthor = authorId === null ? 0 : (this.authors.get(authorId) ?? 0);
    return Math.max(byAuthor, ...topics.map((topic) => this.topics.get(topic) ?? 0));
  }

  capped({ authorId }: FeedCandidate, cap: number): boolean {
    return authorId !== null && (this.authors.get(authorId) ?? 0) >= cap;
  }

  add({ authorId, topics }: FeedCandidate): void {
    if (authorId !== null) this.authors.set(authorId, (this.authors.get(authorId) ?? 0) + 1);
    for (const topic of new Set(topics)) this.topics.set(topic, (this.topics.get(topic) ?? 0) + 1);
  }
}

/** The feed of one user at `now`: at most `limit` entries, best first. The order of `candidates` does not matter (itemIds are unique). */
export function rankFeed(candidates: readonly FeedCandidate[], profile: FeedProfile, rules: FeedRankingRules, now: Date, limit: number): FeedEntry[] {
  const remaining: Scored[] = candidates
    .filter((candidate) => isEligible(candidate, profile, now))
    .map((candidate) => ({ candidate, ...scoreCandidate(candidate, profile, rules, now) }))
    .sort(byScore);
  const placed = new Placed();
  const entries: FeedEntry[] = [];
  const cap = rules.diversity.authorCapInTop;
  // finalScore ≤ score and `remaining` is sorted by score: once an item's score cannot beat the best
  // finalScore found, no later one can, so each position scans a handful of items, not all of them.
  const pick = (skipCapped: boolean) => {
    let best = -1;
    let bestFinal = 0;
    let bestMultiplier = 1;
    for (let i = 0; i < remaining.length; i++) {
      const item = remaining[i] as Scored;
      if (best >= 0 && item.score <= bestFinal) break;
      if (skipCapped && placed.capped(item.candidate, cap)) continue;
      const multiplier = diversityMultiplier(placed.repeats(item.candidate), rules);
      const finalScore = diversified(item.score, multiplier);
      if (best < 0 || finalScore > bestFinal) [best, bestFinal, bestMultiplier] = [i, finalScore, multiplier];
    }
    return { best, bestFinal, bestMultiplier };
  };
  while (entries.length < limit && remaining.length > 0) {
    const inTop = entries.length < FEED_TOP_WINDOW;
    let choice = pick(inTop);
    // Only capped authors left: their items fill in rather than leave the top short.
    if (choice.best < 0) choice = pick(false);
    const item = remaining[choice.best] as Scored;
    entries.push({ ...item, diversityMultiplier: choice.bestMultiplier, finalScore: choice.bestFinal, position: entries.length + 1 });
    placed.add(item.candidate);
    remaining.splice(choice.best, 1);
  }
  return entries;
}

/**
 * Whether the user has opened every fresh item: published within the last `freshnessHours`
 * (not in the future), neither hidden nor expired. Nothing fresh counts as caught up.
 */
export function caughtUp(items: Iterable<FeedCandidate | FeedEntry>, profile: FeedProfile, now: Date, freshnessHours: number): boolean {
  const since = now.getTime() - freshnessHours * HOUR_MS;
  for (const item of items) {
    const candidate = 'candidate' in item ? item.candidate : item;
    const published = candidate.publishedAt.getTime();
    const fresh = published >= since && published <= now.getTime() && isEligible(candidate, profile, now);
    if (fresh && !profile.opened.has(candidate.itemId)) return false;
  }
  return true;
}
