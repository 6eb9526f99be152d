import type { EngineRules } from '../../contracts/api/rules.js';
import { affinityUpdates, applyInteraction, type AffinityRecord } from '../../domain/feed-affinity.js';
import type { Transaction } from '../../repositories/db/client.js';
import { FeedActivity, feedActions, type Interaction, type StoredAffinity } from '../../repositories/feed-activity.js';
import type { EngineEvent } from './context.js';

/** An applied event that carries feed references, with its tenant's rules. */
export interface FeedEventInput {
  event: EngineEvent;
  rules: EngineRules;
}

const actionOf = (type: string) => (Object.hasOwn(feedActions, type) ? feedActions[type as keyof typeof feedActions] : undefined);

/**
 * The feed side of a batch, in its transaction (exactly once, like every other effect): each
 * event's affinity changes (decayed, domain/feed-affinity.ts) to the item's topics and author or to
 * its `data.topics`, and each user's first view, open, like, hide or share of an item, counted on
 * the item. Two statements read what is stored, two or three write, whatever the batch's size.
 * Answers the users whose feed should be recomputed.
 */
export async function applyFeedEffects(tx: Transaction, inputs: readonly FeedEventInput[]): Promise<Set<string>> {
  const withRefs = inputs.filter(({ event }) => event.feed !== undefined);
  if (withRefs.length === 0) return new Set();
  const tenantOf = new Map(withRefs.map(({ event }) => [event.userId, event.tenantId]));
  const itemRefs = withRefs.flatMap(({ event }) => (actionOf(event.type) && event.feed?.itemId ? [{ tenantId: event.tenantId, itemId: event.feed.itemId }] : []));
  const items = await FeedActivity.items(tx, itemRefs);

  const updates = withRefs.map(({ event, rules }) => {
    const item = event.feed?.itemId ? items.get(`${event.tenantId}\u0000${event.feed.itemId}`) : undefined;
    return { event, rules, moves: affinityUpdates({ type: event.type, data: { ...event.feed } }, item ?? null) };
  });
  const keys = new Map(updates.flatMap(({ event, moves }) => moves.map((move) => [FeedActivity.affinityKey(event.userId, move.dimension, move.key), { userId: event.userId, dimension: move.dimension, key: move.key }] as const)));
  const pairs = new Map(withRefs.flatMap(({ event }) => (actionOf(event.type) && event.feed?.itemId ? [[FeedActivity.interactionKey(event.userId, event.feed.itemId), { userId: event.userId, itemId: event.feed.itemId }] as const] : [])));
  const [stored, done] = await Promise.all([FeedActivity.affinities(tx, [...keys.values()]), FeedActivity.interactions(tx, [...pairs.values()])]);

  const records = new Map<string, AffinityRecord>(stored);
  for (const { event, rules, moves } of updates) {
    for (const move of moves) {
      const key = FeedActivity.affinityKey(event.userId, move.dimension, move.key);
      records.set(key, applyInteraction(records.get(key), move.delta, event.occurredAt, rules.feed.affinityHalfLifeDays));
    }
  }
  const changed: StoredAffinity[] = [...keys].map(([key, ref]) => ({ ...ref, ...(records.get(key) as AffinityRecord) }));

  const firsts: Interaction[] = [];
  for (const { event } of withRefs) {
    const action = actionOf(event.type);
    const itemId = event.feed?.itemId;
    if (!action || !itemId) continue;
    const key = FeedActivity.interactionKey(event.userId, itemId);
    const seen = done.get(key) ?? new Set();
    if (seen.has(action)) continue;
    seen.add(action);
    done.set(key, seen);
    firsts.push({ userId: event.userId, itemId, action, at: event.occurredAt });
  }
  await Promise.all([FeedActivity.writeAffinities(tx, tenantOf, changed), FeedActivity.recordFirstInteractions(tx, tenantOf, firsts)]);
  return new Set(withRefs.map(({ event }) => event.userId));
}
