/**
 * Group commit: items submitted while commits are in flight are gathered into the next one, so
 * under load many items share one transaction (and its round trips) while a lone item still goes
 * at once. Each caller resolves with its own result only after the commit that holds its item.
 * When a commit of several items fails, each is retried alone, so one bad item cannot fail its
 * neighbours; a lone item's failure is its caller's.
 */
export interface GroupCommitOptions<Item, Result> {
  /** Commits a batch; returns one result per item, in order. */
  commit: (items: Item[]) => Promise<Result[]>;
  /** How much of the batch budget an item takes (default 1). */
  sizeOf?: (item: Item) => number;
  /** The batch budget: a batch is closed before an item that would exceed it (a lone item always goes). */
  maxSize: number;
  /** Commits that may overlap: one batch fills while the previous one waits on the server. */
  maxInFlight: number;
  /** Told when a batch failed and its items are retried one by one. */
  onBatchFailure?: (error: unknown, items: number) => void;
}

interface Pending<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<Item, Result> {
  private queue: Pending<Item, Result>[] = [];
  private inFlight = 0;

  constructor(private readonly options: GroupCommitOptions<Item, Result>) {}

  submit(item: Item): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.inFlight >= this.options.maxInFlight || this.queue.length === 0) return;
    this.inFlight += 1;
    void this.run(this.takeBatch()).finally(() => {
      this.inFlight -= 1;
      this.next();
    });
  }

  private takeBatch(): Pending<Item, Result>[] {
    const sizeOf = this.options.sizeOf ?? (() => 1);
    const batch: Pending<Item, Result>[] = [];
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

  private async run(batch: Pending<Item, Result>[]): Promise<void> {
    try {
      const results = await this.options.commit(batch.map((pending) => pending.item));
      batch.forEach((pending, i) => pending.resolve(results[i] as Result));
    } catch (error) {
      if (batch.length === 1) {
        (batch[0] as Pending<Item, Result>).reject(error);
        return;
      }
      this.options.onBatchFailure?.(error, batch.length);
      for (const pending of batch) await this.run([pending]);
    }
  }
}
