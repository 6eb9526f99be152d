/**
 * Per-user affinities to topics and authors, decaying exponentially with a half-life in days.
 * A record holds its score as of `updatedAt`; reading it later decays it. Each interaction adds
 * its weight (interactionWeights) to every dimension it touches: a feed event touches the item's
 * topics and author, any other event carrying `data.topics` adds OTHER_EVENT_TOPIC_WEIGHT to
 * those topics. An event arriving late (older than the record) is decayed to the record's time
 * before being added, so the score does not depend on arrival order.
 */

/** The weight of each feed interaction. Feed events not listed here count as other events. */
export const interactionWeights = {
  'feed.viewed': 0.1,
  'feed.opened': 1,
  'feed.liked': 2,
  'feed.shared': 3,
  'feed.hidden': -3,
} as const satisfies Record<string, number>;

/** What any other event with `data.topics` adds to each of those topics. */
export const OTHER_EVENT_TOPIC_WEIGHT = 1;

export interface AffinityRecord {
  /** As of updatedAt. */
  score: number;
  /** Interactions that raised the score, for explanations ("you engaged with algebra 4 times"). */
  count: number;
  updatedAt: Date;
}

export interface AffinityEvent {
  type: string;
  data?: Readonly<Record<string, unknown>>;
}

/** The item a feed event refers to, as the caller looked it up. */
export interface AffinityItem {
  topics: readonly string[];
  authorId: string | null;
}

export interface AffinityUpdate {
  dimension: 'topic' | 'author';
  key: string;
  delta: number;
}

const DAY_MS = 86_400_000;

/** A score as of `now`, given it was `score` at `lastUpdatedAt`; time running backwards does not grow it. */
export function decayAffinity(score: number, lastUpdatedAt: Date, now: Date, halfLifeDays: number): number {
  const ageDays = Math.max(0, now.getTime() - lastUpdatedAt.getTime()) / DAY_MS;
  return score * 0.5 ** (ageDays / halfLifeDays);
}

/** The record after one interaction worth `delta` at `now`. */
export function applyInteraction(current: AffinityRecord | undefined, delta: number, now: Date, halfLifeDays: number): AffinityRecord {
  const count = (current?.count ?? 0) + (delta > 0 ? 1 : 0);
  if (current === undefined) return { score: delta, count, updatedAt: now };
  if (now >= current.updatedAt) return { score: decayAffinity(current.score, current.updatedAt, now, halfLifeDays) + delta, count, updatedAt: now };
  return { score: current.score + decayAffinity(delta, now, current.updatedAt, halfLifeDays), count, updatedAt: current.updatedAt };
}

function isFeedInteraction(type: string): type is keyof typeof interactionWeights {
  return Object.hasOwn(interactionWeights, type);
}

function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? [...new Set(value.filter((entry): entry is string => typeof entry === 'string' && entry !== ''))] : [];
}

/**
 * The dimensions an event moves and by how much. A feed interaction uses the item when the
 * caller found it, else whatever `data.topics` / `data.authorId` say.
 */
export function affinityUpdates(event: AffinityEvent, item?: AffinityItem | null): AffinityUpdate[] {
  const dataTopics = stringsOf(event.data?.['topics']);
  if (!isFeedInteraction(event.type)) return dataTopics.map((key) => ({ dimension: 'topic', key, delta: OTHER_EVENT_TOPIC_WEIGHT }));
  const delta = interactionWeights[event.type];
  const topics = item ? stringsOf(item.topics) : dataTopics;
  const dataAuthor = event.data?.['authorId'];
  const authorId = item ? item.authorId : typeof dataAuthor === 'string' && dataAuthor !== '' ? dataAuthor : null;
  const updates: AffinityUpdate[] = topics.map((key) => ({ dimension: 'topic', key, delta }));
  if (authorId !== null) updates.push({ dimension: 'author', key: authorId, delta });
  return updates;
}
