/** Campaign points and tiers. */

export interface PointRules {
  [eventType: string]: number;
}

/** Points an event type earns in a campaign; `*` applies to types without their own rule. */
export function campaignPoints(rules: PointRules, eventType: string): number {
  return rules[eventType] ?? rules['*'] ?? 0;
}

/** The tier reached with these points: how many tier thresholds (ascending) they meet. */
export function tierFor(points: number, tiers: readonly { points: number }[]): number {
  return tiers.filter((tier) => points >= tier.points).length;
}
