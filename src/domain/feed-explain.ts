import { qualityPositives, type FeedComponent, type FeedComponentName, type FeedEntry, type FeedProfile } from './feed-ranking.js';

/**
 * Why an item is in a user's feed, in words and numbers a tenant can show next to it. Only
 * components that helped (contribution > 0) are listed, the biggest help first.
 */

export interface FeedReason {
  component: FeedComponentName;
  text: string;
  contribution: number;
}

export interface ExplainContext {
  now: Date;
  /** The profile the entry was ranked with: names the topic that matched. */
  profile: FeedProfile;
  /** How often the user engaged with each topic / author (the affinity records' counts), for "4 times". */
  topicCounts?: ReadonlyMap<string, number>;
  authorCounts?: ReadonlyMap<string, number>;
}

// A fixed locale: the same entry explains the same way on every server.
const numbers = new Intl.NumberFormat('en-US');

function times(count: number | undefined): string {
  return count === undefined || count <= 0 ? '' : count === 1 ? ' once' : ` ${numbers.format(count)} times`;
}

function ago(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const [amount, unit] = minutes < 1 ? [0, ''] : minutes < 60 ? [minutes, 'minute'] : minutes < 48 * 60 ? [Math.floor(minutes / 60), 'hour'] : [Math.floor(minutes / 1440), 'day'];
  return amount === 0 ? 'published just now' : `published ${amount} ${unit}${amount === 1 ? '' : 's'} ago`;
}

/** The item's topic the user likes best (ties: alphabetical). */
function bestTopic(topics: readonly string[], profile: FeedProfile): string | undefined {
  return [...topics].sort((a, b) => (profile.topicAffinity.get(b) ?? 0) - (profile.topicAffinity.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0))[0];
}

function describe(component: FeedComponent, { candidate }: FeedEntry, context: ExplainContext): string {
  switch (component.name) {
    case 'topic': {
      const topic = bestTopic(candidate.topics, context.profile) ?? 'this topic';
      const count = context.topicCounts?.get(topic);
      return count ? `because you engaged with ${topic}${times(count)}` : `because you're interested in ${topic}`;
    }
    case 'author': {
      const count = candidate.authorId === null ? undefined : context.authorCounts?.get(candidate.authorId);
      return count ? `from an author you engaged with${times(count)}` : 'from an author you follow';
    }
    case 'quality': {
      const { views, opens, likes } = candidate.stats;
      const share = Math.round((100 * qualityPositives(candidate.stats)) / views);
      return `popular: ${share}% of ${numbers.format(views)} readers ${likes >= opens ? 'liked' : 'opened'} it`;
    }
    case 'recency':
      return ago(Math.max(0, context.now.getTime() - candidate.publishedAt.getTime()));
    case 'novelty':
      return "you haven't seen it yet";
  }
}

/** The reasons behind an entry's score, largest contribution first (ties: the formula's component order). */
export function explain(entry: FeedEntry, context: ExplainContext): FeedReason[] {
  return entry.components
    .filter((component) => component.contribution > 0)
    .sort((a, b) => b.contribution - a.contribution)
    .map((component) => ({ component: component.name, text: describe(component, entry, context), contribution: component.contribution }));
}
