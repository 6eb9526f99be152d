import { describe, expect, it } from 'vitest';
import { SeqTracker } from '../../src/client/seq-tracker.js';

describe('SeqTracker', () => {
  it('asks for a sync until it knows where the user stands', () => {
    const tracker = new SeqTracker();
    expect(tracker.judge(1)).toBe('gap');
    tracker.reset(0);
    expect(tracker.judge(1)).toBe('deliver');
  });

  it('delivers the next seq, drops seen ones and flags holes', () => {
    const tracker = new SeqTracker(4);
    expect(tracker.judge(4)).toBe('duplicate');
    expect(tracker.judge(2)).toBe('duplicate');
    expect(tracker.judge(6)).toBe('gap');
    expect(tracker.judge(5)).toBe('deliver');
    tracker.advance(5);
    expect(tracker.lastSeq).toBe(5);
    expect(tracker.judge(6)).toBe('deliver');
  });

  it('refuses to record anything but the next seq', () => {
    const tracker = new SeqTracker(1);
    expect(() => tracker.advance(3)).toThrow(/does not follow 1/);
    expect(() => tracker.advance(1)).toThrow();
  });
});
