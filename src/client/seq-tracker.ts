/**
 * The client's view of a user's update sequence. Updates carry `seq` increasing by exactly one;
 * the tracker says whether one is next (deliver), already seen (drop), or leaves a hole (sync).
 */
export type SeqVerdict = 'deliver' | 'duplicate' | 'gap';

export class SeqTracker {
  constructor(private last: number | undefined = undefined) {}

  /** The last delivered seq; undefined until the first sync told us where the user stands. */
  get lastSeq(): number | undefined {
    return this.last;
  }

  judge(seq: number): SeqVerdict {
    if (this.last === undefined) return 'gap';
    if (seq <= this.last) return 'duplicate';
    return seq === this.last + 1 ? 'deliver' : 'gap';
  }

  /** Records a delivered update; only the next seq may be recorded. */
  advance(seq: number): void {
    if (this.judge(seq) !== 'deliver') throw new Error(`seq ${seq} does not follow ${this.last}`);
    this.last = seq;
  }

  /** Jumps to a seq learned from sync or a snapshot. */
  reset(seq: number): void {
    this.last = seq;
  }
}
