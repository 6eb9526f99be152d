import { describe, expect, it } from 'vitest';
import { GroupCommit, ItemFailure } from '../../src/platform/group-commit.js';

/** A commit function that records its batches and waits until released. */
function recordingCommit(fail: (items: number[]) => boolean = () => false) {
  const batches: number[][] = [];
  const releases: (() => void)[] = [];
  let round = 0;
  let inFlight = 0;
  let maxInFlightSeen = 0;
  const commit = async (items: number[]) => {
    batches.push(items);
    inFlight += 1;
    maxInFlightSeen = Math.max(maxInFlightSeen, inFlight);
    await new Promise<void>((resolve) => releases.push(resolve));
    inFlight -= 1;
    if (fail(items)) throw new Error(`batch ${items.join(',')} failed`);
    return items.map((item) => item * 10);
  };
  /** Releases every commit waiting, then those started meanwhile: each pass is one round of concurrent commits. */
  const releaseAll = async (passes = Infinity) => {
    for (let pass = 0; pass < passes && releases.length > 0; pass += 1) {
      round += 1;
      for (const release of releases.splice(0)) release();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { commit, batches, releaseAll, rounds: () => round, inFlight: () => inFlight, maxInFlightSeen: () => maxInFlightSeen };
}

/**
 * A group of up to ten items a commit, one commit at a time, whose commit records its batches and
 * answers each item of a batch with `answer` (a result or an ItemFailure) at once.
 */
function answeringGroup(answer: (item: number, items: number[]) => number | ItemFailure) {
  const batches: number[][] = [];
  const group = new GroupCommit<number, number>({
    commit: async (items) => {
      batches.push(items);
      await Promise.resolve();
      return items.map((item) => answer(item, items));
    },
    maxSize: 10,
    maxInFlight: 1,
  });
  return { batches, group };
}

describe('group commit', () => {
  it('sends a lone item at once and gathers those that arrive meanwhile into the next commit, within the budget', async () => {
    const { commit, batches, releaseAll } = recordingCommit();
    const group = new GroupCommit<number, number>({ commit, maxSize: 3, maxInFlight: 1 });
    const results = [1, 2, 3, 4, 5, 6].map((item) => group.submit(item));
    await releaseAll();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(batches).toEqual([[1], [2, 3, 4], [5, 6]]);
  });

  it('overlaps at most maxInFlight commits', async () => {
    const { commit, batches, releaseAll } = recordingCommit();
    const group = new GroupCommit<number, number>({ commit, maxSize: 10, maxInFlight: 2 });
    const results = [1, 2, 3, 4].map((item) => group.submit(item));
    expect(batches).toEqual([[1], [2]]);
    await releaseAll();
    await Promise.all(results);
    expect(batches).toEqual([[1], [2], [3, 4]]);
  });

  it('bisects a failed batch, committing both halves together, so only the bad item fails', async () => {
    const { commit, batches, releaseAll } = recordingCommit((items) => items.includes(3));
    const failures: number[] = [];
    const group = new GroupCommit<number, number>({ commit, maxSize: 10, maxInFlight: 1, onBatchFailure: (_, items) => failures.push(items) });
    const results = [1, 2, 3, 4].map((item) => group.submit(item).catch((error: unknown) => (error as Error).message));
    await releaseAll();
    expect(await Promise.all(results)).toEqual([10, 20, 'batch 3 failed', 40]);
    expect(failures).toEqual([3, 2]);
    expect(batches).toEqual([[1], [2, 3, 4], [2, 3], [4], [2], [3]]);
  });

  it('lets an innocent item of a poisoned batch wait for O(log n) commits, not one per neighbour', async () => {
    const n = 64;
    const guilty = 37;
    const { commit, batches, rounds, releaseAll } = recordingCommit((items) => items.includes(guilty));
    const group = new GroupCommit<number, number>({ commit, maxSize: n, maxInFlight: 1 });
    // Item 0 goes alone; the other 64 fill the next batch while it is in flight.
    const settledAt = new Map<number, number>();
    const results = Array.from({ length: n + 1 }, (_, item) =>
      group.submit(item).then(
        () => settledAt.set(item, rounds()),
        () => settledAt.set(item, -rounds()),
      ),
    );
    await releaseAll();
    await Promise.all(results);
    const bound = Math.ceil(Math.log2(n)) + 1;
    const attempts = (item: number) => batches.filter((batch) => batch.includes(item)).length;
    const poisoned = Array.from({ length: n }, (_, i) => i + 1);
    expect(Math.max(...poisoned.filter((item) => item !== guilty).map(attempts))).toBeLessThanOrEqual(bound);
    expect(attempts(guilty)).toBe(bound);
    // Every innocent resolved, and within as many rounds of commits (the halves run together) as
    // the bisection is deep: first batch, its commit, then one round per level.
    expect(poisoned.filter((item) => item !== guilty).every((item) => (settledAt.get(item) ?? 0) > 0)).toBe(true);
    expect(Math.max(...poisoned.map((item) => Math.abs(settledAt.get(item) ?? Infinity)))).toBeLessThanOrEqual(bound + 1);
    expect(settledAt.get(guilty)).toBeLessThan(0);
    // The old one-by-one retry needed 1 + n commits after the failure; bisection needs 2 per level.
    expect(batches.length).toBe(1 + 1 + 2 * Math.ceil(Math.log2(n)));
  });

  it('keeps new batches flowing beside a bisection, with a bounded number of retry commits at once', async () => {
    const { commit, batches, inFlight, maxInFlightSeen, releaseAll } = recordingCommit((items) => items.some((item) => item < 0));
    const group = new GroupCommit<number, number>({ commit, maxSize: 100, maxInFlight: 1, maxRetriesInFlight: 2 });
    const first = [0, 1, -1, 2, 3, -2, 4, 5].map((item) => group.submit(item).catch(() => 'failed'));
    // [0] goes alone, then the other seven together; that batch fails and is bisected.
    await releaseAll(2);
    expect(batches).toEqual([[0], [1, -1, 2, 3, -2, 4, 5], [1, -1, 2, 3], [-2, 4, 5]]);
    const later = [6, 7].map((item) => group.submit(item));
    // A new item is committed at once beside the two retries instead of waiting for the bisection.
    expect(batches.at(-1)).toEqual([6]);
    expect(inFlight()).toBe(3);
    await releaseAll();
    expect(await Promise.all(later)).toEqual([60, 70]);
    expect(await Promise.all(first)).toEqual([0, 10, 'failed', 20, 30, 'failed', 40, 50]);
    expect(maxInFlightSeen()).toBeLessThanOrEqual(4);
  });

  it('fails only the callers whose items the commit reports as failed on their own', async () => {
    const { batches, group } = answeringGroup((item) => (item % 2 === 0 ? new ItemFailure(new Error(`item ${item} refused`)) : item * 10));
    const results = [1, 2, 3, 4].map((item) => group.submit(item).catch((error: unknown) => (error as Error).message));
    expect(await Promise.all(results)).toEqual([10, 'item 2 refused', 30, 'item 4 refused']);
    // No retries: the commit itself said which items failed.
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('commits an item once more alone when the commit sends it back through no fault of its own', async () => {
    const { batches, group } = answeringGroup((item, items) => (items.length > 1 && item === 3 ? new ItemFailure(new Error('neighbour failed'), true) : item * 10));
    const results = [1, 2, 3].map((item) => group.submit(item));
    expect(await Promise.all(results)).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1], [2, 3], [3]]);
  });

  it('splits a failed batch between owners first, so the other owners commit after one retry', async () => {
    // Owner: the tens digit. Owner 2's item 23 is bad.
    const { commit, batches, releaseAll } = recordingCommit((items) => items.includes(23));
    const group = new GroupCommit<number, number>({ commit, maxSize: 100, maxInFlight: 1, groupOf: (item) => String(Math.floor(item / 10)) });
    const results = [0, 11, 21, 12, 22, 13, 23, 14, 15].map((item) => group.submit(item).catch(() => 'failed'));
    await releaseAll();
    expect(await Promise.all(results)).toEqual([0, 110, 210, 120, 220, 130, 'failed', 140, 150]);
    expect(batches.slice(0, 4)).toEqual([[0], [11, 21, 12, 22, 13, 23, 14, 15], [11, 12, 13, 14, 15], [21, 22, 23]]);
  });
});
