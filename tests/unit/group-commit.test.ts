import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/shared/runtime/group-commit.js';

/** A commit function that records its batches and waits until released. */
function recordingCommit(fail: (items: number[]) => boolean = () => false) {
  const batches: number[][] = [];
  const releases: (() => void)[] = [];
  const commit = async (items: number[]) => {
    batches.push(items);
    await new Promise<void>((resolve) => releases.push(resolve));
    if (fail(items)) throw new Error(`batch ${items.join(',')} failed`);
    return items.map((item) => item * 10);
  };
  const releaseAll = async () => {
    while (releases.length > 0) {
      for (const release of releases.splice(0)) release();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { commit, batches, releaseAll };
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

  it('retries the items of a failed batch one by one, so only the bad item fails', async () => {
    const { commit, batches, releaseAll } = recordingCommit((items) => items.includes(3));
    const failures: number[] = [];
    const group = new GroupCommit<number, number>({ commit, maxSize: 10, maxInFlight: 1, onBatchFailure: (_, items) => failures.push(items) });
    const results = [1, 2, 3, 4].map((item) => group.submit(item).catch((error: unknown) => (error as Error).message));
    await releaseAll();
    expect(await Promise.all(results)).toEqual([10, 20, 'batch 3 failed', 40]);
    expect(failures).toEqual([3]);
    expect(batches).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
  });
});
