/**
 * Group commit: items submitted while commits are in flight are gathered into the next one, so
 * under load many items share one transaction (and its round trips) while a lone item still goes
 * at once. Each caller resolves with its own result only after the commit that holds its item.
 *
 * One item must not fail or slow its neighbours. A commit can say an item failed on its own
 * (`ItemFailure`): only that caller is rejected, the others resolve. When a whole commit of
 * several items fails, it is bisected: split in halves committed concurrently, recursively, so
 * an innocent item waits for at most ceil(log2 n) + 1 commits instead of queueing behind every
 * neighbour retried one by one; a lone item's failure is its caller's. Retries take slots of
 * their own (`maxRetriesInFlight`) beside the `maxInFlight` of new batches: new items keep
 * flowing while a bisection runs, and however many batches fail, the retries add a bounded
 * number of concurrent commits rather than a stampede.
 */
export interface GroupCommitOptions<Item, Result> {
  /** Commits a batch; returns one result per item, in order: an `ItemFailure` fails that item's caller alone. */
  commit: (items: Item[]) => Promise<(Result | ItemFailure)[]>;
  /** How much of the batch budget an item takes (default 1). */
  sizeOf?: (item: Item) => number;
  /** The batch budget: a batch is closed before an item that would exceed it (a lone item always goes). */
  maxSize: number;
  /** Commits of new batches that may overlap: one batch fills while the previous one waits on the server. */
  maxInFlight: number;
  /** Retry commits (halves of failed batches) that may overlap, beside `maxInFlight` (default max(2, maxInFlight), so both halves go together). */
  maxRetriesInFlight?: number;
  /**
   * Whose an item is (say, its tenant): a failed batch of several owners is split between
   * owners, never inside one, so a bad item's owner ends up alone and the others commit after
   * one retry; a batch of one owner is split in the middle.
   */
  groupOf?: (item: Item) => string;
  /** Told when a batch of several items failed and is retried in two halves. */
  onBatchFailure?: (error: unknown, items: number) => void;
}

/**
 * A commit's result for one item that failed on its own while the rest of the batch committed.
 * With `retry`, the failure was a neighbour's fault (say, the item shared a key with a bad
 * item): the item is committed once more, on its own, and fails only if that fails too.
 */
export class ItemFailure {
  constructor(
    readonly error: unknown,
    readonly retry = false,
  ) {}
}

interface Pending<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
  /** Already sent back once by an `ItemFailure` with `retry`. */
  retried?: boolean;
}

type Batch<Item, Result> = Pending<Item, Result>[];

export class GroupCommit<Item, Result> {
  private queue: Batch<Item, Result> = [];
  /** Halves of failed batches waiting for a retry slot; the newest first, so a bisection runs to its end before the next starts. */
  private retries: Batch<Item, Result>[] = [];
  private inFlight = 0;
  private retriesInFlight = 0;
  private readonly maxRetriesInFlight: number;

  constructor(private readonly options: GroupCommitOptions<Item, Result>) {
    this.maxRetriesInFlight = options.maxRetriesInFlight ?? Math.max(2, options.maxInFlight);
  }

  submit(item: Item): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    while (this.retriesInFlight < this.maxRetriesInFlight && this.retries.length > 0) {
      this.retriesInFlight += 1;
      void this.run(this.retries.shift() as Batch<Item, Result>).finally(() => {
        this.retriesInFlight -= 1;
        this.next();
      });
    }
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      this.inFlight += 1;
      void this.run(this.takeBatch()).finally(() => {
        this.inFlight -= 1;
        this.next();
      });
    }
  }

  private takeBatch(): Batch<Item, Result> {
    const sizeOf = this.options.sizeOf ?? (() => 1);
    const batch: Batch<Item, Result> = [];
    let size = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as Pending<Item, Result>;
      const nextSize = sizeOf(next.item);
      if (batch.length > 0 && size + nextSize > this.options.maxSize) break;
      batch.push(next);
      this.queue.shift();
      size += nextSize;
    }
    return batch;
  }

  /** Two halves of a failed batch: between owners (the boundary nearest the middle) when there are several. */
  private halve(batch: Batch<Item, Result>): [Batch<Item, Result>, Batch<Item, Result>] {
    const { groupOf } = this.options;
    const half = Math.ceil(batch.length / 2);
    if (!groupOf) return [batch.slice(0, half), batch.slice(half)];
    const byGroup = new Map<string, Batch<Item, Result>>();
    for (const pending of batch) {
      const key = groupOf(pending.item);
      const group = byGroup.get(key);
      if (group) group.push(pending);
      else byGroup.set(key, [pending]);
    }
    if (byGroup.size < 2) return [batch.slice(0, half), batch.slice(half)];
    const ordered = [...byGroup.values()].flat();
    let cut = 0;
    let best = 0;
    for (const group of [...byGroup.values()].slice(0, -1)) {
      cut += group.length;
      if (best === 0 || Math.abs(cut - half) < Math.abs(best - half)) best = cut;
    }
    return [ordered.slice(0, best), ordered.slice(best)];
  }

  /** Commits one batch and settles its callers; never rejects. */
  private async run(batch: Batch<Item, Result>): Promise<void> {
    let results: (Result | ItemFailure)[];
    try {
      results = await this.options.commit(batch.map((pending) => pending.item));
    } catch (error) {
      if (batch.length === 1) {
        (batch[0] as Pending<Item, Result>).reject(error);
        return;
      }
      this.options.onBatchFailure?.(error, batch.length);
      this.retries.unshift(...this.halve(batch));
      return;
    }
    batch.forEach((pending, i) => {
      const result = results[i] as Result | ItemFailure;
      if (!(result instanceof ItemFailure)) pending.resolve(result);
      else if (result.retry && !pending.retried && batch.length > 1) this.retries.unshift([{ ...pending, retried: true }]);
      else pending.reject(result.error);
    });
  }
}
