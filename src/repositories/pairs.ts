/*
 * Reading rows for a list of (user, day) pairs. A join on `unnest(users, days)` looks natural, but
 * postgres.js prepares its statements, and Postgres's generic plan for such a join (it cannot see
 * the arrays) is, on tables of a few thousand rows, a hash join over a sequential scan of the
 * whole table (0.9 ms per batch on 3,000 mission rows in a bench run). Plain `= any(array)`
 * conditions on the indexed columns keep an index scan in every plan; they ask for every user ×
 * every day, so the exact pairs are picked out here.
 */

export const distinct = <T>(values: readonly T[]): T[] => [...new Set(values)];

/** A map key of several parts (ids, rule keys and days hold no control characters). */
export const keyOf = (...parts: string[]): string => parts.join('\u001f');

/** A row filter keeping the rows of the requested (user, day) pairs. */
export function isRequestedPair(pairs: readonly { userId: string; day: string }[]): (row: { user_id: string; day: string }) => boolean {
  const wanted = new Set(pairs.map((pair) => keyOf(pair.userId, pair.day)));
  return (row) => wanted.has(keyOf(row.user_id, row.day));
}
